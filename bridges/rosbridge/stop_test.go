package rosbridge_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/testenv"
)

// echoOnce runs `rostopic echo -n 1 topic` (a driver joining late) for at
// most d and returns what it printed.
func echoOnce(t *testing.T, topic string, d time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	echo := testenv.ROSCommand(ctx, t, "rostopic", "echo", "-n", "1", topic)
	if echo == nil {
		t.FailNow() // ROSCommand failed or skipped already
	}
	var out strings.Builder
	echo.Stdout = &out
	_ = echo.Run()
	return out.String()
}

// TestStopSemantics drives the stop policies from the robot side (a Go
// subscriber as the driver, `rostopic echo` as a driver that joins late)
// with the real master and a real gateway: a deny on a motion route stops
// it, the stop is latched for late joiners and withdrawn by the next
// allowed command, hold sends nothing, hold-then-stop stops after its hold,
// and a re-send period streams the stop while it holds.
func TestStopSemantics(t *testing.T) {
	slow := &msgs.Twist{Linear: msgs.Vector3{X: 0.3}}
	tooFast := &msgs.Twist{Linear: msgs.Vector3{X: 1.5}}

	t.Run("deny/safe-stop-latched-for-a-late-rostopic-echo", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		if r == nil {
			return
		}
		r.publish(0, slow)
		if got := r.next(0, wait); got == nil || *got != *slow {
			t.Fatalf("got %+v, want %+v", got, slow)
		}
		r.publish(0, tooFast)
		r.report(rosbridge.OutcomeDeny, "PHYSICS_CONSTRAINT", wait)
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("after the deny got %+v, want the zero Twist", got)
		}
		rep := r.report(rosbridge.OutcomeSafeStop, "", wait)
		if rep.Topic != r.route(0).Agent {
			t.Errorf("safe-stop report %+v names no route", rep)
		}
		// A driver started after the stop receives it (latched).
		out := echoOnce(t, r.route(0).Actuator, 20*time.Second)
		if !strings.Contains(out, "linear:") || !strings.Contains(out, "x: 0.0") || strings.Contains(out, "0.3") {
			t.Fatalf("late rostopic echo printed %q, want the zero Twist", out)
		}
		// The next allowed command withdraws the kept stop and moves.
		r.publish(0, slow)
		if got := r.next(0, wait); got == nil || *got != *slow {
			t.Fatalf("got %+v, want %+v", got, slow)
		}
		if out := echoOnce(t, r.route(0).Actuator, 4*time.Second); out != "" {
			t.Fatalf("a driver joining after the resume received %q, want nothing (no stop holds)", out)
		}
	})

	t.Run("hold/deny-sends-nothing", func(t *testing.T) {
		r := newRig(t, rigOpts{stop: "deny=hold"})
		if r == nil {
			return
		}
		r.publish(0, tooFast)
		r.report(rosbridge.OutcomeDeny, "PHYSICS_CONSTRAINT", wait)
		r.publish(0, slow)
		if got := r.next(0, wait); got == nil || *got != *slow {
			t.Fatalf("got %+v first, want %+v (hold sends nothing)", got, slow)
		}
		if s := r.bridge.Stats(); s.RouteStops != 0 {
			t.Fatalf("stats %+v", s)
		}
	})

	t.Run("hold-then-stop/stops-after-the-hold", func(t *testing.T) {
		r := newRig(t, rigOpts{stop: "deny=hold-then-stop:300ms"})
		if r == nil {
			return
		}
		r.publish(0, tooFast)
		r.report(rosbridge.OutcomeDeny, "PHYSICS_CONSTRAINT", wait)
		rep := r.report(rosbridge.OutcomeSafeStop, "", wait)
		if !strings.Contains(rep.Reason, "held 300ms") {
			t.Errorf("report %+v", rep)
		}
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("got %+v, want the zero Twist after the hold", got)
		}
	})

	t.Run("resend/stream-while-stopped-ends-on-resume", func(t *testing.T) {
		r := newRig(t, rigOpts{stop: "resend=50ms"})
		if r == nil {
			return
		}
		r.publish(0, tooFast)
		r.report(rosbridge.OutcomeDeny, "PHYSICS_CONSTRAINT", wait)
		for i := range 4 {
			if got := r.next(0, wait); !isZero(got) {
				t.Fatalf("stop %d: got %+v, want the zero Twist again", i, got)
			}
		}
		r.publish(0, slow)
		for {
			got := r.next(0, wait)
			if got == nil {
				t.Fatal("the allowed command never arrived")
			}
			if *got == *slow {
				break
			}
		}
		if got := r.next(0, 300*time.Millisecond); got != nil {
			t.Fatalf("after the resume got %+v: the stop stream must end", got)
		}
	})
}

// TestFaultLatch kills a real sint-gateway process and starts it again on
// the same data directory and address: the bridge stops, and does not
// resume on its own when the gateway is back (a fault latches, default
// latched), until the configured reset: the bridge-local reset socket, or
// the gateway's e-stop tripped and reset by an operator. With reset=auto it
// resumes on its own.
func TestFaultLatch(t *testing.T) {
	slow := &msgs.Twist{Linear: msgs.Vector3{X: 0.3}}
	restart := func(t *testing.T, o rigOpts) *rig {
		t.Helper()
		if testenv.ROSMaster(t) == "" {
			return nil
		}
		o.proc = apptest.StartProcess(t, "testdata/policy.yaml")
		o.poll, o.every = true, 20*time.Millisecond
		r := newRig(t, o)
		r.publish(0, slow)
		if got := r.next(0, wait); got == nil || *got != *slow {
			t.Fatalf("got %+v, want %+v", got, slow)
		}
		o.proc.Kill()
		if got := r.next(0, wait); !isZero(got) {
			t.Fatalf("after the kill got %+v, want the zero Twist", got)
		}
		o.proc.Start() // same data directory, same address
		return r
	}
	// motionRefused sends slow until the bridge has reported it dropped
	// because of the fault latch, proving the gateway is back and allows.
	motionRefused := func(t *testing.T, r *rig) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			r.publish(0, slow)
			rep := r.report(rosbridge.OutcomeDropped, "", wait)
			if strings.Contains(rep.Reason, "fault stop latched") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("never refused for the fault latch; last report %+v", rep)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for {
			got := r.next(0, 300*time.Millisecond)
			if got == nil {
				break
			}
			if !isZero(got) {
				t.Fatalf("motion %+v forwarded after a gateway restart without a reset", got)
			}
		}
	}

	t.Run("restart/no-resume-until-the-local-reset", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "reset.sock")
		r := restart(t, rigOpts{resetSocket: sock})
		if r == nil {
			return
		}
		motionRefused(t, r)
		if f, why := r.bridge.FaultLatched(); !f {
			t.Fatal("no fault latched")
		} else {
			t.Logf("fault: %s", why)
		}
		ans, err := stopsem.SendReset(context.Background(), sock, "checked the cell")
		if err != nil || ans != "ok reset" {
			t.Fatalf("reset: %q %v", ans, err)
		}
		r.report(rosbridge.OutcomeReset, "", wait)
		// The reset moves nothing by itself; the next allowed command does.
		if got := r.next(0, 300*time.Millisecond); got != nil && !isZero(got) {
			t.Fatalf("the reset moved the robot: %+v", got)
		}
		r.publish(0, slow)
		for {
			got := r.next(0, wait)
			if got == nil {
				t.Fatal("the allowed command after the reset never arrived")
			}
			if *got == *slow {
				break
			}
		}
	})

	t.Run("restart/operator-trip-and-reset-resumes", func(t *testing.T) {
		r := restart(t, rigOpts{})
		if r == nil {
			return
		}
		motionRefused(t, r)
		if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "after restart"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "checked"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		r.report(rosbridge.OutcomeResumed, "", wait)
		r.publish(0, slow)
		for {
			got := r.next(0, wait)
			if got == nil {
				t.Fatal("the allowed command after the operator reset never arrived")
			}
			if *got == *slow {
				break
			}
		}
	})

	t.Run("restart/auto-resumes-without-a-reset", func(t *testing.T) {
		r := restart(t, rigOpts{reset: stopsem.ResetAuto})
		if r == nil {
			return
		}
		r.report(rosbridge.OutcomeResumed, "", wait)
		r.publish(0, slow)
		for {
			got := r.next(0, wait)
			if got == nil {
				t.Fatal("reset=auto: the allowed command never arrived")
			}
			if *got == *slow {
				break
			}
		}
	})
}
