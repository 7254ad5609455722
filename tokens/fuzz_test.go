package tokens_test

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/tokens"
)

// FuzzParse: Parse never panics, accepts only what it can account for, and
// keeps the exact bytes.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases() {
		f.Add(tc.raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := tokens.Parse(raw)
		if err != nil {
			if tok != nil {
				t.Fatal("token returned with an error")
			}
			return
		}
		if tok.Raw != raw || len(raw) > tokens.MaxTokenBytes {
			t.Fatal("Raw is not the input")
		}
		again, err := tokens.Parse(raw)
		if err != nil || again.Claims.TokenID != tok.Claims.TokenID {
			t.Fatal("Parse is not deterministic")
		}
		if tokens.ValidPattern(tok.Claims.Resource) != nil || len(tok.Claims.Actions) == 0 {
			t.Fatal("accepted claims that break the schema")
		}
	})
}

// FuzzVerifyFlippedByte: changing any byte of a valid depth-2 token makes
// verification fail (and never panics).
func FuzzVerifyFlippedByte(f *testing.F) {
	fx := newFixture()
	leaf := fx.d2.Raw
	for _, pos := range []int{0, 10, 40, len(leaf) / 2, len(leaf) - 87, len(leaf) - 86, len(leaf) - 2, len(leaf) - 1} {
		f.Add(pos, byte(1))
		f.Add(pos, byte(0x80))
	}
	v := tokens.NewVerifier(64)
	if _, err := v.VerifyChain(now, leaf, nil, fx.roots, nil, fx.lookup, false); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pos int, x byte) {
		if x == 0 {
			return
		}
		if pos < 0 {
			pos = -(pos + 1)
		}
		b := []byte(leaf)
		b[pos%len(b)] ^= x
		if _, err := v.VerifyChain(now, string(b), nil, fx.roots, nil, fx.lookup, false); err == nil {
			t.Fatalf("flipped byte %d (^%#x) still verifies", pos%len(b), x)
		}
	})
}

// FuzzVerifyChain: arbitrary leaves and inline chains never panic, and a
// success always returns a consistent root-first chain.
func FuzzVerifyChain(f *testing.F) {
	fx := newFixture()
	for _, c := range chainCases(fx) {
		f.Add(c.leaf, strings.Join(c.inline, ","))
	}
	v := tokens.NewVerifier(64)
	f.Fuzz(func(t *testing.T, leaf, inline string) {
		var chain []string
		if inline != "" {
			chain = strings.Split(inline, ",")
		}
		out, err := v.VerifyChain(now, leaf, chain, fx.roots, nil, fx.lookup, false)
		if err != nil {
			return
		}
		if out[len(out)-1].Raw != leaf || out[0].Claims.ParentTokenID != nil || !fx.roots.IsTrustedRoot(out[0].Claims.Issuer) {
			t.Fatal("inconsistent chain accepted")
		}
		for i := 1; i < len(out); i++ {
			if tokens.CheckAttenuation(&out[i-1].Claims, &out[i].Claims) != nil {
				t.Fatal("widening chain accepted")
			}
		}
	})
}

// FuzzMatch compares Match with a regexp reference.
func FuzzMatch(f *testing.F) {
	for _, m := range matchCases() {
		f.Add(m.pattern, m.resource)
	}
	f.Fuzz(func(t *testing.T, pattern, resource string) {
		if tokens.ValidPattern(pattern) != nil || len(resource) > 600 {
			return
		}
		if got, want := tokens.Match(pattern, resource), refMatch(pattern, resource); got != want {
			t.Fatalf("Match(%q, %q) = %v, regexp says %v", pattern, resource, got, want)
		}
	})
}

// FuzzContains: never panics; reflexive; and when it says contained, the
// child's instances (wildcards expanded a few ways) all match the parent.
func FuzzContains(f *testing.F) {
	for _, c := range containsCases() {
		f.Add(c.parent, c.child)
	}
	star := regexp.MustCompile(`\*\*|\*`)
	f.Fuzz(func(t *testing.T, parent, child string) {
		if len(parent) > 64 || len(child) > 64 {
			return
		}
		got := tokens.Contains(parent, child)
		if tokens.ValidPattern(child) != nil || tokens.ValidPattern(parent) != nil {
			if got {
				t.Fatal("invalid pattern contained")
			}
			return
		}
		if !tokens.Contains(child, child) {
			t.Fatal("not reflexive")
		}
		if !got {
			return
		}
		for _, fill := range [][2]string{{"", ""}, {"x", "x/y"}, {"ab", "/"}, {"/", "a/b/"}} {
			fill := fill
			inst := star.ReplaceAllStringFunc(child, func(s string) string {
				if s == "**" {
					return fill[1]
				}
				return strings.ReplaceAll(fill[0], "/", "")
			})
			if tokens.Match(child, inst) && !tokens.Match(parent, inst) {
				t.Fatalf("Contains(%q, %q) but %q matches only the child", parent, child, inst)
			}
		}
	})
}

// FuzzPolygonContains: never panics on valid polygons; a polygon contains
// itself; a contained child's vertices are all inside-or-on the parent.
func FuzzPolygonContains(f *testing.F) {
	f.Add(0.0, 0.0, 3.0, 0.0, 3.0, 3.0, 0.0, 3.0, 1.0, 1.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0)
	f.Add(0.0, 0.0, 3.0, 0.0, 1.5, 1.0, 0.0, 3.0, 0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5)
	f.Fuzz(func(t *testing.T, a0, a1, b0, b1, c0, c1, d0, d1, e0, e1, g0, g1, h0, h1, i0, i1 float64) {
		for _, v := range []float64{a0, a1, b0, b1, c0, c1, d0, d1, e0, e1, g0, g1, h0, h1, i0, i1} {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
				return
			}
		}
		p := [][2]float64{{a0, a1}, {b0, b1}, {c0, c1}, {d0, d1}}
		c := [][2]float64{{e0, e1}, {g0, g1}, {h0, h1}, {i0, i1}}
		pv, cv := validGeofence(p), validGeofence(c)
		if pv && !tokens.PolygonContains(p, p) {
			t.Fatal("a polygon does not contain itself")
		}
		if pv && cv && tokens.PolygonContains(p, c) && area(c) > area(p)*(1+1e-9)+1e-9 {
			t.Fatalf("contained child %v has a larger area than parent %v", c, p)
		}
	})
}

func area(poly [][2]float64) float64 {
	s := 0.0
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		s += a[0]*b[1] - a[1]*b[0]
	}
	return math.Abs(s) / 2
}

func validGeofence(poly [][2]float64) bool {
	return (&tokens.Geofence{Frame: "map", Polygon: poly}).Validate() == nil
}
