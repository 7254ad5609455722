package stopsem

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/codes"
)

func TestParsePolicy(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		in   string
		want Policy
		ok   bool
	}{
		{"ok/hold", "deny=hold", Policy{OnRefused: Hold}, true},
		{"ok/safe-stop", "deny=safe-stop", Policy{OnRefused: SafeStop}, true},
		{"ok/hold-then-stop", "deny=hold-then-stop:500ms", Policy{OnRefused: HoldThenStop, StopAfter: 500 * time.Millisecond}, true},
		{"ok/motion-false", "motion=false", Policy{Motion: &no}, true},
		{"ok/all", "motion=true,deny=safe-stop,resend=100ms", Policy{Motion: &yes, OnRefused: SafeStop, Resend: 100 * time.Millisecond}, true},
		{"ok/resend-off", "resend=off", Policy{Resend: -1}, true},
		{"bad/empty", "", Policy{}, false},
		{"bad/unknown-key", "brake=now", Policy{}, false},
		{"bad/repeated", "deny=hold,deny=hold", Policy{}, false},
		{"bad/hold-then-stop-no-duration", "deny=hold-then-stop", Policy{}, false},
		{"bad/hold-then-stop-zero", "deny=hold-then-stop:0s", Policy{}, false},
		{"bad/hold-then-stop-too-long", "deny=hold-then-stop:2m", Policy{}, false},
		{"bad/hold-with-duration", "deny=hold:1s", Policy{}, false},
		{"bad/motion-yes", "motion=1", Policy{}, false},
		{"bad/resend-too-fast", "resend=1ms", Policy{}, false},
		{"bad/no-value", "deny=", Policy{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePolicy(tc.in)
			if !tc.ok {
				if codes.Of(err) != codes.MalformedRequest {
					t.Fatalf("ParsePolicy(%q) = %+v, %v; want MALFORMED_REQUEST", tc.in, got, err)
				}
				return
			}
			if err != nil || got.OnRefused != tc.want.OnRefused || got.StopAfter != tc.want.StopAfter || got.Resend != tc.want.Resend ||
				(got.Motion == nil) != (tc.want.Motion == nil) || (got.Motion != nil && *got.Motion != *tc.want.Motion) {
				t.Fatalf("ParsePolicy(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"deny=hold", "deny=hold-then-stop:1s,resend=50ms,motion=false", "resend=off", "a=b,c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePolicy(s)
		if err != nil {
			return
		}
		if p.OnRefused == HoldThenStop && (p.StopAfter <= 0 || p.StopAfter > MaxStopAfter) {
			t.Fatalf("%q: hold %v out of bounds", s, p.StopAfter)
		}
		if p.Resend > 0 && p.Resend < MinResend {
			t.Fatalf("%q: resend %v too fast", s, p.Resend)
		}
	})
}

// TestResolve: the defaults by classification, and the configurations that
// cannot run safely.
func TestResolve(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name            string
		p               Policy
		motion, hasStop bool
		wantMode        Mode
		ok              bool
	}{
		{"motion-defaults-to-safe-stop", Policy{}, true, true, SafeStop, true},
		{"non-motion-defaults-to-hold", Policy{Motion: &no}, true, false, Hold, true},
		{"motion-without-safe-stop-refused", Policy{}, true, false, "", false},
		{"stopping-policy-without-safe-stop-refused", Policy{Motion: &no, OnRefused: SafeStop}, true, false, "", false},
		{"hold-then-stop-without-hold-refused", Policy{OnRefused: HoldThenStop}, true, true, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Resolve(tc.motion, tc.hasStop, 0)
			if (err == nil) != tc.ok || (tc.ok && got.OnRefused != tc.wantMode) {
				t.Fatalf("Resolve = %+v, %v", got, err)
			}
		})
	}
}

// TestFaultsEstop: a fault latches until a deliberate reset under
// ResetLatched; an armed poll alone does not clear it; a trip seen after
// the fault and then armed does, and so does a grown epoch; ResetAuto
// clears on armed.
func TestFaultsEstop(t *testing.T) {
	unreachable := bridges.PollAction{Latch: "gateway unreachable", Fault: true}
	armed := bridges.PollAction{Unlatch: true}
	trip := bridges.PollAction{Latch: "e-stop tripped"}
	tripReset := bridges.PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}
	restarted := bridges.PollAction{Latch: "gateway restarted", Unlatch: true, Fault: true}
	for _, tc := range []struct {
		name    string
		mode    ResetMode
		actions []bridges.PollAction
		unlatch bool // the last action's unlatch survives
	}{
		{"latched/armed-after-fault-does-not-unlatch", ResetLatched, []bridges.PollAction{unreachable, armed}, false},
		{"latched/restart-does-not-unlatch", ResetLatched, []bridges.PollAction{restarted}, false},
		{"latched/trip-then-armed-unlatches", ResetLatched, []bridges.PollAction{unreachable, trip, armed}, true},
		{"latched/trip-before-fault-does-not-count", ResetLatched, []bridges.PollAction{trip, unreachable, armed}, false},
		{"latched/trip-and-reset-between-polls-unlatches", ResetLatched, []bridges.PollAction{unreachable, tripReset}, true},
		{"latched/no-fault-armed-unlatches", ResetLatched, []bridges.PollAction{trip, armed}, true},
		{"auto/armed-after-fault-unlatches", ResetAuto, []bridges.PollAction{unreachable, armed}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Faults{Mode: tc.mode}
			var last bridges.PollAction
			for _, a := range tc.actions {
				last = f.Estop(a)
			}
			if last.Unlatch != tc.unlatch {
				t.Fatalf("unlatch %v, want %v", last.Unlatch, tc.unlatch)
			}
		})
	}
	t.Run("local-reset-clears", func(t *testing.T) {
		var f Faults
		f.Fault("broker lost")
		if l, _ := f.Latched(); !l {
			t.Fatal("not latched")
		}
		if !f.Reset() {
			t.Fatal("Reset found nothing")
		}
		if got := f.Estop(armed); !got.Unlatch {
			t.Fatal("armed after a local reset does not unlatch")
		}
	})
	t.Run("attestation-failures-in-a-row", func(t *testing.T) {
		var f Faults
		if f.Attested(false) || f.Attested(false) || f.Attested(true) || f.Attested(false) || f.Attested(false) {
			t.Fatal("fault before three failures in a row")
		}
		if !f.Attested(false) {
			t.Fatal("no fault after three failures in a row")
		}
	})
}

// out records an Output's calls.
type out struct {
	mu           sync.Mutex
	stops, clear int
	fail         bool
	stopped      chan struct{}
}

func (o *out) Stop(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return errors.New("down")
	}
	o.stops++
	select {
	case o.stopped <- struct{}{}:
	default:
	}
	return nil
}

func (o *out) Clear(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clear++
	return nil
}

func (o *out) counts() (int, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stops, o.clear
}

func TestRouteRefused(t *testing.T) {
	t.Run("safe-stop-once-then-actuate-clears", func(t *testing.T) {
		o := &out{stopped: make(chan struct{}, 8)}
		r := New(Config{}).Add("r", Policy{OnRefused: SafeStop}, o)
		if !r.Refused("deny") || r.Refused("deny again") {
			t.Fatal("want one stop for two refusals")
		}
		if err := r.Actuate(); err != nil {
			t.Fatal(err)
		}
		if s, c := o.counts(); s != 1 || c != 1 {
			t.Fatalf("stops %d clears %d", s, c)
		}
		if st, _ := r.Stopped(); st {
			t.Fatal("still stopped after Actuate")
		}
	})
	t.Run("hold-then-stop-cancelled-by-actuate", func(t *testing.T) {
		o := &out{stopped: make(chan struct{}, 8)}
		r := New(Config{}).Add("r", Policy{OnRefused: HoldThenStop, StopAfter: 50 * time.Millisecond}, o)
		r.Refused("deny")
		if err := r.Actuate(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // past the hold: the stop must not come
		if s, _ := o.counts(); s != 0 {
			t.Fatalf("%d stops after an actuation cancelled the hold", s)
		}
	})
	t.Run("hold-then-stop-fires", func(t *testing.T) {
		o := &out{stopped: make(chan struct{}, 8)}
		fired := make(chan string, 1)
		s := New(Config{OnStop: func(_ *Route, why string) { fired <- why }})
		r := s.Add("r", Policy{OnRefused: HoldThenStop, StopAfter: 20 * time.Millisecond}, o)
		r.Refused("deny")
		select {
		case <-fired:
		case <-time.After(5 * time.Second):
			t.Fatal("the hold never ended in a stop")
		}
	})
	t.Run("resend-and-owed-retry", func(t *testing.T) {
		o := &out{stopped: make(chan struct{}, 64)}
		s := New(Config{Resend: 20 * time.Millisecond})
		r := s.Add("r", Policy{OnRefused: SafeStop, Resend: 20 * time.Millisecond}, o)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		r.Stop("latch")
		for i := range 4 {
			select {
			case <-o.stopped:
			case <-time.After(5 * time.Second):
				t.Fatalf("stop %d never re-sent", i)
			}
		}
	})
}

func TestResetSocket(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "reset.sock")
	var f Faults
	if err := ServeReset(ctx, path, func(string) bool { return f.Reset() }); err != nil {
		t.Fatal(err)
	}
	if ans, err := SendReset(ctx, path, ""); err != nil || ans != "ok not latched" {
		t.Fatalf("%q %v", ans, err)
	}
	f.Fault("gateway lost")
	if ans, err := SendReset(ctx, path, "checked"); err != nil || ans != "ok reset" {
		t.Fatalf("%q %v", ans, err)
	}
	if l, _ := f.Latched(); l {
		t.Fatal("still latched")
	}
	if _, err := SendReset(ctx, path, "two\nlines"); err == nil {
		t.Fatal("a two-line reason was sent")
	}
}
