package attest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

var canonCases = []struct {
	name, in string
	fast     bool // the fast path answers (else it defers to jcs)
}{
	{"twist", `{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`, true},
	{"unsorted-nested", ` { "b" : [ 3, {"z":1,"a":2} ], "a" : null , "c":true, "B":false } `, true},
	{"numbers", `[0,-0,1.0,1e3,1E-7,123456789012345,1234567890123456789,0.1,-1.5e+300,5e-324]`, true},
	{"empty", `{"a":{},"b":[]}`, true},
	{"scalar-top", ` 42 `, true},
	{"many-members", `{"p":1,"o":2,"n":3,"m":4,"l":5,"k":6,"j":7,"i":8,"h":9,"g":10,"f":11,"e":12,"d":13,"c":14,"b":15,"a":16,"q":17,"r":18}`, true},
	{"escape-defers", `{"a":"line\nbreak"}`, false},
	{"unicode-defers", `{"é":"ü"}`, false},
	{"duplicate-defers", `{"a":1,"a":2}`, false},
	{"duplicate-unsorted-defers", `{"b":1,"a":1,"b":2}`, false},
	{"trailing-comma-defers", `{"a":1,}`, false},
	{"leading-zero-defers", `[01]`, false},
	{"bad-literal-defers", `[tru]`, false},
	{"trailing-data-defers", `{} {}`, false},
	{"too-large-number-defers", `[1e400]`, false},
}

func TestFastCanonical(t *testing.T) {
	for _, tc := range canonCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := fastCanonical([]byte(tc.in), nil)
			if ok != tc.fast {
				t.Fatalf("fast path answered %v, want %v (%s)", ok, tc.fast, got)
			}
			if !ok {
				return
			}
			want, err := jcs.Transform([]byte(tc.in))
			if err != nil {
				t.Fatalf("fast path accepted what jcs rejects: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("fast %s\n jcs %s", got, want)
			}
		})
	}
}

// FuzzCanonical is the differential test of the fast canonicaliser: when it
// answers, the reference must accept the input and produce the same bytes.
func FuzzCanonical(f *testing.F) {
	for _, tc := range canonCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := fastCanonical(in, nil)
		if !ok {
			return
		}
		want, err := jcs.Transform(in)
		if err != nil {
			t.Fatalf("fast path accepted %q, jcs rejects it: %v", in, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("input %q\nfast %s\n jcs %s", in, got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid output %s", got)
		}
	})
}

// TestFastCanonicalMatchesJCS generates random JSON documents in the fast
// path's domain (and some outside it), written with random member order,
// whitespace and number spellings, and compares with the reference.
func TestFastCanonicalMatchesJCS(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		doc := genJSON(rt, 0)
		got, ok := fastCanonical([]byte(doc), nil)
		want, err := jcs.Transform([]byte(doc))
		if !ok {
			return
		}
		if err != nil {
			rt.Fatalf("fast accepted %s; jcs: %v", doc, err)
		}
		if !bytes.Equal(got, want) {
			rt.Fatalf("doc %s\nfast %s\n jcs %s", doc, got, want)
		}
	})
}

func genJSON(rt *rapid.T, depth int) string {
	ws := func() string { return rapid.SampledFrom([]string{"", "", " ", "\n\t", "\r "}).Draw(rt, "ws") }
	kind := rapid.IntRange(0, 6).Draw(rt, "kind")
	if depth > 3 {
		kind = rapid.IntRange(0, 3).Draw(rt, "leaf")
	}
	switch kind {
	case 0:
		return rapid.SampledFrom([]string{"true", "false", "null"}).Draw(rt, "lit")
	case 1:
		f := rapid.Float64().Draw(rt, "f")
		spell := rapid.IntRange(0, 2).Draw(rt, "spell")
		switch spell {
		case 0:
			return strconv.FormatFloat(f, 'g', -1, 64)
		case 1:
			return strconv.FormatFloat(f, 'e', -1, 64)
		}
		return strconv.FormatInt(rapid.Int64().Draw(rt, "i"), 10)
	case 2:
		return `"` + rapid.StringMatching(`[ -!#-\[\]-~]{0,8}`).Draw(rt, "s") + `"`
	case 3:
		return strconv.FormatInt(rapid.Int64Range(-1e6, 1e6).Draw(rt, "small"), 10) + rapid.SampledFrom([]string{"", ".0", ".25", "e2", "E-1"}).Draw(rt, "frac")
	case 4, 5:
		n := rapid.IntRange(0, 20).Draw(rt, "n")
		keys := map[string]bool{}
		var parts []string
		for i := 0; i < n; i++ {
			k := rapid.StringMatching(`[a-zA-Z0-9_]{0,4}`).Draw(rt, "k")
			if keys[k] {
				continue
			}
			keys[k] = true
			parts = append(parts, ws()+`"`+k+`"`+ws()+":"+ws()+genJSON(rt, depth+1)+ws())
		}
		return "{" + strings.Join(parts, ",") + ws() + "}"
	default:
		n := rapid.IntRange(0, 5).Draw(rt, "n")
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, ws()+genJSON(rt, depth+1)+ws())
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
}
