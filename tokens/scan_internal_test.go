package tokens

import (
	"strings"
	"testing"
)

func TestScanJSONDepth(t *testing.T) {
	any := &schema{}
	any.elem = any
	for _, tc := range []struct {
		name  string
		depth int
		ok    bool
	}{
		{"depth-1", 1, true},
		{"depth-32", 32, true},
		{"depth-33", 33, false},
		{"depth-1000", 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth)
			if err := scanJSON([]byte(doc), any); (err == nil) != tc.ok {
				t.Fatalf("scanJSON depth %d: %v", tc.depth, err)
			}
		})
	}
}

func TestOrientExact(t *testing.T) {
	// Collinear points whose float determinant is inexact.
	a, b := pt{0.1, 0.1}, pt{0.3, 0.3}
	c := pt{0.7, 0.7}
	// 0.1, 0.3, 0.7 are not exactly collinear as binary floats; whatever the
	// exact answer is, orient must agree with big.Rat.
	if got, want := orient(a, b, c), orientRat(ratPt(a), ratPt(b), ratPt(c)); got != want {
		t.Fatalf("orient %d, exact %d", got, want)
	}
	if orient(pt{0, 0}, pt{1, 1}, pt{2, 2}) != 0 {
		t.Fatal("exactly collinear points not 0")
	}
}
