package physics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string // want "" = error
	}{
		{"pointer/simple", "/cmd/speed", "/cmd/speed"},
		{"pointer/escapes", "/a~1b/c~0d", "/a~1b/c~0d"},
		{"pointer/wildcard", "/wheels/*/rpm", "/wheels/*/rpm"},
		{"pointer/index", "/wheels/0/rpm", "/wheels/0/rpm"},
		{"pointer/unicode-member", "/geschwindigkeit/größe", "/geschwindigkeit/größe"},
		{"dotted/simple", "cmd.speed", "/cmd/speed"},
		{"dotted/index", "wheels[1].rpm", "/wheels/1/rpm"},
		{"dotted/wildcard", "wheels[*].rpm", "/wheels/*/rpm"},
		{"dotted/nested-index", "m[0][2]", "/m/0/2"},
		{"dotted/dash-underscore", "axis_1.set-point", "/axis_1/set-point"},
		{"bad/empty", "", ""},
		{"bad/root-pointer", "/", ""},
		{"bad/empty-segment", "/cmd//speed", ""},
		{"bad/trailing-slash", "/cmd/", ""},
		{"bad/tilde-escape", "/a~2", ""},
		{"bad/tilde-at-end", "/a~", ""},
		{"bad/control-char", "/a\x01", ""},
		{"bad/dotted-empty-name", "cmd..speed", ""},
		{"bad/dotted-trailing-dot", "cmd.", ""},
		{"bad/dotted-unclosed", "w[1", ""},
		{"bad/dotted-leading-zero", "w[01]", ""},
		{"bad/dotted-negative", "w[-1]", ""},
		{"bad/dotted-space", "cmd speed", ""},
		{"bad/dotted-starts-with-index", "[0].x", ""},
		{"bad/too-long", "/" + strings.Repeat("a", MaxPathBytes), ""},
		{"bad/too-deep", strings.Repeat("/a", MaxPathSegments+1), ""},
		{"bad/not-utf8", "/\xff", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePath(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("ParsePath(%q) = %q, want an error", tc.in, p)
				}
				return
			}
			if err != nil || p.String() != tc.want {
				t.Fatalf("ParsePath(%q) = %q, %v; want %q", tc.in, p, err, tc.want)
			}
			again, err := ParsePath(p.String())
			if err != nil || again.String() != p.String() {
				t.Fatalf("canonical form %q does not parse to itself: %q, %v", p, again, err)
			}
		})
	}
}

func TestPathResolve(t *testing.T) {
	doc := `{"cmd":{"speed":2.5,"a/b":1,"arr":[10,20]},"wheels":[{"rpm":1},{"rpm":2}],"empty":[],"n":7}`
	for _, tc := range []struct {
		name, path string
		at         []string // concrete locations, nil = error
		errHas     string
	}{
		{"ok/nested", "/cmd/speed", []string{"/cmd/speed"}, ""},
		{"ok/escaped-member", "/cmd/a~1b", []string{"/cmd/a~1b"}, ""},
		{"ok/index", "cmd.arr[1]", []string{"/cmd/arr/1"}, ""},
		{"ok/wildcard", "wheels[*].rpm", []string{"/wheels/0/rpm", "/wheels/1/rpm"}, ""},
		{"ok/wildcard-empty-array", "/empty/*", []string{}, ""},
		{"missing/member", "/cmd/velocity", nil, "/cmd/velocity is missing"},
		{"missing/top", "/speed", nil, "/speed is missing"},
		{"missing/index-out-of-range", "/cmd/arr/2", nil, "/cmd/arr/2 is missing"},
		{"missing/through-number", "/n/x", nil, "/n is not an object or array"},
		{"missing/member-of-array", "/wheels/rpm", nil, "/wheels is an array"},
		{"missing/wildcard-element", "/wheels/*/torque", nil, "/wheels/0/torque is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			found, err := p.Resolve(decode(t, doc))
			if tc.at == nil {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Resolve = %v, %v; want an error containing %q", found, err, tc.errHas)
				}
				return
			}
			if err != nil || len(found) != len(tc.at) {
				t.Fatalf("Resolve = %v, %v; want %v", found, err, tc.at)
			}
			for i := range found {
				if found[i].At != tc.at[i] {
					t.Fatalf("found[%d] at %s, want %s", i, found[i].At, tc.at[i])
				}
			}
		})
	}
}

func TestUnitConversion(t *testing.T) {
	for _, tc := range []struct {
		name, quantity, unit string
		v, si                float64
	}{
		{"linear/m-s", LinearVelocity, "m/s", 1.5, 1.5},
		{"linear/mm-s-exact-at-1000", LinearVelocity, "mm/s", 1000, 1},
		{"linear/cm-s", LinearVelocity, "cm/s", 50, 0.5},
		{"linear/km-h", LinearVelocity, "km/h", 3.6, 1},
		{"linear/m-min", LinearVelocity, "m/min", 60, 1},
		{"linear/mm-min", LinearVelocity, "mm/min", 60000, 1},
		{"angular/rad-s", AngularVelocity, "rad/s", 0.7, 0.7},
		{"angular/deg-s", AngularVelocity, "deg/s", 180, math.Pi},
		{"angular/rpm", AngularVelocity, "rpm", 60, 2 * math.Pi},
		{"accel/mm-s2", Acceleration, "mm/s^2", 500, 0.5},
		{"jerk/m-s3", Jerk, "m/s³", 2, 2},
		{"force/N", Force, "N", 40, 40},
		{"force/kN", Force, "kN", 0.05, 50},
		{"torque/Nm", Torque, "Nm", 3, 3},
		{"torque/kN.m", Torque, "kN.m", 0.002, 2},
		{"position/mm", Position, "mm", 2500, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := quantityByName[tc.quantity]
			u, ok := units[q][tc.unit]
			if !ok {
				t.Fatalf("unit %q not accepted for %s", tc.unit, tc.quantity)
			}
			if got := u.toSI(tc.v); math.Abs(got-tc.si) > 1e-12*math.Max(1, tc.si) {
				t.Fatalf("%v %s = %v SI, want %v", tc.v, tc.unit, got, tc.si)
			}
			if back := u.fromSI(u.toSI(tc.v)); math.Abs(back-tc.v) > 1e-9*math.Max(1, tc.v) {
				t.Fatalf("round trip %v → %v", tc.v, back)
			}
		})
	}
}

func TestNewMapping(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec MappingSpec
		ok   bool
	}{
		{"ok/speed-mm-s", MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"}, true},
		{"ok/position", MappingSpec{Quantity: Position, X: "/goal/x", Y: "/goal/y", Unit: "mm"}, true},
		{"bad/unknown-quantity", MappingSpec{Path: "/a", Quantity: "speed", Unit: "m/s"}, false},
		{"bad/unit-of-other-quantity", MappingSpec{Path: "/a", Quantity: LinearVelocity, Unit: "rad/s"}, false},
		{"bad/unknown-unit", MappingSpec{Path: "/a", Quantity: Force, Unit: "lbf"}, false},
		{"bad/empty-unit", MappingSpec{Path: "/a", Quantity: Force}, false},
		{"bad/no-path", MappingSpec{Quantity: Force, Unit: "N"}, false},
		{"bad/bad-path", MappingSpec{Path: "a..b", Quantity: Force, Unit: "N"}, false},
		{"bad/xy-on-speed", MappingSpec{Path: "/a", X: "/x", Quantity: LinearVelocity, Unit: "m/s"}, false},
		{"bad/position-with-path", MappingSpec{Path: "/p", Quantity: Position, X: "/x", Y: "/y", Unit: "m"}, false},
		{"bad/position-without-y", MappingSpec{Quantity: Position, X: "/x", Unit: "m"}, false},
		{"bad/position-wildcard", MappingSpec{Quantity: Position, X: "/p/*/x", Y: "/p/*/y", Unit: "m"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMapping(tc.spec)
			if tc.ok != (err == nil) {
				t.Fatalf("NewMapping(%+v) = %v, %v", tc.spec, m, err)
			}
			if err != nil && codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
		})
	}
}

func mustMap(t testing.TB, specs ...MappingSpec) []Mapping {
	t.Helper()
	var out []Mapping
	for _, s := range specs {
		m, err := NewMapping(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestCheckMapped(t *testing.T) {
	speed := MappingSpec{Path: "/cmd/speed", Quantity: LinearVelocity, Unit: "m/s"}
	speedMM := MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"}
	wheels := MappingSpec{Path: "wheels[*].rpm", Quantity: AngularVelocity, Unit: "rpm"}
	force := MappingSpec{Path: "/grip/force", Quantity: Force, Unit: "kN"}
	goal := MappingSpec{Quantity: Position, X: "/goal/x_mm", Y: "/goal/y_mm", Unit: "mm"}
	goalOdom := MappingSpec{Quantity: Position, X: "/goal/x_mm", Y: "/goal/y_mm", Unit: "mm", Frame: "odom"}
	lim := Limits{MaxVelocityMps: f(1), MaxAngularVelocityRps: f(2), MaxForceNewtons: f(50), Geofence: square}
	for _, tc := range []struct {
		name     string
		params   string
		maps     []MappingSpec
		code     codes.Code
		quantity string
		value    float64
		reason   string // substring of the reason
	}{
		{name: "deny/nested-speed-over-limit", params: `{"cmd":{"speed":2.5}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 2.5, reason: "params/cmd/speed"},
		{name: "allow/nested-speed-within", params: `{"cmd":{"speed":0.9}}`, maps: []MappingSpec{speed}},
		{name: "allow/negative-within", params: `{"cmd":{"speed":-0.9}}`, maps: []MappingSpec{speed}},
		{name: "deny/negative-over", params: `{"cmd":{"speed":-1.2}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.2},
		{name: "allow/mm-s-at-limit", params: `{"cmd":{"speed":1000}}`, maps: []MappingSpec{speedMM}},
		{name: "deny/mm-s-over", params: `{"cmd":{"speed":1500}}`, maps: []MappingSpec{speedMM},
			code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.5, reason: "1500 mm/s"},
		{name: "deny/vector-at-path", params: `{"cmd":{"speed":{"x":0.8,"y":0.8}}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, quantity: MaxVelocity},
		{name: "deny/wildcard-one-wheel-over", params: `{"wheels":[{"rpm":10},{"rpm":30}]}`, maps: []MappingSpec{wheels},
			code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, reason: "params/wheels/1/rpm"},
		{name: "allow/wildcard-all-within", params: `{"wheels":[{"rpm":10},{"rpm":19}]}`, maps: []MappingSpec{wheels}},
		{name: "deny/kN-force", params: `{"grip":{"force":0.06}}`, maps: []MappingSpec{force},
			code: codes.PhysicsConstraint, quantity: MaxForce, value: 60},
		{name: "deny/missing-mapped-path", params: `{"cmd":{"velocity":0.1}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, quantity: MaxVelocity, reason: "/cmd/speed is missing"},
		{name: "deny/missing-even-without-limit", params: `{}`, maps: []MappingSpec{{Path: "/t", Quantity: Torque, Unit: "N·m"}},
			code: codes.PhysicsConstraint, reason: "/t is missing"},
		{name: "deny/non-numeric-string", params: `{"cmd":{"speed":"fast"}}`, maps: []MappingSpec{speed},
			code: codes.MalformedRequest, reason: "params/cmd/speed"},
		{name: "deny/non-numeric-null", params: `{"cmd":{"speed":null}}`, maps: []MappingSpec{speed},
			code: codes.MalformedRequest, reason: "params/cmd/speed"},
		{name: "deny/non-numeric-bool", params: `{"cmd":{"speed":true}}`, maps: []MappingSpec{speed},
			code: codes.MalformedRequest},
		{name: "deny/missing-wins-over-violation", params: `{"velocity":5,"cmd":{}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, reason: "missing"},
		{name: "deny/table-source-still-read", params: `{"velocity":5,"cmd":{"speed":0.1}}`, maps: []MappingSpec{speed},
			code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 5},
		{name: "allow/position-inside", params: `{"goal":{"x_mm":5000,"y_mm":2500}}`, maps: []MappingSpec{goal}},
		{name: "deny/position-outside", params: `{"goal":{"x_mm":12000,"y_mm":2500}}`, maps: []MappingSpec{goal},
			code: codes.PhysicsConstraint, quantity: Geofence, reason: "outside the geofence"},
		{name: "deny/position-other-frame", params: `{"goal":{"x_mm":5000,"y_mm":2500}}`, maps: []MappingSpec{goalOdom},
			code: codes.PhysicsConstraint, quantity: Geofence, reason: `frame "odom"`},
		{name: "deny/position-missing-y", params: `{"goal":{"x_mm":5000}}`, maps: []MappingSpec{goal},
			code: codes.PhysicsConstraint, quantity: Geofence, reason: "/goal/y_mm is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := CheckMapped(decode(t, tc.params), nil, lim, mustMap(t, tc.maps...))
			if r.Code != tc.code || (tc.quantity != "" && r.Quantity != tc.quantity) ||
				(tc.value != 0 && math.Abs(r.Value-tc.value) > 1e-9) || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("CheckMapped = %+v; want code %q quantity %q value %v reason ~%q", r, tc.code, tc.quantity, tc.value, tc.reason)
			}
			// Without the mapping the nested value is invisible (the gap
			// this closes): only the table's own sources deny.
			if tc.code != "" && !strings.Contains(tc.name, "table-source") && !strings.Contains(tc.name, "wins-over") {
				if plain := Check(decode(t, tc.params), nil, lim); plain.Code == tc.code && plain.Quantity == r.Quantity && tc.code == codes.PhysicsConstraint && tc.quantity != Geofence {
					t.Fatalf("plain Check already denies %+v: the case does not exercise the mapping", plain)
				}
			}
		})
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	maps := mustMap(t, MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"},
		MappingSpec{Quantity: Position, X: "goal.x", Y: "goal.y", Unit: "m"})
	lim := Limits{MaxVelocityMps: f(1), MaxForceNewtons: f(5), Geofence: square, GeofenceFrame: "map"}
	b, err := json.Marshal(EnvelopeMapped(lim, maps))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"geofence":{"frame":"map","polygon":[[0,0],[10,0],[10,10],[0,10]]},"maxForceNewtons":5,"maxVelocityMps":1,` +
		`"payloadMap":[{"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"},{"quantity":"position","unit":"m","x":"/goal/x","y":"/goal/y","frame":"map"}]}`
	if string(b) != want {
		t.Fatalf("envelope\n %s\nwant\n %s", b, want)
	}
	gl, gm, err := ParseEnvelope(b)
	if err != nil || *gl.MaxVelocityMps != 1 || *gl.MaxForceNewtons != 5 || len(gl.Geofence) != 4 || len(gm) != 2 || gm[0].Spec() != maps[0].Spec() {
		t.Fatalf("ParseEnvelope = %+v %v %v", gl, gm, err)
	}
	if b, _ := json.Marshal(EnvelopeMapped(lim, nil)); strings.Contains(string(b), "payloadMap") {
		t.Fatalf("payloadMap without mappings: %s", b)
	}
	for _, tc := range []struct{ name, env string }{
		{"bad/negative-limit", `{"maxVelocityMps":-1}`},
		{"bad/string-limit", `{"maxForceNewtons":"5"}`},
		{"bad/payload-map-unit", `{"payloadMap":[{"path":"/a","quantity":"linearVelocity","unit":"furlong/s"}]}`},
		{"bad/payload-map-unknown-field", `{"payloadMap":[{"path":"/a","quantity":"force","unit":"N","max":3}]}`},
		{"bad/geofence", `{"geofence":[[0,0]]}`},
		{"bad/not-object", `[1]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseEnvelope([]byte(tc.env)); codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("ParseEnvelope(%s) = %v", tc.env, err)
			}
		})
	}
}

// TestClampJSONArrayVectorPassesTheTable: an array clamped as a vector (a
// trajectory point's velocities) comes out inside the limit as the table
// source reads it too (√Σx², points[].velocities), not just by the
// clamp's own scaled norm: the two may differ by an ulp at the limit.
func TestClampJSONArrayVectorPassesTheTable(t *testing.T) {
	m := mustMap(t, MappingSpec{Path: "/points/*/velocities", Quantity: AngularVelocity, Unit: "rad/s"})
	for _, in := range []string{`{"points":[{"velocities":[3,0.5]}]}`, `{"points":[{"velocities":[0.3,0.4,5,7]},{"velocities":[9]}]}`} {
		out, changed, err := ClampJSON([]byte(in), m, Limits{MaxAngularVelocityRps: f(2)})
		if err != nil || !changed {
			t.Fatalf("ClampJSON(%s) = %s, %v, %v", in, out, changed, err)
		}
	}
}

func TestClampJSON(t *testing.T) {
	speed := MappingSpec{Path: "/cmd/speed", Quantity: LinearVelocity, Unit: "m/s"}
	speedMM := MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"}
	wheels := MappingSpec{Path: "wheels[*].rpm", Quantity: AngularVelocity, Unit: "rpm"}
	vec := MappingSpec{Path: "/cmd/v", Quantity: LinearVelocity, Unit: "m/s"}
	goal := MappingSpec{Quantity: Position, X: "/goal/x", Y: "/goal/y", Unit: "m"}
	lim := Limits{MaxVelocityMps: f(0.5), MaxAngularVelocityRps: f(2 * math.Pi), Geofence: square}
	for _, tc := range []struct {
		name, in, out string // out "" = error
		maps          []MappingSpec
		changed       bool
	}{
		{"clamp/scalar-keeps-the-rest-byte-for-byte", `{"id": "a1",  "cmd":{"speed":2.5, "mode":"run"}}`,
			`{"id": "a1",  "cmd":{"speed":0.5, "mode":"run"}}`, []MappingSpec{speed}, true},
		{"clamp/negative-keeps-sign", `{"cmd":{"speed":-0.75}}`, `{"cmd":{"speed":-0.5}}`, []MappingSpec{speed}, true},
		{"clamp/unit-mm-s", `{"cmd":{"speed":900}}`, `{"cmd":{"speed":500}}`, []MappingSpec{speedMM}, true},
		{"clamp/wildcard-only-the-fast-wheel", `{"wheels":[{"rpm":20},{"rpm":75}]}`, `{"wheels":[{"rpm":20},{"rpm":60}]}`, []MappingSpec{wheels}, true},
		{"clamp/vector-keeps-direction", `{"cmd":{"v":{"x":0.6,"y":0.8,"frame":"base"}}}`, `{"cmd":{"v":{"x":0.3,"y":0.4,"frame":"base"}}}`, []MappingSpec{vec}, true},
		{"keep/within", `{"cmd":{"speed":0.25}}`, `{"cmd":{"speed":0.25}}`, []MappingSpec{speed}, false},
		{"keep/no-limit-for-quantity", `{"f":900}`, `{"f":900}`, []MappingSpec{{Path: "/f", Quantity: Force, Unit: "N"}}, false},
		{"refuse/missing-path", `{"cmd":{}}`, "", []MappingSpec{speed}, false},
		{"refuse/not-a-number", `{"cmd":{"speed":"max"}}`, "", []MappingSpec{speed}, false},
		{"refuse/target-outside-fence", `{"goal":{"x":20,"y":1}}`, "", []MappingSpec{goal}, false},
		{"keep/target-inside-fence", `{"goal":{"x":2,"y":1}}`, `{"goal":{"x":2,"y":1}}`, []MappingSpec{goal}, false},
		{"refuse/table-source-over-envelope", `{"velocity":0.7,"cmd":{"speed":0.1}}`, "", []MappingSpec{speed}, false},
		{"refuse/not-json", `{"cmd":`, "", []MappingSpec{speed}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := ClampJSON([]byte(tc.in), mustMap(t, tc.maps...), lim)
			if tc.out == "" {
				if err == nil {
					t.Fatalf("ClampJSON = %s, want an error", out)
				}
				return
			}
			if err != nil || string(out) != tc.out || changed != tc.changed {
				t.Fatalf("ClampJSON = %s, %v, %v; want %s, %v", out, changed, err, tc.out, tc.changed)
			}
		})
	}
}

func BenchmarkCheckMapped(b *testing.B) {
	params := decode(b, `{"cmd":{"speed":800,"mode":"run"},"wheels":[{"rpm":10},{"rpm":15}],"goal":{"x":2500,"y":4000}}`)
	maps := mustMap(b, MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"},
		MappingSpec{Path: "wheels[*].rpm", Quantity: AngularVelocity, Unit: "rpm"},
		MappingSpec{Quantity: Position, X: "/goal/x", Y: "/goal/y", Unit: "mm"})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if r := CheckMapped(params, nil, allLimits, maps); !r.OK() {
			b.Fatal(r)
		}
	}
}

func BenchmarkClampJSON(b *testing.B) {
	doc := []byte(`{"cmd":{"speed":1800,"mode":"run"},"wheels":[{"rpm":20},{"rpm":25}]}`)
	maps := mustMap(b, MappingSpec{Path: "cmd.speed", Quantity: LinearVelocity, Unit: "mm/s"},
		MappingSpec{Path: "wheels[*].rpm", Quantity: AngularVelocity, Unit: "rpm"})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, changed, err := ClampJSON(doc, maps, allLimits); err != nil || !changed {
			b.Fatal(err)
		}
	}
}
