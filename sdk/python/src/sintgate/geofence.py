"""Exact geofence geometry: polygon validity and boundary-inclusive containment.

The predicates match the gateway's tokens/geofence.go: a float orientation
test with Shewchuk's error bound, falling back to exact rational arithmetic
(fractions.Fraction of the float64 values) when its sign is uncertain, so an
identical polygon, a shared edge or a vertex on an edge is decided exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

__all__ = ["validate_polygon", "polygon_contains"]

_EPS = 1.1102230246251565e-16  # 2**-53
_CCW = (3 + 16 * _EPS) * _EPS


def _orient(a, b, c) -> int:
    if a == b or a == c or b == c:
        return 0
    l = (b[0] - a[0]) * (c[1] - a[1])
    r = (b[1] - a[1]) * (c[0] - a[0])
    det = l - r
    bound = _CCW * (abs(l) + abs(r))
    if not math.isinf(det):
        if det > bound:
            return 1
        if -det > bound:
            return -1
    return _orient_exact(*(tuple(Fraction(v) for v in p) for p in (a, b, c)))


def _orient_exact(a, b, c) -> int:
    l = (b[0] - a[0]) * (c[1] - a[1])
    r = (b[1] - a[1]) * (c[0] - a[0])
    return (l > r) - (l < r)


def _between(a, b, c) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])


def _on_segment(a, b, c) -> bool:
    return _between(a, b, c) and _orient(a, b, c) == 0


def _proper_cross(a, b, c, d) -> bool:
    return _orient(a, b, c) * _orient(a, b, d) < 0 and _orient(c, d, a) * _orient(c, d, b) < 0


def _touch(a, b, c, d) -> bool:
    o1, o2, o3, o4 = _orient(a, b, c), _orient(a, b, d), _orient(c, d, a), _orient(c, d, b)
    if o1 * o2 < 0 and o3 * o4 < 0:
        return True
    return (o1 == 0 and _between(a, b, c) or o2 == 0 and _between(a, b, d)
            or o3 == 0 and _between(c, d, a) or o4 == 0 and _between(c, d, b))


def _bbox_disjoint(a, b, c, d) -> bool:
    return (max(a[0], b[0]) < min(c[0], d[0]) or max(c[0], d[0]) < min(a[0], b[0])
            or max(a[1], b[1]) < min(c[1], d[1]) or max(c[1], d[1]) < min(a[1], b[1]))


def validate_polygon(poly) -> str | None:
    """None if poly is a simple polygon the gateway accepts, else why not."""
    pts = []
    for p in poly:
        if not isinstance(p, (list, tuple)) or len(p) != 2:
            return "a vertex is not [x, y]"
        x, y = p
        if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            return "a coordinate is not a number"
        x, y = float(x), float(y)
        if not (math.isfinite(x) and math.isfinite(y)):
            return "non-finite coordinate"
        if abs(x) > 1e12 or abs(y) > 1e12:
            return "coordinate beyond ±1e12 m"
        pts.append((x, y))
    n = len(pts)
    if len(set(pts)) != n:
        return "repeated vertex"
    for i in range(n):
        a, b, c = pts[i], pts[(i + 1) % n], pts[(i + 2) % n]
        if _orient(a, b, c) == 0 and (_between(a, b, c) or _between(b, c, a)):
            return "adjacent edges overlap"
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            c2, d2 = pts[j], pts[(j + 1) % n]
            if not _bbox_disjoint(a, b, c2, d2) and _touch(a, b, c2, d2):
                return "edges intersect (not a simple polygon)"
    area = 0.0
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        area += a[0] * b[1] - a[1] * b[0]
    if area == 0:
        return "zero area"
    return None


def _inside(poly, p) -> int:
    """+1 strictly inside, 0 on the boundary, -1 outside (winding number, exact).
    p may hold Fractions (a midpoint); comparisons stay exact."""
    wn = 0
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if isinstance(p[0], Fraction) or isinstance(p[1], Fraction):
            o = _orient_exact(tuple(map(Fraction, a)), tuple(map(Fraction, b)), p)
        else:
            o = _orient(a, b, p)
        if o == 0 and _between(a, b, p):
            return 0
        if a[1] <= p[1]:
            if b[1] > p[1] and o > 0:
                wn += 1
        elif b[1] <= p[1] and o < 0:
            wn -= 1
    return 1 if wn != 0 else -1


def _on_parent_edge(parent, s, e) -> bool:
    m = len(parent)
    return any(_on_segment(parent[j], parent[(j + 1) % m], s) and _on_segment(parent[j], parent[(j + 1) % m], e)
               for j in range(m))


def polygon_contains(parent, child) -> bool:
    """Whether the closed region of child lies within the closed region of
    parent (boundary-inclusive: an identical polygon is contained). Both must
    be valid polygons."""
    parent = [(float(x), float(y)) for x, y in parent]
    child = [(float(x), float(y)) for x, y in child]
    if any(_inside(parent, v) < 0 for v in child):
        return False
    n, m = len(child), len(parent)
    for i in range(n):
        a, b = child[i], child[(i + 1) % n]
        for j in range(m):
            c, d = parent[j], parent[(j + 1) % m]
            if not _bbox_disjoint(a, b, c, d) and _proper_cross(a, b, c, d):
                return False
        # Split ab at the parent vertices lying on it; each piece either lies
        # on a parent edge or has its midpoint strictly inside or outside.
        pts = [a, b] + [v for v in parent if v != a and v != b and _between(a, b, v) and _orient(a, b, v) == 0]
        if a[0] != b[0]:
            pts.sort(key=lambda p: p[0], reverse=a[0] > b[0])
        else:
            pts.sort(key=lambda p: p[1], reverse=a[1] > b[1])
        for k in range(len(pts) - 1):
            s, e = pts[k], pts[k + 1]
            if _on_parent_edge(parent, s, e):
                continue
            mid = ((Fraction(s[0]) + Fraction(e[0])) / 2, (Fraction(s[1]) + Fraction(e[1])) / 2)
            if _inside(parent, mid) < 0:
                return False
    return True
