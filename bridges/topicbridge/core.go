package topicbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// The gateway-facing interfaces and the e-stop reader are shared by every
// bridge (package bridges).
type (
	Decider             = bridges.Decider
	AttestationVerifier = bridges.AttestationVerifier
	EstopReader         = bridges.EstopReader
)

// Defaults of Config.
const (
	DefaultPollInterval = 50 * time.Millisecond
	DefaultCallTimeout  = 2 * time.Second
	// DefaultMaxHold bounds how long an escalated message is held (the
	// gateway's tier-3 timeout is 60 s by default; tier 5 is 15 min).
	DefaultMaxHold = 15 * time.Minute
	// DefaultLinkCheck is the default of Config.LinkCheck.
	DefaultLinkCheck = time.Second
)

// Message is one agent message, opaque to the core (the transport's type).
type Message = any

// Codec is a route's view of its messages.
type Codec interface {
	// Params returns the message's JSON form: the intercept's params and
	// the bytes whose hash the attestation must carry. An error (a value
	// JSON cannot hold) drops the message.
	Params(m Message) ([]byte, error)
	// Clamp returns the message to publish for an allow whose attested
	// envelope is envelope (m itself when nothing changed) and whether it
	// changed. An error (an envelope it cannot read, a value it cannot
	// bring inside) drops the message.
	Clamp(m Message, envelope []byte) (Message, bool, error)
}

// Output is a route's actuator publisher.
type Output interface {
	Publish(ctx context.Context, m Message) error
}

// Route is one agent topic → actuator topic mapping, as the core sees it.
type Route struct {
	Agent    string // agent-side topic (Report.Topic)
	Resource string // intercept resource
	Codec    Codec
	Out      Output
	// SafeStop carries the route's safe stop (publish and keep, withdraw);
	// nil: the route has none.
	SafeStop stopsem.Output
	// Stop is the route's stop policy as configured (resolved by New).
	Stop stopsem.Policy
}

// Config configures a Core. Gateway, Verifier, Report and one of
// TokenID/Token are required.
type Config struct {
	Name     string // error and log prefix, e.g. "rosbridge"
	Gateway  Decider
	Verifier AttestationVerifier
	Estop    EstopReader // optional: nil means no e-stop watch

	TokenID string   // registered capability token id, or
	Token   string   // the token's compact JWS
	Chain   []string // ancestors' JWS for an unregistered delegated Token

	Issuer       string        // optional: the gateway id attestations must name
	PollInterval time.Duration // e-stop poll period; default DefaultPollInterval
	CallTimeout  time.Duration // per intercept / poll; default DefaultCallTimeout
	MaxHold      time.Duration // longest wait for an approval; default DefaultMaxHold
	// KeepAll makes the bridge send every message to the gateway in order.
	// By default a route coalesces: while an intercept is in flight only the
	// newest waiting message is kept (older ones are counted in
	// Stats.Coalesced and never actuated).
	KeepAll bool
	Now     func() time.Time
	Log     *slog.Logger

	// Stop semantics (package stopsem, docs/stop-semantics.md): Reset says
	// what clears a fault stop, StopResend re-sends a stopped route's safe
	// stop this often (routes whose policy names no period; 0: never),
	// MaxAttestFailures attestation failures in a row are a fault (0:
	// stopsem.DefaultMaxAttestFailures, negative: never), ResetSocket is
	// the Unix socket of the bridge-local reset input.
	Reset             stopsem.ResetMode
	StopResend        time.Duration
	MaxAttestFailures int
	ResetSocket       string

	// LinkCheck is the period of Links; 0: DefaultLinkCheck, negative: no
	// check. Links returns a non-empty fault (the transport's link to the
	// robot lost), which latches the bridge until a reset.
	LinkCheck time.Duration
	Links     func(ctx context.Context) (fault string)

	// Report publishes one report (the transport's decisions topic). It
	// must not block for long.
	Report func(Report)

	// Observe, if set, is called with the Timing of every message published
	// on an actuator topic on the allow of its own intercept (not after an
	// approval), after the publish returned (benchmarks: the bridge's own
	// share of the latency). It must not block. Nil: nothing is measured.
	Observe func(Timing)
}

// Stats are the bridge's counters.
type Stats struct {
	Forwarded, Clamped, Denied, Escalated, Dropped, SafeStops, Coalesced int64
	// RouteStops counts safe stops of single routes (refused commands
	// under a stopping policy); SafeStops counts the bridge's latches.
	RouteStops int64
}

// Core is the decision flow of a topic bridge. Create it with New, run it
// with Run. Its methods are safe for concurrent use.
type Core struct {
	cfg    Config
	routes []*route

	ctx context.Context // Run's context; handlers use it

	mu          sync.Mutex // orders actuator publishes against latching
	gen         uint64     // bumped by every latch
	latched     bool
	latchReason string
	watch       bridges.EstopWatch
	stops       *stopsem.Stops
	faults      stopsem.Faults

	forwarded, clamped, denied, escalated, dropped, safeStops, coalesced, routeStops atomic.Int64
}

type route struct {
	Route
	stop *stopsem.Route

	hmu     sync.Mutex
	seq     uint64             // bumped by every message on the route
	held    context.CancelFunc // the held escalation's wait, if any
	heldReq string

	mmu     sync.Mutex // guards pending
	pending Message
	has     bool
	wake    chan struct{} // capacity 1: pending was set
}

// offer puts m in the route's one-slot mailbox and reports whether it
// replaced a message not yet handled.
func (r *route) offer(m Message) (replaced bool) {
	r.mmu.Lock()
	replaced = r.has
	r.pending, r.has = m, true
	r.mmu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return replaced
}

func (r *route) take() (Message, bool) {
	r.mmu.Lock()
	defer r.mmu.Unlock()
	m, ok := r.pending, r.has
	r.pending, r.has = nil, false
	return m, ok
}

// New checks cfg and the routes and returns the core. Nothing is
// forwarded before Run.
func New(cfg Config, routes []Route) (*Core, error) {
	if cfg.Name == "" {
		cfg.Name = "topicbridge"
	}
	switch {
	case cfg.Gateway == nil || cfg.Verifier == nil:
		return nil, fmt.Errorf("%s: Gateway and Verifier are required", cfg.Name)
	case cfg.Report == nil:
		return nil, fmt.Errorf("%s: Report is required", cfg.Name)
	case len(routes) == 0:
		return nil, fmt.Errorf("%s: no routes", cfg.Name)
	case (cfg.TokenID == "") == (cfg.Token == ""):
		return nil, fmt.Errorf("%s: set exactly one of TokenID and Token", cfg.Name)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.LinkCheck == 0 {
		cfg.LinkCheck = DefaultLinkCheck
	}
	c := &Core{cfg: cfg, ctx: context.Background()}
	c.faults.Mode, c.faults.MaxAttestFailures = cfg.Reset, cfg.MaxAttestFailures
	c.stops = stopsem.New(stopsem.Config{Resend: cfg.StopResend, Timeout: cfg.CallTimeout, Log: cfg.Log,
		OnStop: func(sr *stopsem.Route, reason string) {
			c.routeStops.Add(1)
			c.report(Report{Outcome: OutcomeSafeStop, Topic: sr.Name(), Reason: reason})
		}})
	for _, r := range routes {
		if r.Codec == nil || r.Out == nil {
			return nil, fmt.Errorf("%s: route %s: Codec and Out are required", cfg.Name, r.Agent)
		}
		pol, err := r.Stop.Resolve(true, r.SafeStop != nil, cfg.StopResend)
		if err != nil {
			return nil, fmt.Errorf("%s: route %s: %w", cfg.Name, r.Agent, err)
		}
		rt := &route{Route: r, wake: make(chan struct{}, 1)}
		rt.stop = c.stops.Add(r.Agent, pol, r.SafeStop)
		c.routes = append(c.routes, rt)
	}
	return c, nil
}

// Stats returns the counters.
func (c *Core) Stats() Stats {
	return Stats{c.forwarded.Load(), c.clamped.Load(), c.denied.Load(), c.escalated.Load(), c.dropped.Load(), c.safeStops.Load(), c.coalesced.Load(), c.routeStops.Load()}
}

// Reset is the bridge-local reset input (also served on Config.ResetSocket):
// it clears a fault latch and reports whether one was latched. It moves
// nothing: the bridge unlatches at the next e-stop poll that reads armed
// (or, without an e-stop watch, at the next allow), and a route moves again
// only with its next allowed command.
func (c *Core) Reset(reason string) bool {
	was := c.faults.Reset()
	if was {
		c.cfg.Log.Warn("fault latch reset (bridge-local)", "reason", reason)
		c.report(Report{Outcome: OutcomeReset, Reason: reason})
	}
	return was
}

// FaultLatched reports whether a fault holds the bridge stopped until a
// reset, and the fault.
func (c *Core) FaultLatched() (bool, string) { return c.faults.Latched() }

// Latched reports whether the bridge is stopped, and why.
func (c *Core) Latched() (bool, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latched, c.latchReason
}

// Subscribe is the transport's part of Run: it subscribes route i's agent
// topic with handlers[i] (called with each message, in order) and returns
// a function that closes the subscriptions.
type Subscribe func(ctx context.Context, handlers []func(Message)) (closeAll func(), err error)

// Run serves the reset socket, polls the e-stop once (so that a tripped or
// unreachable gateway latches the bridge before any message), subscribes
// through subscribe and forwards until ctx ends or done (the transport's
// end, nil: never) is closed. On return it publishes the safe stops (a
// bridge that stops forwarding leaves the actuators stopped).
func (c *Core) Run(ctx context.Context, subscribe Subscribe, done <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.ctx = ctx
	if c.cfg.ResetSocket != "" {
		if err := stopsem.ServeReset(ctx, c.cfg.ResetSocket, c.Reset); err != nil {
			return fmt.Errorf("%s: %w", c.cfg.Name, err)
		}
	}
	if c.cfg.Estop != nil {
		c.poll(ctx)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel() // stop the workers before waiting for them
	handlers := make([]func(Message), len(c.routes))
	for i, r := range c.routes {
		handlers[i] = func(m Message) { c.handle(r, m) }
		if !c.cfg.KeepAll {
			wg.Add(1)
			go func() { defer wg.Done(); c.work(ctx, r) }()
			handlers[i] = func(m Message) {
				if r.offer(m) {
					c.coalesced.Add(1)
				}
			}
		}
	}
	closeAll, err := subscribe(ctx, handlers)
	if err != nil {
		return fmt.Errorf("%s: %w", c.cfg.Name, err)
	}
	defer closeAll()
	var tick, linkTick <-chan time.Time
	if c.cfg.Estop != nil {
		t := time.NewTicker(c.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
		if s, ok := c.cfg.Estop.(bridges.EstopSubscriber); ok {
			wg.Add(1)
			go func() { defer wg.Done(); c.watch.Follow(ctx, s, c.apply, c.cfg.Log) }()
		}
	}
	if c.cfg.LinkCheck > 0 && c.cfg.Links != nil {
		t := time.NewTicker(c.cfg.LinkCheck)
		defer t.Stop()
		linkTick = t.C
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.stops.Run(ctx) }()
	defer c.latch("bridge stopped")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return fmt.Errorf("%s: transport shut down", c.cfg.Name)
		case <-tick:
			c.poll(ctx)
		case <-linkTick:
			if fault := c.cfg.Links(ctx); fault != "" && ctx.Err() == nil {
				c.LatchFault(fault)
			}
		}
	}
}

// work handles the newest message of the route's mailbox until ctx ends.
func (c *Core) work(ctx context.Context, r *route) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		if m, ok := r.take(); ok {
			c.handle(r, m)
		}
	}
}

// LatchFault latches a fault (stopsem.Faults) and the bridge: it holds
// until a deliberate reset.
func (c *Core) LatchFault(reason string) {
	c.faults.Fault(reason)
	c.latch(reason)
}

// poll reads the e-stop state once and latches or unlatches.
func (c *Core) poll(ctx context.Context) {
	c.watch.Poll(ctx, c.cfg.Estop, c.cfg.CallTimeout, c.apply)
}

// apply carries out what the e-stop watch asks (a poll or a pushed trip),
// through the fault latch: an unlatch that is no deliberate reset after a
// fault is dropped.
func (c *Core) apply(a bridges.PollAction) {
	a = c.faults.Estop(a)
	if a.Latch != "" {
		c.latch(a.Latch)
	}
	if a.Unlatch {
		c.unlatch("e-stop armed")
	}
}

// latch stops the bridge: it invalidates every allow in flight, cancels held
// escalations and publishes every route's safe stop (once per latch).
func (c *Core) latch(reason string) {
	c.mu.Lock()
	c.gen++
	if c.latched {
		c.mu.Unlock()
		return
	}
	c.latched, c.latchReason = true, reason
	for _, r := range c.routes {
		r.stop.Stop(reason) // published, kept for late subscribers, re-sent
	}
	c.safeStops.Add(1)
	c.mu.Unlock()
	for _, r := range c.routes {
		r.supersede(0)
	}
	c.cfg.Log.Warn("bridge latched: safe stop published", "reason", reason)
	c.report(Report{Outcome: OutcomeSafeStop, Reason: reason})
}

// unlatch clears the latch.
func (c *Core) unlatch(reason string) {
	c.mu.Lock()
	was := c.latched
	c.latched, c.latchReason = false, ""
	c.mu.Unlock()
	if was {
		c.cfg.Log.Info("bridge resumed", "reason", reason)
		c.report(Report{Outcome: OutcomeResumed, Reason: reason})
	}
}

// generation returns the current latch generation.
func (c *Core) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// supersede cancels the route's held escalation (reporting it) and, if
// next is non-zero, records next as the route's newest message sequence.
func (r *route) supersede(next uint64) (cancelled string) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if next != 0 {
		r.seq = next
	}
	if r.held != nil {
		r.held()
		r.held = nil
		cancelled = r.heldReq
	}
	return cancelled
}

func (c *Core) report(r Report) {
	r.AtMs = c.cfg.Now().UnixMilli()
	c.cfg.Report(r)
}

// handle turns one agent message into an intercept. Messages of one route
// are handled in order (one worker or one subscriber goroutine per route).
func (c *Core) handle(r *route, m Message) {
	ctx := c.ctx
	var tm *msgTiming
	if c.cfg.Observe != nil {
		tm = &msgTiming{t: Timing{Topic: r.Agent, Start: time.Now()}}
	}
	r.hmu.Lock()
	seq := r.seq + 1
	r.hmu.Unlock()
	if old := r.supersede(seq); old != "" {
		c.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.Resource, RequestID: old, Reason: "a newer message arrived"})
	}
	params, err := r.Codec.Params(m)
	if err != nil {
		c.drop(r, "", codes.MalformedRequest, "message refused before the intercept: "+err.Error())
		return
	}
	rid, err := uuid.NewV7()
	if err != nil {
		c.drop(r, "", codes.InternalError, err.Error())
		return
	}
	gen := c.generation()
	req := api.InterceptRequest{
		RequestID: rid.String(), TokenID: c.cfg.TokenID, Token: c.cfg.Token, Chain: c.cfg.Chain,
		Resource: r.Resource, Action: "publish", Params: params,
	}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	var t0 time.Time
	if tm != nil {
		cctx, t0 = tm.trace(cctx), time.Now()
	}
	d, status, err := c.cfg.Gateway.Intercept(cctx, req)
	cancel()
	if tm != nil {
		tm.called(t0)
		tm.t.RequestID = req.RequestID
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			c.drop(r, req.RequestID, codes.Code(apiErr.Code), apiErr.Message)
			return
		}
		// Latch first: the safe stop goes out before anything else.
		c.LatchFault(fmt.Sprintf("gateway unreachable (status %d): %v", status, err))
		c.drop(r, req.RequestID, codes.InternalError, "gateway unreachable")
		return
	}
	c.decided(ctx, r, m, req, params, d, gen, seq, tm)
}

// decided acts on a decision for req (directly or after an approval wait).
func (c *Core) decided(ctx context.Context, r *route, m Message, req api.InterceptRequest, params []byte, d *api.Decision, gen, seq uint64, tm *msgTiming) {
	switch d.Decision {
	case "allow":
		c.actuate(ctx, r, m, req, params, d, gen, seq, tm)
	case "escalate":
		if d.ApprovalID == nil {
			c.drop(r, req.RequestID, codes.InternalError, "escalate without approvalId")
			return
		}
		c.escalated.Add(1)
		c.hold(ctx, r, m, req, params, *d.ApprovalID, gen, seq)
	default:
		code, reason := deref(d.Code), deref(d.Reason)
		c.denied.Add(1)
		c.report(Report{Outcome: OutcomeDeny, Topic: r.Agent, Resource: r.Resource, RequestID: req.RequestID, Code: code, Reason: reason})
		if code == string(codes.EstopEngaged) {
			c.latch("gateway denied ESTOP_ENGAGED")
			return
		}
		c.refused(r, "denied "+code)
	}
}

// hold waits for the approval of an escalated message in its own goroutine;
// a newer message on the route, a latch or Run's end cancel the wait.
func (c *Core) hold(ctx context.Context, r *route, m Message, req api.InterceptRequest, params []byte, approvalID string, gen, seq uint64) {
	wctx, cancel := context.WithTimeout(ctx, c.cfg.MaxHold)
	r.hmu.Lock()
	if r.seq != seq { // superseded already
		r.hmu.Unlock()
		cancel()
		return
	}
	r.held, r.heldReq = cancel, req.RequestID
	r.hmu.Unlock()
	c.report(Report{Outcome: OutcomeEscalate, Topic: r.Agent, Resource: r.Resource, RequestID: req.RequestID, ApprovalID: approvalID})
	c.refused(r, "escalation pending")
	go func() {
		defer cancel()
		d, _, err := c.cfg.Gateway.AwaitApproval(wctx, approvalID)
		if wctx.Err() != nil {
			return // superseded, latched or stopped: already reported
		}
		r.hmu.Lock()
		current := r.seq == seq
		if current {
			r.held = nil
		}
		r.hmu.Unlock()
		if !current {
			return
		}
		if err != nil {
			c.drop(r, req.RequestID, codes.InternalError, "approval wait failed: "+err.Error())
			return
		}
		c.decided(ctx, r, m, req, params, d, gen, seq, nil)
	}()
}

// actuate verifies the attestation of an allow, clamps the message to the
// attested envelope and publishes it, unless the bridge latched since the
// intercept was sent or a newer message superseded it.
func (c *Core) actuate(ctx context.Context, r *route, m Message, req api.InterceptRequest, params []byte, d *api.Decision, gen, seq uint64, tm *msgTiming) {
	if d.Attestation == nil {
		c.drop(r, req.RequestID, codes.InvalidSignature, "allow without attestation")
		return
	}
	ph, err := attest.ParamsHash(params)
	if err != nil {
		c.drop(r, req.RequestID, codes.MalformedRequest, err.Error())
		return
	}
	want := attest.Expect{Issuer: c.cfg.Issuer, AgentID: c.cfg.Gateway.AgentID(), Resource: req.Resource, Action: req.Action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	claims, err := c.cfg.Verifier.Verify(cctx, *d.Attestation, c.cfg.Now(), want)
	cancel()
	if c.faults.Attested(err == nil) {
		c.latch("attestation failures in a row: " + err.Error())
	}
	if err != nil {
		c.drop(r, req.RequestID, attest.ReasonOf(err).Code(), "attestation: "+err.Error())
		return
	}
	if claims.JTI != req.RequestID {
		c.drop(r, req.RequestID, codes.InvalidSignature, "attestation is for request "+claims.JTI)
		return
	}
	m, clamped, err := r.Codec.Clamp(m, claims.Envelope)
	if err != nil {
		c.drop(r, req.RequestID, codes.Of(err), "clamp to the attested envelope: "+err.Error())
		return
	}

	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		c.drop(r, req.RequestID, codes.EstopEngaged, "the bridge latched after this message was sent")
		return
	}
	r.hmu.Lock()
	stale := r.seq != seq
	r.hmu.Unlock()
	if stale {
		c.mu.Unlock()
		c.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.Resource, RequestID: req.RequestID, Reason: "a newer message arrived"})
		return
	}
	if f, why := c.faults.Latched(); f {
		// A fault stop holds until a deliberate reset, whatever the
		// gateway allows now (a gateway restarted on its data directory
		// allows again with no one having looked at the robot).
		c.mu.Unlock()
		c.drop(r, req.RequestID, codes.EstopEngaged, "fault stop latched until a reset: "+why)
		return
	}
	// The route's kept safe stop is withdrawn first (and a pending
	// hold-then-stop cancelled): this command ends the stop.
	if err := r.stop.Actuate(); err != nil {
		c.mu.Unlock()
		c.drop(r, req.RequestID, codes.InternalError, "withdrawing the safe stop: "+err.Error())
		return
	}
	// An allow for an intercept sent while latched means the gateway's
	// breaker is armed again (it releases no allow while tripped).
	was := c.latched
	c.latched, c.latchReason = false, ""
	// Count first, so a reader that saw the message also sees the count.
	c.forwarded.Add(1)
	if clamped {
		c.clamped.Add(1)
	}
	err = r.Out.Publish(ctx, m)
	if tm != nil {
		tm.t.Published = time.Now()
	}
	if err != nil {
		c.forwarded.Add(-1)
		if clamped {
			c.clamped.Add(-1)
		}
	}
	c.mu.Unlock()
	if was {
		c.report(Report{Outcome: OutcomeResumed, Reason: "gateway allowed a message sent after the latch"})
	}
	if err != nil {
		// An output's refusal with a stable code (a ROS 2 type-hash
		// mismatch) keeps it; any other failure is the bridge's own.
		code := codes.InternalError
		var ce *codes.Error
		if errors.As(err, &ce) {
			code = ce.Code
		}
		c.drop(r, req.RequestID, code, "publish: "+err.Error())
		return
	}
	if tm != nil {
		c.cfg.Observe(tm.t)
	}
}

func (c *Core) drop(r *route, requestID string, code codes.Code, reason string) {
	c.dropped.Add(1)
	c.cfg.Log.Debug("message dropped", "topic", r.Agent, "requestId", requestID, "code", code, "reason", reason)
	c.report(Report{Outcome: OutcomeDropped, Topic: r.Agent, Resource: r.Resource, RequestID: requestID, Code: string(code), Reason: reason})
	c.refused(r, "dropped "+string(code))
}

// refused applies the route's stop policy to a command that was not carried
// out (a deny, an escalation pending or ended without an allow, a drop): a
// safe stop now, after the policy's hold, or nothing.
func (c *Core) refused(r *route, reason string) {
	if r.stop.Refused(reason) {
		c.routeStops.Add(1)
		c.report(Report{Outcome: OutcomeSafeStop, Topic: r.Agent, Resource: r.Resource, Reason: reason})
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
