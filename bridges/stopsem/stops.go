package stopsem

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Output is how a bridge's transport carries one route's safe stop. Both
// methods are called with the route's lock held, never concurrently for one
// route, and must not wait for the bridge's own locks.
type Output interface {
	// Stop publishes the route's safe stop and keeps it for subscribers
	// that join later (a latched ROS publisher, a retained MQTT message);
	// it is also the periodic re-send.
	Stop(ctx context.Context) error
	// Clear withdraws the kept safe stop (the latch of the publisher, the
	// retained message) before the next allowed command is published.
	Clear(ctx context.Context) error
}

// Config configures Stops.
type Config struct {
	// Resend is the default re-send period of stopped routes whose policy
	// names none; 0 or negative: no re-send by default.
	Resend time.Duration
	// Timeout bounds one Output call; default 2 s.
	Timeout time.Duration
	// OnStop, if set, is called after a stop the route policy decided on
	// its own (hold-then-stop expiring), with the route and the reason,
	// outside every lock.
	OnStop func(r *Route, reason string)
	Log    *slog.Logger
}

// Stops is the stop state of one bridge's routes. Create it with New, add
// the routes with Add, run the re-send loop with Run. Safe for concurrent
// use.
type Stops struct {
	cfg    Config
	mu     sync.Mutex
	routes []*Route
	wake   chan struct{} // capacity 1: a route stopped (the re-send loop re-plans)
}

// New returns an empty Stops.
func New(cfg Config) *Stops {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Stops{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Route is the stop state of one route.
type Route struct {
	s      *Stops
	name   string
	policy Policy
	out    Output // nil: the route has no safe stop

	mu       sync.Mutex
	gen      uint64 // bumped by every actuation and stop: a pending hold-then-stop checks it
	stopped  bool   // the safe stop was sent (or owed) and not yet withdrawn
	reason   string
	owed     bool // the last Stop failed: the next re-send or stop tries again
	lastSent time.Time
	timer    *time.Timer // pending hold-then-stop
}

// Add registers a route with its resolved policy (Policy.Resolve) and its
// output (nil when the route has no safe stop).
func (s *Stops) Add(name string, p Policy, out Output) *Route {
	r := &Route{s: s, name: name, policy: p, out: out}
	s.mu.Lock()
	s.routes = append(s.routes, r)
	s.mu.Unlock()
	return r
}

// Name returns the route's name (its actuator or device topic).
func (r *Route) Name() string { return r.name }

// Policy returns the route's resolved policy.
func (r *Route) Policy() Policy { return r.policy }

// Stopped reports whether the route's safe stop is in force, and why.
func (r *Route) Stopped() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopped, r.reason
}

// Stop sends the route's safe stop now and keeps it in force until the next
// actuation (Actuate): the bridge latched, or a command was refused with
// mode SafeStop. It reports whether the stop reached the transport (a route
// without a safe stop has nothing to send and reports true). A failed stop
// is owed: the re-send loop and the next Stop try it again.
func (r *Route) Stop(reason string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopLocked(reason)
}

func (r *Route) stopLocked(reason string) bool {
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	r.stopped, r.reason = true, reason
	if r.out == nil {
		return true
	}
	ok := r.send()
	r.s.kick()
	return ok
}

// send calls Output.Stop; r.mu is held.
func (r *Route) send() bool {
	ctx, cancel := context.WithTimeout(context.Background(), r.s.cfg.Timeout)
	defer cancel()
	err := r.out.Stop(ctx)
	r.lastSent = time.Now()
	r.owed = err != nil
	if err != nil {
		r.s.cfg.Log.Error("safe stop publish failed", "route", r.name, "err", err)
	}
	return err == nil
}

// Refused applies the route's policy to a command that is not carried out
// (a deny; an escalation pending, expired or denied): Hold does nothing,
// SafeStop stops now, HoldThenStop stops after Policy.StopAfter unless an
// actuation or another stop comes first. It reports whether a stop was sent
// now.
func (r *Route) Refused(reason string) (stoppedNow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.policy.OnRefused {
	case SafeStop:
		if r.out == nil || r.stopped {
			return false // nothing to send, or the stop already holds
		}
		r.stopLocked(reason)
		return true
	case HoldThenStop:
		if r.out == nil || r.stopped || r.timer != nil {
			return false // already stopped, or a stop is already pending
		}
		gen := r.gen
		r.timer = time.AfterFunc(r.policy.StopAfter, func() {
			r.mu.Lock()
			if r.gen != gen { // an actuation or a stop came first
				r.mu.Unlock()
				return
			}
			r.timer = nil
			why := reason + " (held " + r.policy.StopAfter.String() + ", then stopped)"
			r.stopLocked(why)
			r.mu.Unlock()
			if f := r.s.cfg.OnStop; f != nil {
				f(r, why)
			}
		})
	}
	return false
}

// Actuate must be called, with whatever lock orders the bridge's publishes,
// right before an allowed command is published on the route: it cancels a
// pending hold-then-stop and withdraws a kept safe stop. If the withdrawal
// fails the command must not be published (a late joiner would see a stop
// that no longer holds, and the transport is failing anyway): the error says
// why.
func (r *Route) Actuate() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
	if !r.stopped || r.out == nil {
		r.stopped, r.reason = false, ""
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.s.cfg.Timeout)
	defer cancel()
	if err := r.out.Clear(ctx); err != nil {
		return err
	}
	r.stopped, r.reason, r.owed = false, "", false
	return nil
}

// kick wakes the re-send loop.
func (s *Stops) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run re-sends the safe stop of every stopped route whose policy re-sends
// (and retries owed ones) until ctx ends.
func (s *Stops) Run(ctx context.Context) {
	const idle = time.Second
	for {
		next := s.resendDue(time.Now())
		if next <= 0 {
			next = idle
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// resendDue re-sends every due route and returns the wait until the next
// one is due (0: none is).
func (s *Stops) resendDue(now time.Time) time.Duration {
	s.mu.Lock()
	routes := append([]*Route(nil), s.routes...)
	s.mu.Unlock()
	var next time.Duration
	for _, r := range routes {
		r.mu.Lock()
		period := r.policy.Resend
		if r.owed && (period <= 0 || period > time.Second) {
			period = time.Second // an owed stop is retried every second at least
		}
		if r.stopped && r.out != nil && period > 0 {
			due := r.lastSent.Add(period)
			if !now.Before(due) {
				r.send()
				due = r.lastSent.Add(period)
			}
			if w := due.Sub(now); w > 0 && (next == 0 || w < next) {
				next = w
			}
		}
		r.mu.Unlock()
	}
	return next
}
