package physics

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sintgate/sintgate/codes"
)

func f(v float64) *float64 { return &v }

func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("bad test JSON %s: %v", s, err)
	}
	return v
}

var square = [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}}

var allLimits = Limits{
	MaxVelocityMps: f(1), MaxAngularVelocityRps: f(2), MaxAccelerationMps2: f(3),
	MaxJerkMps3: f(4), MaxForceNewtons: f(50), MaxTorqueNm: f(10), Geofence: square,
}

type checkCase struct {
	name     string
	params   string
	pc       *Context
	lim      Limits
	code     codes.Code
	quantity string
	value    float64
	severe   bool
}

var checkCases = []checkCase{
	// allow
	{name: "allow/empty-params", params: `{}`, lim: allLimits},
	{name: "allow/twist-within", params: `{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`, lim: allLimits},
	{name: "allow/at-limit-exactly", params: `{"velocity":1}`, lim: allLimits},
	{name: "allow/no-limits-anything-goes", params: `{"velocity":1000,"force":1e9,"target":{"x":1e6,"y":0}}`, lim: Limits{}},
	{name: "allow/non-object-params", params: `[1,2,3]`, lim: allLimits},
	{name: "allow/named-target-not-checked", params: `{"target":"dock 3","position":0.04}`, lim: allLimits},
	{name: "allow/joint-state-position-array", params: `{"position":[0.1,0.2],"velocity":[0.3,0.4]}`, lim: allLimits},
	{name: "allow/goal-string", params: `{"goal":"dock 3"}`, lim: allLimits},
	{name: "allow/target-inside", params: `{"target":{"x":5,"y":5}}`, lim: allLimits},
	{name: "allow/target-on-edge", params: `{"target":{"x":10,"y":3}}`, lim: allLimits},
	{name: "allow/target-on-vertex", params: `{"target":{"x":0,"y":0}}`, lim: allLimits},
	{name: "allow/points-without-velocities", params: `{"points":[{"x":1,"y":2}]}`, lim: allLimits},
	{name: "allow/points-not-array", params: `{"points":5}`, lim: allLimits},

	// linear velocity sources
	{name: "deny/linear-norm", params: `{"linear":{"x":0.8,"y":0.8,"z":0}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: math.Sqrt(1.28)},
	{name: "deny/velocity", params: `{"velocity":1.5}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.5},
	{name: "deny/velocity-negative-abs", params: `{"velocity":-1.5}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.5},
	{name: "deny/linear_velocity", params: `{"linear_velocity":1.2}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.2},
	{name: "deny/twist.linear", params: `{"twist":{"linear":{"x":1.1}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.1},
	{name: "deny/velocity-array-norm", params: `{"velocity":[0.6,0.8,0.6]}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: math.Sqrt(1.36)},
	// angular velocity sources
	{name: "deny/angular-norm", params: `{"angular":{"z":2.5}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, value: 2.5},
	{name: "deny/angular_velocity", params: `{"angular_velocity":3}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, value: 3},
	{name: "deny/twist.angular", params: `{"twist":{"angular":{"x":0,"y":0,"z":-2.2}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, value: 2.2},
	{name: "deny/points-velocities-max", params: `{"points":[{"velocities":[0.1,0.1]},{"velocities":[1.2,1.7]},{"velocities":[0]}]}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, value: math.Sqrt(4.33)},
	{name: "allow/points-velocities-at-limit", params: `{"points":[{"velocities":[1.2,1.6]}]}`, lim: Limits{MaxAngularVelocityRps: f(2.0000001)}},
	{name: "deny/trajectory.points-velocities", params: `{"trajectory":{"points":[{"velocities":[2.5]}]}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAngularVelocity, value: 2.5},
	// acceleration, jerk
	{name: "deny/acceleration", params: `{"acceleration":3.5}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxAcceleration, value: 3.5},
	{name: "deny/jerk", params: `{"jerk":4.5}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxJerk, value: 4.5},
	// force, torque
	{name: "deny/force-number", params: `{"force":60}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxForce, value: 60},
	{name: "deny/force-vector", params: `{"force":{"x":30,"y":40,"z":10}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxForce, value: math.Sqrt(2600)},
	{name: "deny/wrench.force", params: `{"wrench":{"force":{"z":51}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxForce, value: 51},
	{name: "deny/torque", params: `{"torque":11}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxTorque, value: 11},
	{name: "deny/wrench.torque", params: `{"wrench":{"torque":{"x":12}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxTorque, value: 12},
	// target positions
	{name: "deny/position-outside", params: `{"position":{"x":11,"y":5}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "deny/target-outside", params: `{"target":{"x":-0.001,"y":5}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "deny/pose.position-outside", params: `{"pose":{"position":{"x":5,"y":10.5,"z":0}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "deny/goal.position-outside", params: `{"goal":{"position":{"x":20,"y":20}}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "deny/second-target-outside", params: `{"position":{"x":1,"y":1},"target":{"x":50,"y":1}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "deny/degenerate-fence-contains-nothing", params: `{"target":{"x":0,"y":0}}`, lim: Limits{Geofence: [][2]float64{{0, 0}, {1, 1}}}, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "allow/concave-fence-inside", params: `{"target":{"x":1,"y":8}}`, lim: Limits{Geofence: [][2]float64{{0, 0}, {10, 0}, {10, 10}, {5, 2}, {0, 10}}}},
	{name: "deny/concave-fence-notch", params: `{"target":{"x":5,"y":8}}`, lim: Limits{Geofence: [][2]float64{{0, 0}, {10, 0}, {10, 10}, {5, 2}, {0, 10}}}, code: codes.PhysicsConstraint, quantity: Geofence},

	// strictest applies / severity
	{name: "deny/strictest-source-wins", params: `{"velocity":0.5,"linear":{"x":1.4},"linear_velocity":0.9}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.4},
	{name: "deny/severe-at-2x", params: `{"velocity":2}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 2, severe: true},
	{name: "deny/just-below-severe", params: `{"velocity":1.99}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.99},
	{name: "deny/severe-reported-over-larger-mild", params: `{"force":99,"velocity":2.5}`, lim: Limits{MaxVelocityMps: f(1), MaxForceNewtons: f(50)}, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 2.5, severe: true},
	{name: "deny/largest-ratio-wins", params: `{"force":99,"velocity":2.5}`, lim: Limits{MaxVelocityMps: f(1), MaxForceNewtons: f(10)}, code: codes.PhysicsConstraint, quantity: MaxForce, value: 99, severe: true},
	{name: "deny/numeric-before-geofence", params: `{"velocity":1.1,"target":{"x":99,"y":99}}`, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.1},
	{name: "deny/zero-limit-any-motion-severe", params: `{"velocity":0.01}`, lim: Limits{MaxVelocityMps: f(0)}, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 0.01, severe: true},
	{name: "allow/zero-limit-zero-motion", params: `{"velocity":0}`, lim: Limits{MaxVelocityMps: f(0)}},

	// physicalContext
	{name: "deny/context-velocity", params: `{"velocity":0.2}`, pc: &Context{CurrentVelocityMps: f(1.5)}, lim: allLimits, code: codes.PhysicsConstraint, quantity: MaxVelocity, value: 1.5},
	{name: "allow/context-velocity-within", params: `{"velocity":0.2}`, pc: &Context{CurrentVelocityMps: f(0.5)}, lim: allLimits},
	{name: "deny/context-position-outside", params: `{}`, pc: &Context{CurrentPosition: &Point{-5, 5}}, lim: allLimits, code: codes.PhysicsConstraint, quantity: Geofence},
	{name: "allow/context-human-ignored-here", params: `{}`, pc: &Context{HumanDetected: new(bool)}, lim: allLimits},
	{name: "malformed/context-nan-velocity", params: `{}`, pc: &Context{CurrentVelocityMps: f(math.NaN())}, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/context-inf-position", params: `{}`, pc: &Context{CurrentPosition: &Point{math.Inf(1), 0}}, lim: allLimits, code: codes.MalformedRequest},

	// malformed
	{name: "malformed/velocity-string", params: `{"velocity":"fast"}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/velocity-null", params: `{"velocity":null}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/velocity-bool", params: `{"velocity":true}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/velocity-overflow", params: `{"velocity":1e400}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/linear-component-string", params: `{"linear":{"x":"0.1"}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/linear-no-components", params: `{"linear":{"speed":3}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/norm-overflow", params: `{"force":{"x":1e200,"y":1e200}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/twist-not-object", params: `{"twist":[1]}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/wrench-not-object", params: `{"wrench":"x"}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/velocities-not-array", params: `{"points":[{"velocities":"1"}]}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/velocities-element", params: `{"points":[{"velocities":[1,"x"]}]}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/target-missing-y", params: `{"target":{"x":1}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/target-string-x", params: `{"target":{"x":"1","y":2}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/target-bad-z", params: `{"goal":{"position":{"x":1,"y":2,"z":"up"}}}`, lim: allLimits, code: codes.MalformedRequest},
	{name: "malformed/checked-without-limits", params: `{"velocity":"fast"}`, lim: Limits{}, code: codes.MalformedRequest},
	{name: "malformed/wins-over-violation", params: `{"velocity":9,"force":"x"}`, lim: allLimits, code: codes.MalformedRequest},
}

func TestCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			r := Check(decode(t, tc.params), tc.pc, tc.lim)
			if r.Code != tc.code {
				t.Fatalf("Code = %q (%s), want %q", r.Code, r.Reason, tc.code)
			}
			if tc.code == "" {
				if !r.OK() || r.Reason != "" {
					t.Fatalf("allow carries %+v", r)
				}
				return
			}
			if r.Reason == "" {
				t.Fatal("deny without a reason")
			}
			if tc.code == codes.MalformedRequest {
				return
			}
			if r.Quantity != tc.quantity {
				t.Fatalf("Quantity = %q, want %q (%s)", r.Quantity, tc.quantity, r.Reason)
			}
			if math.Abs(r.Value-tc.value) > 1e-9 {
				t.Fatalf("Value = %v, want %v", r.Value, tc.value)
			}
			if r.Severe != tc.severe {
				t.Fatalf("Severe = %v, want %v", r.Severe, tc.severe)
			}
		})
	}
}

func TestCheckFloat64Params(t *testing.T) {
	// Params decoded without UseNumber (float64) work the same.
	var v any
	if err := json.Unmarshal([]byte(`{"linear":{"x":2.5}}`), &v); err != nil {
		t.Fatal(err)
	}
	r := Check(v, nil, allLimits)
	if r.Code != codes.PhysicsConstraint || !r.Severe {
		t.Fatalf("got %+v", r)
	}
	// Go-built params with NaN are malformed.
	r = Check(map[string]any{"velocity": math.NaN()}, nil, allLimits)
	if r.Code != codes.MalformedRequest {
		t.Fatalf("NaN: got %+v", r)
	}
}

func TestReason(t *testing.T) {
	r := Check(decode(t, `{"linear":{"x":1.5}}`), nil, allLimits)
	want := "linear velocity 1.5 m/s (from params.linear) exceeds maxVelocityMps 1"
	if r.Reason != want {
		t.Fatalf("Reason = %q, want %q", r.Reason, want)
	}
}

func TestInPolygon(t *testing.T) {
	tri := [][2]float64{{0, 0}, {4, 0}, {0, 4}}
	for _, tc := range []struct {
		name string
		p    Point
		want bool
	}{
		{"inside", Point{1, 1}, true},
		{"on-hypotenuse", Point{2, 2}, true},
		{"on-hypotenuse-float", Point{0.1 * 3, 4 - 0.1*3}, true},
		{"vertex", Point{4, 0}, true},
		{"just-outside-hypotenuse", Point{2.001, 2}, false},
		{"outside-left", Point{-1, 1}, false},
		{"ray-through-vertex", Point{-1, 0}, false},
		{"far", Point{100, 100}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InPolygon(tc.p, tri); got != tc.want {
				t.Fatalf("InPolygon(%v) = %v", tc.p, got)
			}
		})
	}
}

func TestEnvelope(t *testing.T) {
	env := Envelope(Limits{MaxVelocityMps: f(0.5), MaxTorqueNm: f(3), Geofence: [][2]float64{{0, 0}, {1, 0}, {0, 1}}})
	got, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"geofence":{"frame":"map","polygon":[[0,0],[1,0],[0,1]]},"maxTorqueNm":3,"maxVelocityMps":0.5}`
	if string(got) != want {
		t.Fatalf("Envelope = %s\nwant %s", got, want)
	}
	empty, _ := json.Marshal(Envelope(Limits{}))
	if !bytes.Equal(empty, []byte("{}")) {
		t.Fatalf("empty envelope = %s", empty)
	}
	framed := Envelope(Limits{Geofence: square, GeofenceFrame: "odom"})
	if framed[Geofence].(map[string]any)["frame"] != "odom" {
		t.Fatal("frame not carried")
	}
}

// genParams draws params mixing every source with values around the limits.
func genParams(t *rapid.T) map[string]any {
	num := func(label string) any { return rapid.Float64Range(-6, 6).Draw(t, label) }
	vec := func(label string) any {
		return map[string]any{"x": num(label + ".x"), "y": num(label + ".y"), "z": num(label + ".z")}
	}
	m := map[string]any{}
	keys := []string{"linear", "velocity", "linear_velocity", "angular", "angular_velocity", "acceleration", "jerk", "force", "torque"}
	for _, k := range keys {
		switch rapid.IntRange(0, 2).Draw(t, "kind."+k) {
		case 1:
			m[k] = num(k)
		case 2:
			m[k] = vec(k)
		}
	}
	if rapid.Bool().Draw(t, "target") {
		m["target"] = map[string]any{"x": rapid.Float64Range(-3, 13).Draw(t, "tx"), "y": rapid.Float64Range(-3, 13).Draw(t, "ty")}
	}
	if rapid.Bool().Draw(t, "points") {
		m["points"] = []any{map[string]any{"velocities": []any{num("j1"), num("j2")}}}
	}
	return m
}

func genContext(t *rapid.T) *Context {
	pc := &Context{}
	if rapid.Bool().Draw(t, "cv") {
		pc.CurrentVelocityMps = f(rapid.Float64Range(-3, 3).Draw(t, "cvv"))
	}
	if rapid.Bool().Draw(t, "cp") {
		pc.CurrentPosition = &Point{rapid.Float64Range(-3, 13).Draw(t, "cpx"), rapid.Float64Range(-3, 13).Draw(t, "cpy")}
	}
	if rapid.Bool().Draw(t, "hd") {
		b := rapid.Bool().Draw(t, "hdv")
		pc.HumanDetected = &b
	}
	return pc
}

// TestContextOnlyStricter: adding physicalContext never turns a deny into an
// allow, and never makes a severe deny non-severe.
func TestContextOnlyStricter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		params := genParams(t)
		without := Check(params, nil, allLimits)
		with := Check(params, genContext(t), allLimits)
		if !without.OK() && with.OK() {
			t.Fatalf("context turned deny %+v into allow", without)
		}
		if without.Severe && !with.Severe {
			t.Fatalf("context made a severe deny non-severe: %+v -> %+v", without, with)
		}
	})
}

// TestMoreSourcesOnlyStricter: adding any source key to params never turns a
// deny into an allow (every present source is checked).
func TestMoreSourcesOnlyStricter(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a, b := genParams(t), genParams(t)
		ra := Check(a, nil, allLimits)
		merged := map[string]any{}
		for k, v := range b {
			merged[k] = v
		}
		for k, v := range a {
			merged[k] = v
		}
		if !ra.OK() && Check(merged, nil, allLimits).OK() {
			t.Fatalf("adding sources turned deny %+v into allow", ra)
		}
	})
}

func BenchmarkCheckTwist(b *testing.B) {
	params := decode(b, `{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1},"target":{"x":5,"y":5}}`)
	pc := &Context{CurrentVelocityMps: f(0.2)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !Check(params, pc, allLimits).OK() {
			b.Fatal("deny")
		}
	}
}
