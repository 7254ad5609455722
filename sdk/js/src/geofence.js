// Geofence polygons (docs/protocol.md §3, §3.2), decided exactly like the
// gateway (tokens/geofence.go). Every coordinate is converted to an exact
// BigInt in units of 2^-1075 (every float64 is an integer multiple of
// 2^-1074, so midpoints of two coordinates are exact too), and every
// predicate is evaluated in integer arithmetic: identical polygons, shared
// edges and vertices on edges are decided without rounding.

const SHIFT = 1075n;

/** Exact value of a finite double, times 2^1075, as a BigInt. */
function exact(x) {
  if (x === 0) return 0n;
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const hi = dv.getUint32(0), lo = dv.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const e = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp;
  if (e === 0) exp = -1074n; // subnormal
  else { m |= 1n << 52n; exp = BigInt(e) - 1075n; }
  return sign * (m << (exp + SHIFT)); // exp + 1075 ≥ 1
}

const big = (p) => [exact(p[0]), exact(p[1])];
const eq = (a, b) => a[0] === b[0] && a[1] === b[1];
const sgn = (v) => (v > 0n ? 1 : v < 0n ? -1 : 0);
const min = (a, b) => (a < b ? a : b);
const max = (a, b) => (a > b ? a : b);

function orient(a, b, c) {
  return sgn((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]));
}
function between(a, b, c) {
  return min(a[0], b[0]) <= c[0] && c[0] <= max(a[0], b[0]) && min(a[1], b[1]) <= c[1] && c[1] <= max(a[1], b[1]);
}
const onSegment = (a, b, c) => between(a, b, c) && orient(a, b, c) === 0;
function properCross(a, b, c, d) {
  return orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0;
}
function segmentsTouch(a, b, c, d) {
  const o1 = orient(a, b, c), o2 = orient(a, b, d), o3 = orient(c, d, a), o4 = orient(c, d, b);
  if (o1 * o2 < 0 && o3 * o4 < 0) return true;
  return (o1 === 0 && between(a, b, c)) || (o2 === 0 && between(a, b, d)) || (o3 === 0 && between(c, d, a)) || (o4 === 0 && between(c, d, b));
}
function bboxDisjoint(a, b, c, d) {
  return max(a[0], b[0]) < min(c[0], d[0]) || max(c[0], d[0]) < min(a[0], b[0]) ||
    max(a[1], b[1]) < min(c[1], d[1]) || max(c[1], d[1]) < min(a[1], b[1]);
}

/**
 * polygonError says why poly is not a valid geofence polygon (3..256
 * finite vertices within ±1e12 m, a simple polygon of non-zero area), or
 * returns null.
 * @param {unknown} poly
 */
export function polygonError(poly) {
  if (!Array.isArray(poly) || poly.length < 3 || poly.length > 256) return "polygon must have 3..256 vertices";
  for (const p of poly) {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === "number" && Number.isFinite(v))) return "a vertex is not two finite numbers";
    if (Math.abs(p[0]) > 1e12 || Math.abs(p[1]) > 1e12) return "coordinate beyond ±1e12 m";
  }
  const P = poly.map(big), n = P.length;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (eq(P[i], P[j])) return "repeated vertex";
  for (let i = 0; i < n; i++) {
    const a = P[i], b = P[(i + 1) % n], c = P[(i + 2) % n];
    if (orient(a, b, c) === 0 && (between(a, b, c) || between(b, c, a))) return "adjacent edges overlap";
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue;
      const c2 = P[j], d2 = P[(j + 1) % n];
      if (!bboxDisjoint(a, b, c2, d2) && segmentsTouch(a, b, c2, d2)) return "edges intersect (not a simple polygon)";
    }
  }
  let area = 0n;
  for (let i = 0; i < n; i++) { const a = P[i], b = P[(i + 1) % n]; area += a[0] * b[1] - a[1] * b[0]; }
  if (area === 0n) return "zero area";
  return null;
}

// inside: +1 strictly inside, 0 on the boundary, -1 outside (winding number).
function inside(poly, p) {
  const n = poly.length;
  let wn = 0;
  for (let i = 0; i < n; i++) {
    const a = poly[i], b = poly[(i + 1) % n];
    const o = orient(a, b, p);
    if (o === 0 && between(a, b, p)) return 0;
    if (a[1] <= p[1]) { if (b[1] > p[1] && o > 0) wn++; } else if (b[1] <= p[1] && o < 0) wn--;
  }
  return wn !== 0 ? 1 : -1;
}

function onParentEdge(parent, s, e) {
  const m = parent.length;
  for (let j = 0; j < m; j++) {
    const p = parent[j], q = parent[(j + 1) % m];
    if (onSegment(p, q, s) && onSegment(p, q, e)) return true;
  }
  return false;
}

/**
 * polygonContains reports whether the closed region of the child polygon
 * lies within the parent's (boundary included; concave parents handled).
 * Both must be valid (polygonError null).
 * @param {number[][]} parentPoly @param {number[][]} childPoly
 */
export function polygonContains(parentPoly, childPoly) {
  const parent = parentPoly.map(big), child = childPoly.map(big);
  for (const v of child) if (inside(parent, v) < 0) return false;
  const n = child.length, m = parent.length;
  for (let i = 0; i < n; i++) {
    const a = child[i], b = child[(i + 1) % n];
    for (let j = 0; j < m; j++) {
      const c = parent[j], d = parent[(j + 1) % m];
      if (!bboxDisjoint(a, b, c, d) && properCross(a, b, c, d)) return false;
    }
    const pts = [a, b];
    for (const v of parent) if (!eq(v, a) && !eq(v, b) && onSegment(a, b, v)) pts.push(v);
    if (pts.length > 2) {
      const axis = a[0] !== b[0] ? 0 : 1, dir = a[axis] < b[axis] ? 1 : -1;
      pts.sort((x, y) => (x[axis] < y[axis] ? -dir : x[axis] > y[axis] ? dir : 0));
    }
    for (let k = 0; k + 1 < pts.length; k++) {
      const s = pts[k], e = pts[k + 1];
      if (onParentEdge(parent, s, e)) continue;
      const mid = [(s[0] + e[0]) / 2n, (s[1] + e[1]) / 2n]; // exact: coordinates are even
      if (inside(parent, mid) < 0) return false;
    }
  }
  return true;
}
