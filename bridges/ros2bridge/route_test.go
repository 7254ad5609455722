package ros2bridge

import (
	"math"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/codes"
)

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Route // zero: error
	}{
		{"ok/twist-default", "/agent/cmd_vel=/cmd_vel", Route{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}},
		{"ok/relative", "agent/cmd_vel=cmd_vel", Route{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}},
		{"ok/full-type", "/a/traj=/arm_controller/joint_trajectory:trajectory_msgs/msg/JointTrajectory", Route{Agent: "/a/traj", Actuator: "/arm_controller/joint_trajectory", Type: msgs.JointTrajectoryType}},
		{"ok/short-type", "/a/cmd=/fwd/commands:std_msgs/Float64MultiArray", Route{Agent: "/a/cmd", Actuator: "/fwd/commands", Type: msgs.Float64MultiArrayType}},
		{"bad/no-equals", "/agent/cmd_vel", Route{}},
		{"bad/same-topic", "/cmd_vel=/cmd_vel", Route{}},
		{"bad/unknown-type", "/a=/b:sensor_msgs/msg/Image", Route{}},
		{"bad/empty-segment", "/a//b=/c", Route{}},
		{"bad/digit-start", "/1a=/b", Route{}},
		{"bad/dds-prefix-char", "/a=rt/b:x", Route{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRoute(tc.in)
			if tc.want.Agent == "" {
				if err == nil || codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParseRoute(%q) = %+v, %v; want MALFORMED_REQUEST", tc.in, got, err)
				}
				return
			}
			if err != nil || got.Agent != tc.want.Agent || got.Actuator != tc.want.Actuator || got.Type.Name != tc.want.Type.Name {
				t.Fatalf("ParseRoute(%q) = %+v, %v", tc.in, got, err)
			}
		})
	}
	r, _ := ParseRoute("/agent/cmd_vel=/robot1/cmd_vel")
	if r.Resource() != "ros2:///robot1/cmd_vel" {
		t.Errorf("Resource = %q", r.Resource())
	}
}

func TestRouteSettings(t *testing.T) {
	routes := func() []Route {
		a, _ := ParseRoute("/agent/cmd_vel=/cmd_vel")
		b, _ := ParseRoute("/agent/cmd=/fwd/commands:std_msgs/msg/Float64MultiArray")
		return []Route{a, b}
	}
	t.Run("qos", func(t *testing.T) {
		rs := routes()
		if err := SetQoS(rs, "/cmd_vel=best_effort,depth=1"); err != nil || rs[0].QoS != (dds.QoS{BestEffort: true, Depth: 1}) {
			t.Fatalf("%v %+v", err, rs[0].QoS)
		}
		for _, bad := range []string{"/cmd_vel", "/nope=reliable", "/cmd_vel=fast"} {
			if err := SetQoS(rs, bad); err == nil {
				t.Errorf("SetQoS(%q) accepted", bad)
			}
		}
	})
	t.Run("safe-stop", func(t *testing.T) {
		rs := routes()
		if err := SetSafeStop(rs, `/fwd/commands={"data":[0,0]}`); err != nil {
			t.Fatal(err)
		}
		if m, ok := rs[1].SafeStop.(*msgs.Float64MultiArray); !ok || len(m.Data) != 2 {
			t.Fatalf("%+v", rs[1].SafeStop)
		}
		for _, bad := range []string{`/cmd_vel={"linear":{"x":"0"}}`, `/cmd_vel={"speed":0}`, `/cmd_vel=[]`, `/other={}`} {
			if err := SetSafeStop(rs, bad); err == nil {
				t.Errorf("SetSafeStop(%q) accepted", bad)
			}
		}
	})
	t.Run("physical", func(t *testing.T) {
		rs := routes()
		if err := CheckPhysical(rs[1]); err == nil || !strings.Contains(err.Error(), "no payload mapping") {
			t.Fatalf("unmapped Float64MultiArray route accepted: %v", err)
		}
		if err := SetMapping(rs, `/fwd/commands={"path":"/data/*","quantity":"angularVelocity","unit":"rad/s"}`); err != nil {
			t.Fatal(err)
		}
		if err := CheckPhysical(rs[1]); err != nil {
			t.Fatal(err)
		}
		if err := SetNonPhysical(rs, "/cmd_vel"); err != nil {
			t.Fatal(err)
		}
		if err := CheckPhysical(rs[0]); err == nil {
			t.Fatal("a Twist route declared non-physical")
		}
	})
}

// TestCodecClampTyped: an allowed motion message above the attested
// envelope is clamped by type (the gateway normally denies it first; the
// clamp holds if the envelope is narrower than what was checked).
func TestCodecClampTyped(t *testing.T) {
	env := []byte(`{"maxVelocityMps":1,"maxAngularVelocityRps":2,"maxForceNewtons":10,"maxTorqueNm":1}`)
	for _, tc := range []struct {
		name    string
		in      msgs.Message
		changed bool
		check   func(m msgs.Message) bool
	}{
		{"twist", &msgs.Twist{Linear: msgs.Vector3{X: 3, Y: 4}, Angular: msgs.Vector3{Z: -6}}, true, func(m msgs.Message) bool {
			v := m.(*msgs.Twist)
			return math.Abs(math.Hypot(v.Linear.X, v.Linear.Y)-1) < 1e-9 && math.Abs(v.Linear.X/v.Linear.Y-0.75) < 1e-9 && math.Abs(v.Angular.Z+2) < 1e-9
		}},
		{"twist-inside", &msgs.Twist{Linear: msgs.Vector3{X: 0.5}}, false, nil},
		{"twist-stamped", &msgs.TwistStamped{Header: msgs.Header{FrameID: "base"}, Twist: msgs.Twist{Linear: msgs.Vector3{X: 2}}}, true, func(m msgs.Message) bool {
			v := m.(*msgs.TwistStamped)
			return math.Abs(v.Twist.Linear.X-1) < 1e-9 && v.Header.FrameID == "base"
		}},
		{"wrench", &msgs.Wrench{Force: msgs.Vector3{Z: 20}, Torque: msgs.Vector3{X: 3}}, true, func(m msgs.Message) bool {
			v := m.(*msgs.Wrench)
			return math.Abs(v.Force.Z-10) < 1e-9 && math.Abs(v.Torque.X-1) < 1e-9
		}},
		{"trajectory", &msgs.JointTrajectory{JointNames: msgs.Strings{"a", "b"}, Points: msgs.Points{{Velocities: msgs.Float64s{3, 0.5}}}}, true, func(m msgs.Message) bool {
			// A point's velocities are one vector (the gateway reads its norm).
			v := m.(*msgs.JointTrajectory).Points[0].Velocities
			return math.Hypot(v[0], v[1]) <= 2 && math.Hypot(v[0], v[1]) > 1.999 && math.Abs(v[0]/v[1]-6) < 1e-9
		}},
		{"empty-trajectory", &msgs.JointTrajectory{}, false, nil},
		{"trajectory-without-velocities", &msgs.JointTrajectory{Points: msgs.Points{{Positions: msgs.Float64s{1}}}}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Route{Type: tc.in.Type()}
			out, changed, err := newCodec(r).Clamp(tc.in, env)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v (%+v)", changed, tc.changed, out)
			}
			if tc.check != nil && !tc.check(out.(msgs.Message)) {
				t.Fatalf("clamped to %+v", out)
			}
		})
	}
	if _, _, err := newCodec(Route{Type: msgs.TwistType}).Clamp(&msgs.Twist{}, []byte(`{"maxVelocityMps":"fast"}`)); err == nil {
		t.Fatal("unreadable envelope accepted")
	}
}
