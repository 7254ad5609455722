package tokens

import (
	"errors"
	"math"
	"math/big"
	"sort"
)

// Geometry for geofence polygons. All predicates are exact: a float64
// orientation test with Shewchuk's error bound falls back to big.Rat
// arithmetic when the sign is uncertain, so boundary cases (identical
// polygons, shared edges, vertices on edges) are decided correctly.

type pt = [2]float64

// ccwErrBound is Shewchuk's ccwerrboundA for float64.
var ccwErrBound = (3 + 16*epsilon) * epsilon

const epsilon = 1.1102230246251565e-16 // 2^-53

// orient returns the sign of the cross product (b-a)×(c-a): +1 if a, b, c turn
// counter-clockwise, -1 clockwise, 0 collinear.
func orient(a, b, c pt) int {
	if a == b || a == c || b == c {
		return 0
	}
	l := (b[0] - a[0]) * (c[1] - a[1])
	r := (b[1] - a[1]) * (c[0] - a[0])
	det := l - r
	bound := ccwErrBound * (math.Abs(l) + math.Abs(r))
	if det > bound && !math.IsInf(det, 0) {
		return 1
	}
	if -det > bound && !math.IsInf(det, 0) {
		return -1
	}
	return orientRat(ratPt(a), ratPt(b), ratPt(c))
}

type rpt [2]*big.Rat

func ratPt(p pt) rpt { return rpt{new(big.Rat).SetFloat64(p[0]), new(big.Rat).SetFloat64(p[1])} }

func orientRat(a, b, c rpt) int {
	bx := new(big.Rat).Sub(b[0], a[0])
	by := new(big.Rat).Sub(b[1], a[1])
	cx := new(big.Rat).Sub(c[0], a[0])
	cy := new(big.Rat).Sub(c[1], a[1])
	l := bx.Mul(bx, cy)
	r := by.Mul(by, cx)
	return l.Cmp(r)
}

// between reports whether c, known to be collinear with a and b, lies on the
// closed segment ab. Coordinate comparisons are exact.
func between(a, b, c pt) bool {
	return math.Min(a[0], b[0]) <= c[0] && c[0] <= math.Max(a[0], b[0]) &&
		math.Min(a[1], b[1]) <= c[1] && c[1] <= math.Max(a[1], b[1])
}

func onSegment(a, b, c pt) bool { return between(a, b, c) && orient(a, b, c) == 0 }

// properCross reports whether the open segments ab and cd cross at a single
// point interior to both.
func properCross(a, b, c, d pt) bool {
	o1, o2 := orient(a, b, c), orient(a, b, d)
	o3, o4 := orient(c, d, a), orient(c, d, b)
	return o1*o2 < 0 && o3*o4 < 0
}

// segmentsTouch reports whether the closed segments ab and cd share a point.
func segmentsTouch(a, b, c, d pt) bool {
	o1, o2 := orient(a, b, c), orient(a, b, d)
	o3, o4 := orient(c, d, a), orient(c, d, b)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return o1 == 0 && between(a, b, c) || o2 == 0 && between(a, b, d) ||
		o3 == 0 && between(c, d, a) || o4 == 0 && between(c, d, b)
}

// validPolygon checks that poly is a simple polygon: finite coordinates, no
// repeated vertex, no two non-adjacent edges touching, no adjacent edges
// folding back onto each other, and non-zero area.
func validPolygon(poly [][2]float64) error {
	n := len(poly)
	for _, p := range poly {
		if math.IsNaN(p[0]) || math.IsInf(p[0], 0) || math.IsNaN(p[1]) || math.IsInf(p[1], 0) {
			return errors.New("non-finite coordinate")
		}
		if math.Abs(p[0]) > 1e12 || math.Abs(p[1]) > 1e12 {
			return errors.New("coordinate beyond ±1e12 m")
		}
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if poly[i] == poly[j] {
				return errors.New("repeated vertex")
			}
		}
	}
	for i := 0; i < n; i++ {
		a, b := poly[i], poly[(i+1)%n]
		c := poly[(i+2)%n]
		// Adjacent edges ab, bc: they must share only b.
		if orient(a, b, c) == 0 && (between(a, b, c) || between(b, c, a)) {
			return errors.New("adjacent edges overlap")
		}
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent through the closing edge
			}
			if c, d := poly[j], poly[(j+1)%n]; !bboxDisjoint(a, b, c, d) && segmentsTouch(a, b, c, d) {
				return errors.New("edges intersect (not a simple polygon)")
			}
		}
	}
	area := 0.0
	for i := 0; i < n; i++ {
		a, b := poly[i], poly[(i+1)%n]
		area += a[0]*b[1] - a[1]*b[0]
	}
	if area == 0 {
		return errors.New("zero area")
	}
	return nil
}

// inside returns +1 if p is strictly inside poly, 0 if on its boundary, -1
// if outside (winding number; exact).
func inside(poly [][2]float64, p pt) int {
	n := len(poly)
	wn := 0
	for i := 0; i < n; i++ {
		a, b := poly[i], poly[(i+1)%n]
		o := orient(a, b, p)
		if o == 0 && between(a, b, p) {
			return 0
		}
		if a[1] <= p[1] {
			if b[1] > p[1] && o > 0 {
				wn++
			}
		} else if b[1] <= p[1] && o < 0 {
			wn--
		}
	}
	if wn != 0 {
		return 1
	}
	return -1
}

// insideMid is inside for the midpoint of s and e, which may not be
// representable in float64: predicates are evaluated on (s+e)/2 exactly,
// with a float filter and a big.Rat fallback.
func insideMid(poly [][2]float64, s, e pt) int {
	n := len(poly)
	wn := 0
	for i := 0; i < n; i++ {
		a, b := poly[i], poly[(i+1)%n]
		o := orientMid(a, b, s, e)
		if o == 0 && cmpMid(math.Min(a[0], b[0]), s[0], e[0]) <= 0 && cmpMid(math.Max(a[0], b[0]), s[0], e[0]) >= 0 &&
			cmpMid(math.Min(a[1], b[1]), s[1], e[1]) <= 0 && cmpMid(math.Max(a[1], b[1]), s[1], e[1]) >= 0 {
			return 0
		}
		if cmpMid(a[1], s[1], e[1]) <= 0 {
			if cmpMid(b[1], s[1], e[1]) > 0 && o > 0 {
				wn++
			}
		} else if cmpMid(b[1], s[1], e[1]) <= 0 && o < 0 {
			wn--
		}
	}
	if wn != 0 {
		return 1
	}
	return -1
}

// cmpMid returns the sign of v - (s+e)/2, exactly.
func cmpMid(v, s, e float64) int {
	d := 2*v - s - e
	bound := 4 * epsilon * (math.Abs(2*v) + math.Abs(s) + math.Abs(e))
	if d > bound {
		return 1
	}
	if -d > bound {
		return -1
	}
	h := new(big.Rat).Add(new(big.Rat).SetFloat64(s), new(big.Rat).SetFloat64(e))
	h.Mul(h, big.NewRat(1, 2))
	return new(big.Rat).SetFloat64(v).Cmp(h)
}

// orientMid is orient(a, b, (s+e)/2): the determinant is linear in the third
// point, so its sign is that of det(a,b,s) + det(a,b,e).
func orientMid(a, b, s, e pt) int {
	l1 := (b[0] - a[0]) * (s[1] - a[1])
	r1 := (b[1] - a[1]) * (s[0] - a[0])
	l2 := (b[0] - a[0]) * (e[1] - a[1])
	r2 := (b[1] - a[1]) * (e[0] - a[0])
	det := (l1 - r1) + (l2 - r2)
	bound := 2 * ccwErrBound * (math.Abs(l1) + math.Abs(r1) + math.Abs(l2) + math.Abs(r2))
	if det > bound && !math.IsInf(det, 0) {
		return 1
	}
	if -det > bound && !math.IsInf(det, 0) {
		return -1
	}
	half := big.NewRat(1, 2)
	mid := rpt{
		new(big.Rat).Mul(new(big.Rat).Add(new(big.Rat).SetFloat64(s[0]), new(big.Rat).SetFloat64(e[0])), half),
		new(big.Rat).Mul(new(big.Rat).Add(new(big.Rat).SetFloat64(s[1]), new(big.Rat).SetFloat64(e[1])), half),
	}
	return orientRat(ratPt(a), ratPt(b), mid)
}

// PolygonContains reports whether the closed region of the simple polygon
// child lies within the closed region of the simple polygon parent
// (boundary-inclusive: an identical polygon is contained). It handles
// concave parents: every child vertex must be inside or on the parent, no
// child edge may properly cross a parent edge, and every piece of a child
// edge between parent vertices lying on it must lie inside or on the parent.
// Both polygons must be valid (validPolygon).
func PolygonContains(parent, child [][2]float64) bool {
	for _, v := range child {
		if inside(parent, v) < 0 {
			return false
		}
	}
	n, m := len(child), len(parent)
	for i := 0; i < n; i++ {
		a, b := child[i], child[(i+1)%n]
		for j := 0; j < m; j++ {
			c, d := parent[j], parent[(j+1)%m]
			if bboxDisjoint(a, b, c, d) {
				continue
			}
			if properCross(a, b, c, d) {
				return false
			}
		}
		// Split ab at the parent vertices lying on it; each piece either lies
		// on a parent edge or has its midpoint strictly inside or outside.
		pts := []pt{a, b}
		for _, v := range parent {
			if v != a && v != b && between(a, b, v) && orient(a, b, v) == 0 {
				pts = append(pts, v)
			}
		}
		if len(pts) > 2 {
			sort.Slice(pts, func(x, y int) bool {
				switch {
				case a[0] < b[0]:
					return pts[x][0] < pts[y][0]
				case a[0] > b[0]:
					return pts[x][0] > pts[y][0]
				case a[1] < b[1]:
					return pts[x][1] < pts[y][1]
				default:
					return pts[x][1] > pts[y][1]
				}
			})
		}
		for k := 0; k+1 < len(pts); k++ {
			s, e := pts[k], pts[k+1]
			if onParentEdge(parent, s, e) {
				continue
			}
			if insideMid(parent, s, e) < 0 {
				return false
			}
		}
	}
	return true
}

// bboxDisjoint reports whether the bounding boxes of ab and cd do not meet
// (then the closed segments cannot share a point).
func bboxDisjoint(a, b, c, d pt) bool {
	return math.Max(a[0], b[0]) < math.Min(c[0], d[0]) || math.Max(c[0], d[0]) < math.Min(a[0], b[0]) ||
		math.Max(a[1], b[1]) < math.Min(c[1], d[1]) || math.Max(c[1], d[1]) < math.Min(a[1], b[1])
}

// onParentEdge reports whether segment se lies on one parent edge.
func onParentEdge(parent [][2]float64, s, e pt) bool {
	m := len(parent)
	for j := 0; j < m; j++ {
		p, q := parent[j], parent[(j+1)%m]
		if onSegment(p, q, s) && onSegment(p, q, e) {
			return true
		}
	}
	return false
}
