package physics

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

// FuzzCheck: any JSON params never panic, yield one of the three codes, and
// adding a context never turns a deny into an allow.
func FuzzCheck(f *testing.F) {
	for _, tc := range checkCases {
		f.Add([]byte(tc.params), 0.5, 5.0, 5.0)
	}
	f.Fuzz(func(t *testing.T, data []byte, cv, px, py float64) {
		if len(data) > 1<<14 {
			return
		}
		var params any
		if json.Unmarshal(data, &params) != nil {
			return
		}
		r := Check(params, nil, allLimits)
		switch r.Code {
		case "":
		case codes.PhysicsConstraint:
			if r.Quantity == "" || r.Reason == "" {
				t.Fatalf("deny without quantity/reason: %+v", r)
			}
			if r.Quantity != Geofence && !(r.Value > r.Limit) {
				t.Fatalf("deny with value %v ≤ limit %v", r.Value, r.Limit)
			}
		case codes.MalformedRequest:
		default:
			t.Fatalf("unexpected code %q", r.Code)
		}
		if math.IsNaN(cv) || math.IsNaN(px) || math.IsNaN(py) {
			return
		}
		with := Check(params, &Context{CurrentVelocityMps: &cv, CurrentPosition: &Point{px, py}}, allLimits)
		if !r.OK() && with.OK() {
			t.Fatalf("context turned %+v into allow", r)
		}
	})
}

// FuzzParsePath: any string either fails or parses to a canonical JSON
// Pointer that parses to itself, and resolving it in any JSON document
// never panics.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/cmd/speed", "cmd.speed", "wheels[*].rpm", "/a~1b/~0", "m[0][2]", "/", "a..b", "w[01]", "/a~", "[*]"} {
		f.Add(s, []byte(`{"cmd":{"speed":1},"wheels":[{"rpm":2}],"m":[[1,2,3]]}`))
	}
	f.Fuzz(func(t *testing.T, s string, doc []byte) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if p.String() == "" || p.String()[0] != '/' {
			t.Fatalf("ParsePath(%q) = %q: not a pointer", s, p)
		}
		again, err := ParsePath(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("ParsePath(%q) = %q, which parses to %q, %v", s, p, again, err)
		}
		var v any
		if len(doc) <= 1<<12 && json.Unmarshal(doc, &v) == nil {
			found, err := p.Resolve(v)
			if err == nil && !p.Wildcard() && len(found) != 1 {
				t.Fatalf("%q without wildcard resolved to %d values", p, len(found))
			}
		}
	})
}

// FuzzClampJSON: for any JSON document ClampJSON never panics; when it
// succeeds its output is valid JSON within the limits (CheckMapped allows
// it), and it is the input itself when nothing changed.
func FuzzClampJSON(f *testing.F) {
	for _, s := range []string{`{"cmd":{"speed":2.5}}`, `{"cmd":{"speed":{"x":3,"y":4}}}`, `{"wheels":[{"rpm":90},{"rpm":-90}]}`,
		`{"cmd":{"speed":[1,2,3]},"wheels":[]}`, `{"a":"b","cmd":{"speed":-1e300}}`, `[1,{"cmd":2}]`} {
		f.Add([]byte(s))
	}
	maps := []Mapping{}
	for _, s := range []MappingSpec{
		{Path: "/cmd/speed", Quantity: LinearVelocity, Unit: "mm/s"},
		{Path: "wheels[*].rpm", Quantity: AngularVelocity, Unit: "rpm"},
	} {
		m, err := NewMapping(s)
		if err != nil {
			f.Fatal(err)
		}
		maps = append(maps, m)
	}
	lim := Limits{MaxVelocityMps: f64p(0.5), MaxAngularVelocityRps: f64p(1)}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<14 {
			return
		}
		out, changed, err := ClampJSON(doc, maps, lim)
		if err != nil {
			return
		}
		if !changed && string(out) != string(doc) {
			t.Fatalf("unchanged but different: %s → %s", doc, out)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("output %s is not JSON: %v", out, err)
		}
		if r := CheckMapped(v, nil, lim, maps); !r.OK() {
			t.Fatalf("clamped %s → %s still fails: %+v", doc, out, r)
		}
	})
}

func f64p(v float64) *float64 { return &v }
