package rosbridge

import (
	"fmt"
	"math"
	"testing"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/codes"
)

func f64(v float64) *float64 { return &v }

var routeCases = []struct {
	name, in string
	want     Route // zero: error
}{
	{"ok/twist-default", "/agent/cmd_vel=/cmd_vel", Route{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}},
	{"ok/relative-names", "agent/cmd_vel=cmd_vel", Route{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}},
	{"ok/explicit-type", "/agent/traj=/arm/joint_trajectory:trajectory_msgs/JointTrajectory", Route{Agent: "/agent/traj", Actuator: "/arm/joint_trajectory", Type: msgs.JointTrajectoryType}},
	{"bad/no-equals", "/agent/cmd_vel", Route{}},
	{"bad/same-topic", "/cmd_vel=/cmd_vel", Route{}},
	{"bad/empty-segment", "/agent//cmd_vel=/cmd_vel", Route{}},
	{"bad/trailing-slash", "/agent/=/cmd_vel", Route{}},
	{"bad/unknown-type", "/a=/b:geometry_msgs/Pose", Route{}},
	{"bad/dot-segment", "/a/../b=/c", Route{}},
	{"bad/digit-start", "/1a=/b", Route{}},
	{"bad/space", "/a b=/c", Route{}},
	{"bad/empty-actuator", "/a=", Route{}},
}

func TestParseRoute(t *testing.T) {
	for _, tc := range routeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRoute(tc.in)
			if tc.want.Agent == "" {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParseRoute(%q) = %+v, %v; want MALFORMED_REQUEST", tc.in, got, err)
				}
				return
			}
			if err != nil || got.Agent != tc.want.Agent || got.Actuator != tc.want.Actuator || got.Type.Name != tc.want.Type.Name {
				t.Fatalf("ParseRoute(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
	if r, _ := ParseRoute("/agent/cmd_vel=/cmd_vel"); r.Resource() != "ros:///cmd_vel" {
		t.Errorf("Resource = %q", r.Resource())
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, tc := range routeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRoute(s)
		if err != nil {
			return
		}
		// A parsed route is in normal form: parsing its printed form gives
		// the same route, and its resource has no empty or dot segments.
		again, err := ParseRoute(r.Agent + "=" + r.Actuator + ":" + r.Type.Name)
		if err != nil || again.Agent != r.Agent || again.Actuator != r.Actuator || again.Type.Name != r.Type.Name {
			t.Fatalf("%q → %+v → %+v, %v", s, r, again, err)
		}
		if r.Agent == r.Actuator {
			t.Fatalf("same topics accepted: %q", s)
		}
	})
}

var envelopeCases = []struct {
	name, in string
	ok       bool
	lin, ang *float64
}{
	{"ok/empty", "", true, nil, nil},
	{"ok/null", "null", true, nil, nil},
	{"ok/empty-object", "{}", true, nil, nil},
	{"ok/both", `{"maxVelocityMps":1,"maxAngularVelocityRps":2.5}`, true, f64(1), f64(2.5)},
	{"ok/other-constraints-ignored", `{"maxForceNewtons":10,"geofence":{"frame":"map","polygon":[[0,0],[1,0],[0,1]]},"maxVelocityMps":0.5}`, true, f64(0.5), nil},
	{"ok/zero-limit", `{"maxVelocityMps":0}`, true, f64(0), nil},
	{"bad/negative", `{"maxVelocityMps":-1}`, false, nil, nil},
	{"bad/string", `{"maxVelocityMps":"1"}`, false, nil, nil},
	{"bad/array", `[1]`, false, nil, nil},
	{"bad/truncated", `{"maxVelocityMps":1`, false, nil, nil},
	{"bad/huge", `{"maxVelocityMps":1e999}`, false, nil, nil},
}

func TestParseEnvelope(t *testing.T) {
	eq := func(a, b *float64) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	for _, tc := range envelopeCases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseEnvelope([]byte(tc.in))
			if !tc.ok {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParseEnvelope(%s) = %+v, %v; want MALFORMED_REQUEST", tc.in, e, err)
				}
				return
			}
			if err != nil || !eq(e.MaxVelocityMps, tc.lin) || !eq(e.MaxAngularVelocityRps, tc.ang) {
				t.Fatalf("ParseEnvelope(%s) = %+v, %v", tc.in, e, err)
			}
		})
	}
}

func TestClamp(t *testing.T) {
	lim := Envelope{MaxVelocityMps: f64(1), MaxAngularVelocityRps: f64(0.5)}
	for _, tc := range []struct {
		name    string
		in      msgs.Twist
		env     Envelope
		changed bool
	}{
		{"twist/inside-unchanged", msgs.Twist{Linear: msgs.Vector3{X: 0.6, Y: 0.8}, Angular: msgs.Vector3{Z: 0.5}}, lim, false},
		{"twist/linear-scaled", msgs.Twist{Linear: msgs.Vector3{X: 3, Y: 4}}, lim, true},
		{"twist/angular-scaled", msgs.Twist{Angular: msgs.Vector3{Z: -2}}, lim, true},
		{"twist/unconstrained", msgs.Twist{Linear: msgs.Vector3{X: 100}}, Envelope{}, false},
		{"twist/zero-limit-stops", msgs.Twist{Linear: msgs.Vector3{X: 1}}, Envelope{MaxVelocityMps: f64(0)}, true},
		{"twist/infinite-zeroed", msgs.Twist{Linear: msgs.Vector3{X: math.Inf(1)}}, lim, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.in
			if got := Clamp(&m, tc.env); got != tc.changed {
				t.Fatalf("changed = %v, want %v (%+v)", got, tc.changed, m)
			}
			checkTwist(t, &tc.in, &m, tc.env)
		})
	}
	t.Run("trajectory/point-velocities-scaled", func(t *testing.T) {
		tr := &msgs.JointTrajectory{Points: []msgs.JointTrajectoryPoint{{Velocities: []float64{0.3, 0.4}}, {Velocities: []float64{3, 4}}}}
		if !Clamp(tr, lim) {
			t.Fatal("not clamped")
		}
		if v := tr.Points[0].Velocities; v[0] != 0.3 || v[1] != 0.4 {
			t.Errorf("in-limit point changed: %v", v)
		}
		if v := tr.Points[1].Velocities; math.Hypot(v[0], v[1]) > 0.5 || math.Abs(v[0]/v[1]-0.75) > 1e-9 {
			t.Errorf("clamped point %v", v)
		}
	})
	t.Run("string/untouched", func(t *testing.T) {
		if Clamp(&msgs.String{Data: "x"}, lim) {
			t.Fatal("String clamped")
		}
	})
}

// checkTwist checks the clamp invariants: norms within the limits, each
// vector only scaled down (same direction), unconstrained vectors unchanged.
func checkTwist(t *testing.T, in, out *msgs.Twist, e Envelope) {
	t.Helper()
	for _, c := range []struct {
		a, b  msgs.Vector3
		limit *float64
	}{{in.Linear, out.Linear, e.MaxVelocityMps}, {in.Angular, out.Angular, e.MaxAngularVelocityRps}} {
		if c.limit == nil {
			if c.a != c.b && !(math.IsNaN(c.a.X) || math.IsNaN(c.a.Y) || math.IsNaN(c.a.Z)) {
				t.Fatalf("unconstrained vector changed: %+v → %+v", c.a, c.b)
			}
			continue
		}
		if n := Norm(c.b); !(n <= *c.limit) {
			t.Fatalf("norm %v > limit %v (%+v → %+v)", n, *c.limit, c.a, c.b)
		}
		for _, p := range [][2]float64{{c.a.X, c.b.X}, {c.a.Y, c.b.Y}, {c.a.Z, c.b.Z}} {
			if math.Abs(p[1]) > math.Abs(p[0]) || p[1] != 0 && math.Signbit(p[0]) != math.Signbit(p[1]) {
				t.Fatalf("component grew or flipped: %+v → %+v", c.a, c.b)
			}
		}
	}
}

func FuzzClamp(f *testing.F) {
	for _, tc := range envelopeCases {
		f.Add(tc.in, 3.0, 4.0, 0.0, 0.0, 0.0, -2.0)
	}
	f.Fuzz(func(t *testing.T, env string, lx, ly, lz, ax, ay, az float64) {
		e, err := ParseEnvelope([]byte(env))
		if err != nil {
			return
		}
		in := msgs.Twist{Linear: msgs.Vector3{X: lx, Y: ly, Z: lz}, Angular: msgs.Vector3{X: ax, Y: ay, Z: az}}
		out := in
		Clamp(&out, e)
		checkTwist(t, &in, &out, e)
	})
}

func FuzzParseReport(f *testing.F) {
	f.Add(`{"outcome":"deny","topic":"/agent/cmd_vel","code":"PHYSICS_CONSTRAINT","at":1}`)
	f.Add(`{"outcome":""}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReport([]byte(s))
		if err != nil {
			return
		}
		if r.Outcome == "" {
			t.Fatal("report without outcome accepted")
		}
	})
}

var safeStopCases = []struct {
	name, spec string
	ok         bool
}{
	{"ok/zero-twist", `/cmd_vel={}`, true},
	{"ok/creep", `/cmd_vel={"linear":{"x":0.01}}`, true},
	{"ok/relative-topic", `cmd_vel={"angular":{"z":0}}`, true},
	{"bad/no-route", `/other={}`, false},
	{"bad/no-equals", `/cmd_vel`, false},
	{"bad/not-object", `/cmd_vel=[]`, false},
	{"bad/null", `/cmd_vel=null`, false},
	{"bad/unknown-field", `/cmd_vel={"speed":1}`, false},
	{"bad/infinite", `/cmd_vel={"linear":{"x":1e999}}`, false},
	{"bad/trailing", `/cmd_vel={} {}`, false},
}

func TestSetSafeStop(t *testing.T) {
	for _, tc := range safeStopCases {
		t.Run(tc.name, func(t *testing.T) {
			routes := []Route{{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}}
			err := SetSafeStop(routes, tc.spec)
			if tc.ok != (err == nil) {
				t.Fatalf("SetSafeStop(%s) = %v", tc.spec, err)
			}
			if !tc.ok {
				if codes.Of(err) != codes.MalformedRequest || routes[0].SafeStop != nil {
					t.Fatalf("err %v, safe stop %v", err, routes[0].SafeStop)
				}
				return
			}
			if routes[0].SafeStop == nil || routes[0].safeStop().Type().Name != msgs.TwistType.Name {
				t.Fatal("safe stop not set")
			}
		})
	}
	t.Run("default/zero-twist-for-twist-routes-only", func(t *testing.T) {
		if m := (Route{Type: msgs.TwistType}).safeStop(); m == nil || *m.(*msgs.Twist) != (msgs.Twist{}) {
			t.Fatalf("twist default %v", m)
		}
		if m := (Route{Type: msgs.StringType}).safeStop(); m != nil {
			t.Fatalf("string default %v", m)
		}
	})
}

func FuzzSetSafeStop(f *testing.F) {
	for _, tc := range safeStopCases {
		f.Add(tc.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		routes := []Route{
			{Agent: "/a/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType},
			{Agent: "/a/traj", Actuator: "/traj", Type: msgs.JointTrajectoryType},
		}
		if err := SetSafeStop(routes, spec); err != nil {
			return
		}
		for _, r := range routes {
			if r.SafeStop != nil && r.SafeStop.Type().Name != r.Type.Name {
				t.Fatalf("safe stop of type %s on a %s route", r.SafeStop.Type().Name, r.Type.Name)
			}
		}
	})
}

func TestCheckPhysical(t *testing.T) {
	js := Route{Agent: "/agent/joints", Actuator: "/joint_group/command", Type: msgs.JointStateType}
	if err := SetMapping([]Route{js}, "/other={}"); err == nil {
		t.Fatal("mapping for an unknown actuator accepted")
	}
	rs := []Route{js}
	if err := SetMapping(rs, `/joint_group/command={"path":"/velocity/*","quantity":"angularVelocity","unit":"rad/s"}`); err != nil {
		t.Fatal(err)
	}
	mapped := rs[0]
	both := mapped
	both.NonPhysical = true
	twistNonPhys := Route{Agent: "/a", Actuator: "/cmd_vel", Type: msgs.TwistType, NonPhysical: true}
	for _, tc := range []struct {
		name string
		r    Route
		ok   bool
	}{
		{"ok/twist-typed", Route{Agent: "/a", Actuator: "/cmd_vel", Type: msgs.TwistType}, true},
		{"ok/trajectory-typed", Route{Agent: "/a", Actuator: "/arm/joint_trajectory", Type: msgs.JointTrajectoryType}, true},
		{"ok/joint-state-mapped", mapped, true},
		{"ok/bool-non-physical", Route{Agent: "/a", Actuator: "/lamp", Type: msgs.BoolType, NonPhysical: true}, true},
		{"refused/joint-state-unmapped", js, false},
		{"refused/bool-unmapped", Route{Agent: "/a", Actuator: "/gripper/close", Type: msgs.BoolType}, false},
		{"refused/mapped-and-non-physical", both, false},
		{"refused/twist-non-physical", twistNonPhys, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckPhysical(tc.r); (err == nil) != tc.ok {
				t.Fatalf("CheckPhysical = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestClampMappedGenericMessage: a JointState used as a joint-group
// velocity command, mapped /velocity/* in rad/s, is clamped joint by joint
// to the attested envelope; the other fields are kept.
func TestClampMappedGenericMessage(t *testing.T) {
	rs := []Route{{Agent: "/agent/joints", Actuator: "/joint_group/command", Type: msgs.JointStateType}}
	if err := SetMapping(rs, `/joint_group/command={"path":"/velocity/*","quantity":"angularVelocity","unit":"rad/s"}`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		in      []float64
		env     string
		want    []float64 // nil = refused
		changed bool
	}{
		{"clamp/one-joint-over", []float64{0.2, -0.9, 0.4}, `{"maxAngularVelocityRps":0.5}`, []float64{0.2, -0.5, 0.4}, true},
		{"keep/within", []float64{0.2, 0.3}, `{"maxAngularVelocityRps":0.5}`, []float64{0.2, 0.3}, false},
		{"keep/no-angular-limit", []float64{7}, `{"maxForceNewtons":5}`, []float64{7}, false},
		{"refused/bad-envelope", []float64{0.1}, `{"maxAngularVelocityRps":"fast"}`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &msgs.JointState{Name: []string{"a", "b", "c"}[:len(tc.in)], Velocity: tc.in, Position: make([]float64, len(tc.in))}
			out, changed, err := clampMapped(rs[0], in, []byte(tc.env))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("clampMapped = %+v, want refused", out)
				}
				return
			}
			if err != nil || changed != tc.changed {
				t.Fatalf("clampMapped = %+v, %v, %v", out, changed, err)
			}
			got := out.(*msgs.JointState)
			if fmt.Sprint(got.Velocity) != fmt.Sprint(tc.want) || fmt.Sprint(got.Name) != fmt.Sprint(in.Name) {
				t.Fatalf("velocity %v names %v, want %v %v", got.Velocity, got.Name, tc.want, in.Name)
			}
		})
	}
}
