// Resources and resource patterns (docs/protocol.md §2), as the gateway's
// tokens package decides them: `*` matches any run without '/', `**` any
// run; everything else is literal. Containment is exact (inclusion of the
// two patterns' languages), decided on the product of the patterns' subset
// automata, bounded like the gateway's (beyond the bound: not contained).

export const MAX_RESOURCE_BYTES = 512;
const MAX_CONTAIN_STATES = 1 << 16;

// The resource alphabet: RFC 3986's printable characters except '*'.
const RESOURCE_CHAR = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()+,;=%]$/;
const isResourceChar = (c) => RESOURCE_CHAR.test(c);

/** @param {string} p @returns {string|null} why p is not a valid pattern, or null */
export function patternError(p) {
  if (typeof p !== "string" || p === "") return "empty pattern";
  if (p.length > MAX_RESOURCE_BYTES) return "pattern longer than 512 bytes";
  let stars = 0;
  for (const c of p) {
    if (c === "*") {
      if (++stars > 2) return "pattern has a run of more than two '*'";
      continue;
    }
    stars = 0;
    if (!isResourceChar(c)) return "pattern has a character outside the resource alphabet";
  }
  return null;
}

/** @param {string} r @returns {string|null} why r is not a resource in normal form, or null */
export function resourceError(r) {
  if (typeof r !== "string" || r === "") return "empty resource";
  if (r.length > MAX_RESOURCE_BYTES) return "resource longer than 512 bytes";
  for (const c of r) if (!isResourceChar(c)) return "resource has a character outside the resource alphabet";
  const colon = r.indexOf(":");
  if (colon < 1) return "resource has no scheme";
  if (!/^[a-z][a-z0-9+.-]*$/.test(r.slice(0, colon))) return "resource scheme is not lowercase [a-z][a-z0-9+.-]*";
  let rest = r.slice(colon + 1);
  const dot = (s) => s === "." || s === "..";
  if (rest.startsWith("//")) {
    rest = rest.slice(2);
    const slash = rest.indexOf("/");
    if (slash < 0) {
      if (rest === "") return "resource has nothing after the scheme's //";
      if (dot(rest)) return "resource has a dot segment";
    } else {
      if (dot(rest.slice(0, slash))) return "resource has a dot segment";
      for (const seg of rest.slice(slash + 1).split("/")) {
        if (seg === "") return "resource has an empty path segment";
        if (dot(seg)) return "resource has a dot segment";
      }
    }
  } else {
    if (rest === "") return "resource has nothing after the scheme";
    for (const seg of rest.split("/")) if (dot(seg)) return "resource has a dot segment";
  }
  for (let i = 0; i < r.length; i++) {
    if (r[i] !== "%") continue;
    const h = r.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(h)) return "resource has a '%' not followed by two uppercase hex digits";
    const c = String.fromCharCode(parseInt(h, 16));
    if (/^[A-Za-z0-9\-._~]$/.test(c)) return "resource percent-encodes an unreserved character";
  }
  return null;
}

const STAR = -1, DSTAR = -2;

function tokenize(p) {
  const out = [];
  for (let i = 0; i < p.length; i++) {
    if (p[i] === "*") {
      if (p[i + 1] === "*") { out.push(DSTAR); i++; } else out.push(STAR);
    } else out.push(p.charCodeAt(i));
  }
  return out;
}

/**
 * match reports whether pattern matches resource exactly.
 * @param {string} pattern @param {string} resource
 */
export function match(pattern, resource) {
  const toks = tokenize(pattern);
  const n = resource.length;
  let cur = new Array(n + 1).fill(false);
  cur[0] = true;
  for (const t of toks) {
    const next = new Array(n + 1).fill(false);
    if (t === STAR || t === DSTAR) {
      next[0] = cur[0];
      for (let j = 1; j <= n; j++) next[j] = cur[j] || (next[j - 1] && (t === DSTAR || resource[j - 1] !== "/"));
    } else {
      for (let j = 1; j <= n; j++) next[j] = cur[j - 1] && resource.charCodeAt(j - 1) === t;
    }
    cur = next;
  }
  return cur[n];
}

function closure(toks, set) {
  for (let i = 0; i < toks.length; i++) if (set.has(i) && toks[i] < 0) set.add(i + 1);
  return set;
}

function step(toks, set, x) {
  const out = new Set();
  for (const i of set) {
    if (i >= toks.length) continue;
    const t = toks[i];
    if (t === DSTAR) out.add(i);
    else if (t === STAR) { if (x !== 0x2f) out.add(i); }
    else if (t === x) out.add(i + 1);
  }
  // closure must see positions in ascending order (a wildcard run)
  return closure(toks, new Set([...out].sort((a, b) => a - b)));
}

const key = (s) => [...s].sort((a, b) => a - b).join(",");

/**
 * contains reports whether every resource the child pattern matches is
 * matched by the parent pattern (docs/protocol.md §2), exactly.
 * @param {string} parent @param {string} child
 */
export function contains(parent, child) {
  if (patternError(parent) || patternError(child)) return false;
  if (!parent.includes("*")) return parent === child;
  if (parent === child) return true;
  const star = parent.indexOf("*");
  if (star === parent.length - 2 && parent[star + 1] === "*") {
    const i = child.indexOf("*");
    return (i >= 0 ? child.slice(0, i) : child).startsWith(parent.slice(0, star));
  }
  const P = tokenize(parent), C = tokenize(child);
  const alpha = [...new Set([...P, ...C].filter((t) => t >= 0))];
  if (!alpha.includes(0x2f)) alpha.push(0x2f);
  alpha.push(-3); // any character neither pattern names
  const start = { c: closure(C, new Set([0])), p: closure(P, new Set([0])) };
  const seen = new Set([key(start.c) + "|" + key(start.p)]);
  const queue = [start];
  while (queue.length) {
    const s = queue.shift();
    if (s.c.has(C.length) && !s.p.has(P.length)) return false;
    for (const x of alpha) {
      const nc = step(C, s.c, x);
      if (nc.size === 0) continue;
      const ns = { c: nc, p: step(P, s.p, x) };
      const k = key(ns.c) + "|" + key(ns.p);
      if (seen.has(k)) continue;
      if (seen.size >= MAX_CONTAIN_STATES) return false;
      seen.add(k);
      queue.push(ns);
    }
  }
  return true;
}

/** @param {string} a */
export const validAction = (a) => typeof a === "string" && /^[a-z0-9._-]{1,64}$/.test(a);
