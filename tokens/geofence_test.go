package tokens_test

import (
	"math"
	"testing"

	"github.com/sintgate/sintgate/tokens"
)

func circlePoly(n int, cx, cy, r float64) [][2]float64 {
	out := make([][2]float64, n)
	for i := range out {
		a := 2 * math.Pi * float64(i) / float64(n)
		out[i] = [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	return out
}

type polyCase struct {
	name          string
	parent, child [][2]float64
	want          bool
}

// A U-shaped (concave) parent: a 3×3 square with the notch (1..2) × (1..3) cut out.
var uShape = [][2]float64{{0, 0}, {3, 0}, {3, 3}, {2, 3}, {2, 1}, {1, 1}, {1, 3}, {0, 3}}

func polyCases() []polyCase {
	sq := func(x0, y0, x1, y1 float64) [][2]float64 { return [][2]float64{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} }
	return []polyCase{
		{"identical-square", sq(0, 0, 1, 1), sq(0, 0, 1, 1), true},
		{"identical-square-rotated-start", sq(0, 0, 1, 1), [][2]float64{{1, 0}, {1, 1}, {0, 1}, {0, 0}}, true},
		{"identical-reversed-orientation", sq(0, 0, 1, 1), [][2]float64{{0, 0}, {0, 1}, {1, 1}, {1, 0}}, true},
		{"inner-square", sq(0, 0, 4, 4), sq(1, 1, 2, 2), true},
		{"sharing-an-edge", sq(0, 0, 4, 4), sq(0, 0, 2, 2), true},
		{"vertex-outside", sq(0, 0, 4, 4), sq(1, 1, 5, 2), false},
		{"larger", sq(0, 0, 1, 1), sq(-1, -1, 2, 2), false},
		{"disjoint", sq(0, 0, 1, 1), sq(5, 5, 6, 6), false},
		{"identical-concave", uShape, uShape, true},
		{"concave/left-arm", uShape, sq(0, 0, 1, 3), true},
		{"concave/bottom-bar", uShape, sq(0, 0, 3, 1), true},
		// All vertices inside the U, but the top edge spans the notch.
		{"concave/bridge-over-notch", uShape, [][2]float64{{0.5, 0.5}, {2.5, 0.5}, {2.5, 2.5}, {0.5, 2.5}}, false},
		// Vertices on the notch corners: the edge (1,1)-(2,1) lies on the boundary, contained.
		{"concave/touching-notch-floor", uShape, [][2]float64{{0.5, 0.5}, {2.5, 0.5}, {2, 1}, {1, 1}}, true},
		// An edge from arm top to arm top passing exactly through both notch top corners: outside
		// along the notch opening, with no proper crossing anywhere.
		{"concave/edge-through-reflex-vertices", uShape, [][2]float64{{0, 0}, {3, 0}, {3, 3}, {0, 3}}, false},
		{"concave/triangle-through-notch-corners", uShape, [][2]float64{{0, 3}, {3, 3}, {1.5, 0.5}}, false},
		{"circle-256-identical", circlePoly(256, 0, 0, 10), circlePoly(256, 0, 0, 10), true},
		{"circle-256-smaller", circlePoly(256, 0, 0, 10), circlePoly(256, 0, 0, 9), true},
		{"circle-256-shifted", circlePoly(256, 0, 0, 10), circlePoly(256, 0.5, 0, 10), false},
	}
}

func TestPolygonContains(t *testing.T) {
	for _, tc := range polyCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := tokens.PolygonContains(tc.parent, tc.child); got != tc.want {
				t.Fatalf("PolygonContains = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPolygonContainsSampled cross-checks PolygonContains with point sampling
// on random small polygons: when contained, every sampled child point is in
// the parent (sampling cannot prove containment, but it refutes it).
func TestPolygonContainsGridProperty(t *testing.T) {
	// Children on a coarse integer grid inside the U shape.
	pts := [][2]float64{}
	for x := 0.0; x <= 3; x += 0.5 {
		for y := 0.0; y <= 3; y += 0.5 {
			pts = append(pts, [2]float64{x, y})
		}
	}
	n, combo := 0, 0
	for i := range pts {
		for j := range pts {
			for k := range pts {
				if !(i < j && j < k) {
					continue
				}
				if combo++; combo%3 != 0 {
					continue // a deterministic third of the ~18k triangles keeps -race runs short
				}
				tri := [][2]float64{pts[i], pts[j], pts[k]}
				a := (tri[1][0]-tri[0][0])*(tri[2][1]-tri[0][1]) - (tri[1][1]-tri[0][1])*(tri[2][0]-tri[0][0])
				if a == 0 {
					continue
				}
				got := tokens.PolygonContains(uShape, tri)
				want := sampledInside(uShape, tri)
				if got != want {
					t.Fatalf("triangle %v: PolygonContains %v, sampled %v", tri, got, want)
				}
				n++
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d triangles checked", n)
	}
}

// sampledInside: every point of a fine barycentric grid of the triangle lies
// in the closed U shape. The U's edges are on the 0.5 grid, and so are the
// triangle's vertices, so a 1/16 sampling decides these cases.
func sampledInside(poly, tri [][2]float64) bool {
	const N = 16
	for i := 0; i <= N; i++ {
		for j := 0; i+j <= N; j++ {
			a, b := float64(i)/N, float64(j)/N
			c := 1 - a - b
			p := [2]float64{a*tri[0][0] + b*tri[1][0] + c*tri[2][0], a*tri[0][1] + b*tri[1][1] + c*tri[2][1]}
			if !inClosedU(p) {
				return false
			}
		}
	}
	return true
}

func inClosedU(p [2]float64) bool {
	const e = 1e-9
	if p[0] < -e || p[0] > 3+e || p[1] < -e || p[1] > 3+e {
		return false
	}
	// The open notch (1,2)×(1,3] is outside.
	return !(p[0] > 1+e && p[0] < 2-e && p[1] > 1+e)
}
