package rosbridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/internal/testenv"
)

const wait = 5 * time.Second

func isZero(m *msgs.Twist) bool { return m != nil && *m == msgs.Twist{} }

func TestBridgeRealGateway(t *testing.T) {
	t.Run("allow/twist-arrives-unchanged", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		if r == nil {
			return
		}
		in := &msgs.Twist{Linear: msgs.Vector3{X: 0.3, Y: 0.1}, Angular: msgs.Vector3{Z: 0.2}}
		r.publish(0, in)
		got := r.next(0, wait)
		if got == nil || *got != *in {
			t.Fatalf("actuator got %+v, want %+v", got, in)
		}
		if s := r.bridge.Stats(); s.Forwarded != 1 || s.Clamped != 0 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("deny/too-fast-never-arrives", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		if r == nil {
			return
		}
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 1.5}})
		rep := r.report(rosbridge.OutcomeDeny, "PHYSICS_CONSTRAINT", wait)
		if rep.Topic != r.route(0).Agent || rep.RequestID == "" {
			t.Errorf("report %+v", rep)
		}
		// A motion route's deny means safe-stop (the default): the zero
		// Twist, never the too-fast one, then the next valid message.
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("actuator got %+v after the deny, want the zero Twist", got)
		}
		ok := &msgs.Twist{Linear: msgs.Vector3{X: 0.5}}
		r.publish(0, ok)
		if got := r.next(0, wait); got == nil || *got != *ok {
			t.Fatalf("actuator got %+v, want %+v (the too-fast one must never arrive)", got, ok)
		}
		if got := r.next(0, 200*time.Millisecond); got != nil {
			t.Fatalf("unexpected actuator message %+v", got)
		}
	})

	t.Run("estop/pushed-trip-publishes-zero-twist-before-the-next-poll", func(t *testing.T) {
		// One poll at start, the next in an hour: only the pushed trip can
		// stop the actuators within the test.
		r := newRig(t, rigOpts{poll: true, every: time.Hour})
		if r == nil {
			return
		}
		r.gw.waitStreams(t, 1)
		if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "pushed"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v, want the zero Twist", got)
		}
		if latched, why := r.bridge.Latched(); !latched || !strings.Contains(why, "(pushed): pushed") {
			t.Fatalf("latched=%v %q", latched, why)
		}
	})

	t.Run("estop/poll-publishes-zero-twist-and-blocks-until-reset", func(t *testing.T) {
		r := newRig(t, rigOpts{poll: true, every: 20 * time.Millisecond, routes: []string{"cmd_vel", "base/cmd_vel"}})
		if r == nil {
			return
		}
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}})
		if r.next(0, wait) == nil {
			t.Fatal("no motion before the trip")
		}
		start := time.Now()
		if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		for i := range r.routes {
			if got := r.next(i, wait); !isZero(got) {
				t.Fatalf("route %d: got %+v after the trip, want a zero Twist", i, got)
			}
		}
		t.Logf("trip acknowledged → zero Twist on the actuator topics: %v (poll every 20 ms)", time.Since(start))
		r.report(rosbridge.OutcomeSafeStop, "", wait)
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}})
		r.report(rosbridge.OutcomeDeny, "ESTOP_ENGAGED", wait)
		if got := r.next(0, 200*time.Millisecond); got != nil {
			t.Fatalf("motion forwarded while tripped: %+v", got)
		}
		if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		r.report(rosbridge.OutcomeResumed, "", wait)
		in := &msgs.Twist{Linear: msgs.Vector3{X: 0.1}}
		r.publish(0, in)
		if got := r.next(0, wait); got == nil || *got != *in {
			t.Fatalf("after reset got %+v", got)
		}
	})

	t.Run("estop/deny-latches-without-poll", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		if r == nil {
			return
		}
		if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}})
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v, want the zero Twist", got)
		}
		r.report(rosbridge.OutcomeDeny, "ESTOP_ENGAGED", wait)
		if latched, why := r.bridge.Latched(); !latched || !strings.Contains(why, "ESTOP_ENGAGED") {
			t.Fatalf("latched=%v %q", latched, why)
		}
		if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		in := &msgs.Twist{Linear: msgs.Vector3{X: 0.1}}
		r.publish(0, in)
		if got := r.next(0, wait); got == nil || *got != *in {
			t.Fatalf("after reset got %+v", got)
		}
		if latched, _ := r.bridge.Latched(); latched {
			t.Fatal("still latched after an allow")
		}
	})

	t.Run("unreachable/killed-gateway-poll-publishes-safe-stop", func(t *testing.T) {
		r := newRig(t, rigOpts{poll: true, every: 20 * time.Millisecond})
		if r == nil {
			return
		}
		r.gw.stop()
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v, want the zero Twist", got)
		}
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}})
		r.report(rosbridge.OutcomeDropped, "INTERNAL_ERROR", wait)
		if got := r.next(0, 300*time.Millisecond); got != nil {
			t.Fatalf("forwarded without a gateway: %+v", got)
		}
	})

	t.Run("unreachable/killed-gateway-no-poll-stops-on-next-message", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		if r == nil {
			return
		}
		r.gw.stop()
		r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.2}})
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v, want the zero Twist", got)
		}
		if got := r.next(0, 300*time.Millisecond); got != nil {
			t.Fatalf("forwarded without a gateway: %+v", got)
		}
	})

	t.Run("escalate/held-until-approved", func(t *testing.T) {
		r := newRig(t, rigOpts{routes: []string{"arm/joint_cmd"}})
		if r == nil {
			return
		}
		in := &msgs.Twist{Angular: msgs.Vector3{Z: 0.3}}
		r.publish(0, in)
		rep := r.report(rosbridge.OutcomeEscalate, "", wait)
		// Pending escalation on a motion route: the safe stop (default).
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v while the escalation is pending, want the zero Twist", got)
		}
		if got := r.next(0, 200*time.Millisecond); got != nil {
			t.Fatalf("escalated message forwarded before approval: %+v", got)
		}
		if st := r.gw.admin("POST", "/v1/approvals/"+rep.ApprovalID+"/approve", map[string]string{"reason": "ok"}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if got := r.next(0, wait); got == nil || *got != *in {
			t.Fatalf("after approval got %+v", got)
		}
	})

	t.Run("escalate/denied-approval-reported-not-forwarded", func(t *testing.T) {
		r := newRig(t, rigOpts{routes: []string{"arm/joint_cmd"}})
		if r == nil {
			return
		}
		r.publish(0, &msgs.Twist{Angular: msgs.Vector3{Z: 0.3}})
		rep := r.report(rosbridge.OutcomeEscalate, "", wait)
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v while the escalation is pending, want the zero Twist", got)
		}
		if st := r.gw.admin("POST", "/v1/approvals/"+rep.ApprovalID+"/deny", map[string]string{"reason": "no"}, nil); st != 200 {
			t.Fatalf("deny: %d", st)
		}
		d := r.report(rosbridge.OutcomeDeny, "APPROVAL_DENIED", wait)
		if d.RequestID != rep.RequestID {
			t.Errorf("deny for %s, want %s", d.RequestID, rep.RequestID)
		}
		if got := r.next(0, 200*time.Millisecond); got != nil {
			t.Fatalf("denied message forwarded: %+v", got)
		}
	})

	t.Run("escalate/newer-motion-supersedes-held", func(t *testing.T) {
		// deny=hold: this test is about the held message, not the stop.
		r := newRig(t, rigOpts{routes: []string{"arm/joint_cmd"}, stop: "deny=hold"})
		if r == nil {
			return
		}
		first := &msgs.Twist{Angular: msgs.Vector3{Z: 0.3}}
		second := &msgs.Twist{Angular: msgs.Vector3{Z: 0.1}}
		r.publish(0, first)
		a := r.report(rosbridge.OutcomeEscalate, "", wait)
		r.publish(0, second)
		sup := r.report(rosbridge.OutcomeSuperseded, "", wait)
		if sup.RequestID != a.RequestID {
			t.Errorf("superseded %s, want %s", sup.RequestID, a.RequestID)
		}
		b := r.report(rosbridge.OutcomeEscalate, "", wait)
		r.gw.admin("POST", "/v1/approvals/"+a.ApprovalID+"/approve", map[string]string{"reason": "late"}, nil)
		if got := r.next(0, 300*time.Millisecond); got != nil {
			t.Fatalf("superseded message forwarded: %+v", got)
		}
		if st := r.gw.admin("POST", "/v1/approvals/"+b.ApprovalID+"/approve", map[string]string{"reason": "ok"}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if got := r.next(0, wait); got == nil || *got != *second {
			t.Fatalf("after approval got %+v, want %+v", got, second)
		}
	})
}

// TestBridgeWithRostopic drives the bridge with the real ROS tools:
// `rostopic pub` on the agent topic, `rostopic echo` on the actuator topic.
func TestBridgeWithRostopic(t *testing.T) {
	r := newRig(t, rigOpts{})
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	echo := testenv.ROSCommand(ctx, t, "rostopic", "echo", "-n", "1", r.route(0).Actuator)
	if echo == nil {
		return
	}
	var out strings.Builder
	echo.Stdout = &out
	if err := echo.Start(); err != nil {
		t.Fatal(err)
	}
	// Publish at 10 Hz with rostopic until rostopic echo has printed one
	// message (echo may subscribe after the first one went out).
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	pub := testenv.ROSCommand(pctx, t, "rostopic", "pub", "-r", "10", r.route(0).Agent, "geometry_msgs/Twist",
		"{linear: {x: 0.25, y: 0.0, z: 0.0}, angular: {x: 0.0, y: 0.0, z: -0.5}}")
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { pcancel(); _ = pub.Wait() }()
	want := &msgs.Twist{Linear: msgs.Vector3{X: 0.25}, Angular: msgs.Vector3{Z: -0.5}}
	if got := r.next(0, wait); got == nil || *got != *want {
		t.Fatalf("actuator got %+v, want %+v", got, want)
	}
	if err := echo.Wait(); err != nil {
		t.Fatalf("rostopic echo: %v", err)
	}
	pcancel()
	text := out.String()
	if !strings.Contains(text, "x: 0.25") || !strings.Contains(text, "z: -0.5") {
		t.Fatalf("rostopic echo printed:\n%s", text)
	}
}
