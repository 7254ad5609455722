package rosbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// The gateway-facing interfaces and the e-stop reader are shared by every
// bridge (package bridges): *client.Agent is a Decider, *attest.JWKSCache an
// AttestationVerifier, OperatorEstop an EstopReader.
type (
	Decider             = bridges.Decider
	AttestationVerifier = bridges.AttestationVerifier
	EstopReader         = bridges.EstopReader
	OperatorEstop       = bridges.OperatorEstop
)

// Defaults of Config.
const (
	DefaultPollInterval = 50 * time.Millisecond
	DefaultCallTimeout  = 2 * time.Second
	// MaxHoldTime bounds how long an escalated message is held (the
	// gateway's tier-3 timeout is 60 s by default; tier 5 is 15 min).
	DefaultMaxHold = 15 * time.Minute
)

// Config configures a Bridge. Node, Gateway, Verifier, Routes and one of
// TokenID/Token are required.
type Config struct {
	Node     *ros.Node
	Gateway  Decider
	Verifier AttestationVerifier
	Estop    EstopReader // optional: nil means no e-stop poll (see package doc)
	Routes   []Route

	TokenID string   // registered capability token id, or
	Token   string   // the token's compact JWS
	Chain   []string // ancestors' JWS for an unregistered delegated Token

	Issuer         string        // optional: the gateway id attestations must name
	DecisionsTopic string        // default DecisionsTopic
	PollInterval   time.Duration // e-stop poll period; default DefaultPollInterval
	CallTimeout    time.Duration // per intercept / poll; default DefaultCallTimeout
	MaxHold        time.Duration // longest wait for an approval; default DefaultMaxHold
	// KeepAll makes the bridge send every message to the gateway in order.
	// By default a route coalesces: while an intercept is in flight only the
	// newest waiting message is kept (older ones are counted in
	// Stats.Coalesced and never actuated), which bounds the latency to about
	// two gateway round trips when agents publish faster than the gateway
	// answers (see docs/bridges.md).
	KeepAll bool
	Now     func() time.Time
	Log     *slog.Logger
}

// Stats are the bridge's counters.
type Stats struct {
	Forwarded, Clamped, Denied, Escalated, Dropped, SafeStops, Coalesced int64
}

// Bridge forwards attested messages from agent topics to actuator topics.
// Create it with New, run it with Run. Its methods are safe for concurrent
// use.
type Bridge struct {
	cfg       Config
	routes    []*route
	decisions *ros.Publisher

	ctx    context.Context // Run's context; handlers use it
	cancel context.CancelCauseFunc

	mu          sync.Mutex // orders actuator publishes against latching
	gen         uint64     // bumped by every latch
	latched     bool
	latchReason string
	watch       bridges.EstopWatch // reads the e-stop polls

	forwarded, clamped, denied, escalated, dropped, safeStops, coalesced atomic.Int64
}

type route struct {
	Route
	pub *ros.Publisher

	hmu      sync.Mutex
	seq      uint64             // bumped by every message on the route
	held     context.CancelFunc // the held escalation's wait, if any
	heldReq  string
	heldAppr string

	mmu     sync.Mutex // guards pending
	pending msgs.Message
	wake    chan struct{} // capacity 1: pending was set
}

// offer puts m in the route's one-slot mailbox and reports whether it
// replaced a message not yet handled.
func (r *route) offer(m msgs.Message) (replaced bool) {
	r.mmu.Lock()
	replaced = r.pending != nil
	r.pending = m
	r.mmu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return replaced
}

func (r *route) take() msgs.Message {
	r.mmu.Lock()
	defer r.mmu.Unlock()
	m := r.pending
	r.pending = nil
	return m
}

// work handles the newest message of the route's mailbox until ctx ends.
func (b *Bridge) work(ctx context.Context, r *route) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		if m := r.take(); m != nil {
			b.handle(r, m)
		}
	}
}

// New checks cfg, advertises the actuator and decisions topics and returns
// the bridge. Nothing is forwarded before Run.
func New(ctx context.Context, cfg Config) (*Bridge, error) {
	switch {
	case cfg.Node == nil || cfg.Gateway == nil || cfg.Verifier == nil:
		return nil, errors.New("rosbridge: Node, Gateway and Verifier are required")
	case len(cfg.Routes) == 0:
		return nil, errors.New("rosbridge: no routes")
	case (cfg.TokenID == "") == (cfg.Token == ""):
		return nil, errors.New("rosbridge: set exactly one of TokenID and Token")
	}
	if cfg.DecisionsTopic == "" {
		cfg.DecisionsTopic = DecisionsTopic
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
	for _, r := range cfg.Routes { // before any I/O
		if err := CheckPhysical(r); err != nil {
			return nil, fmt.Errorf("rosbridge: %w", err)
		}
	}
	b := &Bridge{cfg: cfg}
	var err error
	if b.decisions, err = cfg.Node.Publisher(ctx, cfg.DecisionsTopic, msgs.StringType, false); err != nil {
		return nil, fmt.Errorf("rosbridge: advertise %s: %w", cfg.DecisionsTopic, err)
	}
	for _, r := range cfg.Routes {
		if s := r.safeStop(); s != nil && s.Type().Name != r.Type.Name {
			return nil, fmt.Errorf("rosbridge: route %s: safe stop is %s, not %s", r.Agent, s.Type().Name, r.Type.Name)
		}
		pub, err := cfg.Node.Publisher(ctx, r.Actuator, r.Type, false)
		if err != nil {
			return nil, fmt.Errorf("rosbridge: advertise %s: %w", r.Actuator, err)
		}
		b.routes = append(b.routes, &route{Route: r, pub: pub, wake: make(chan struct{}, 1)})
	}
	return b, nil
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{b.forwarded.Load(), b.clamped.Load(), b.denied.Load(), b.escalated.Load(), b.dropped.Load(), b.safeStops.Load(), b.coalesced.Load()}
}

// Latched reports whether the bridge is stopped, and why.
func (b *Bridge) Latched() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latched, b.latchReason
}

// Run subscribes to the agent topics and forwards until ctx ends or the
// node shuts down. It first polls the e-stop once (if configured) so that a
// tripped or unreachable gateway latches the bridge before any message.
// On return the bridge publishes the safe stops (a bridge that stops
// forwarding leaves the actuators stopped).
func (b *Bridge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	b.ctx, b.cancel = ctx, cancel
	if b.cfg.Estop != nil {
		b.poll(ctx)
	}
	var subs []*ros.Subscriber
	defer func() {
		for _, s := range subs {
			_ = s.Close(context.WithoutCancel(ctx))
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // stop the workers before waiting for them
	for _, r := range b.routes {
		handler := func(m msgs.Message) { b.handle(r, m) }
		if !b.cfg.KeepAll {
			wg.Add(1)
			go func() { defer wg.Done(); b.work(ctx, r) }()
			handler = func(m msgs.Message) {
				if r.offer(m) {
					b.coalesced.Add(1)
				}
			}
		}
		s, err := b.cfg.Node.Subscribe(ctx, r.Agent, r.Type, handler)
		if err != nil {
			return fmt.Errorf("rosbridge: subscribe %s: %w", r.Agent, err)
		}
		subs = append(subs, s)
	}
	var tick <-chan time.Time
	if b.cfg.Estop != nil {
		t := time.NewTicker(b.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
		if s, ok := b.cfg.Estop.(bridges.EstopSubscriber); ok {
			wg.Add(1)
			go func() { defer wg.Done(); b.watch.Follow(ctx, s, b.apply, b.cfg.Log) }()
		}
	}
	defer b.latch("bridge stopped")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-b.cfg.Node.Done():
			return errors.New("rosbridge: node shut down")
		case <-tick:
			b.poll(ctx)
		}
	}
}

// poll reads the e-stop state once and latches or unlatches.
func (b *Bridge) poll(ctx context.Context) {
	b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
}

// apply carries out what the e-stop watch asks (a poll or a pushed trip).
func (b *Bridge) apply(a bridges.PollAction) {
	if a.Latch != "" {
		b.latch(a.Latch)
	}
	if a.Unlatch {
		b.unlatch("e-stop armed")
	}
}

// latch stops the bridge: it invalidates every allow in flight, cancels held
// escalations and publishes every route's safe stop (once per latch).
func (b *Bridge) latch(reason string) {
	b.mu.Lock()
	b.gen++
	if b.latched {
		b.mu.Unlock()
		return
	}
	b.latched, b.latchReason = true, reason
	for _, r := range b.routes {
		if s := r.safeStop(); s != nil {
			if err := r.pub.Publish(context.Background(), s); err != nil {
				b.cfg.Log.Error("safe stop publish failed", "topic", r.Actuator, "err", err)
			}
		}
	}
	b.safeStops.Add(1)
	b.mu.Unlock()
	for _, r := range b.routes {
		r.supersede(0)
	}
	b.cfg.Log.Warn("bridge latched: safe stop published", "reason", reason)
	b.report(Report{Outcome: OutcomeSafeStop, Reason: reason})
}

// unlatch clears the latch.
func (b *Bridge) unlatch(reason string) {
	b.mu.Lock()
	was := b.latched
	b.latched, b.latchReason = false, ""
	b.mu.Unlock()
	if was {
		b.cfg.Log.Info("bridge resumed", "reason", reason)
		b.report(Report{Outcome: OutcomeResumed, Reason: reason})
	}
}

// generation returns the current latch generation.
func (b *Bridge) generation() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen
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

func (b *Bridge) report(r Report) {
	r.AtMs = b.cfg.Now().UnixMilli()
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	_ = b.decisions.Publish(context.Background(), &msgs.String{Data: string(data)})
}

// handle turns one agent message into an intercept. It runs on the route's
// subscriber goroutine, so messages of one route are handled in order.
func (b *Bridge) handle(r *route, m msgs.Message) {
	ctx := b.ctx
	r.hmu.Lock()
	seq := r.seq + 1
	r.hmu.Unlock()
	if old := r.supersede(seq); old != "" {
		b.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.Resource(), RequestID: old, Reason: "a newer message arrived"})
	}
	params, err := json.Marshal(msgs.ToJSON(m))
	if err != nil {
		b.drop(r, "", codes.MalformedRequest, "message is not representable as JSON: "+err.Error())
		return
	}
	rid, err := uuid.NewV7()
	if err != nil {
		b.drop(r, "", codes.InternalError, err.Error())
		return
	}
	gen := b.generation()
	req := api.InterceptRequest{
		RequestID: rid.String(), TokenID: b.cfg.TokenID, Token: b.cfg.Token, Chain: b.cfg.Chain,
		Resource: r.Resource(), Action: "publish", Params: params,
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	d, status, err := b.cfg.Gateway.Intercept(cctx, req)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			b.drop(r, req.RequestID, codes.Code(apiErr.Code), apiErr.Message)
			return
		}
		b.drop(r, req.RequestID, codes.InternalError, "gateway unreachable")
		b.latch(fmt.Sprintf("gateway unreachable (status %d): %v", status, err))
		return
	}
	b.decided(ctx, r, m, req, params, d, gen, seq)
}

// decided acts on a decision for req (directly or after an approval wait).
func (b *Bridge) decided(ctx context.Context, r *route, m msgs.Message, req api.InterceptRequest, params []byte, d *api.Decision, gen, seq uint64) {
	switch d.Decision {
	case "allow":
		b.actuate(ctx, r, m, req, params, d, gen, seq)
	case "escalate":
		if d.ApprovalID == nil {
			b.drop(r, req.RequestID, codes.InternalError, "escalate without approvalId")
			return
		}
		b.escalated.Add(1)
		b.hold(ctx, r, m, req, params, *d.ApprovalID, gen, seq)
	default:
		code, reason := deref(d.Code), deref(d.Reason)
		b.denied.Add(1)
		b.report(Report{Outcome: OutcomeDeny, Topic: r.Agent, Resource: r.Resource(), RequestID: req.RequestID, Code: code, Reason: reason})
		if code == string(codes.EstopEngaged) {
			b.latch("gateway denied ESTOP_ENGAGED")
		}
	}
}

// hold waits for the approval of an escalated message in its own goroutine;
// a newer message on the route, a latch or Run's end cancel the wait.
func (b *Bridge) hold(ctx context.Context, r *route, m msgs.Message, req api.InterceptRequest, params []byte, approvalID string, gen, seq uint64) {
	wctx, cancel := context.WithTimeout(ctx, b.cfg.MaxHold)
	r.hmu.Lock()
	if r.seq != seq { // superseded already
		r.hmu.Unlock()
		cancel()
		return
	}
	r.held, r.heldReq, r.heldAppr = cancel, req.RequestID, approvalID
	r.hmu.Unlock()
	b.report(Report{Outcome: OutcomeEscalate, Topic: r.Agent, Resource: r.Resource(), RequestID: req.RequestID, ApprovalID: approvalID})
	go func() {
		defer cancel()
		d, _, err := b.cfg.Gateway.AwaitApproval(wctx, approvalID)
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
			b.drop(r, req.RequestID, codes.InternalError, "approval wait failed: "+err.Error())
			return
		}
		b.decided(ctx, r, m, req, params, d, gen, seq)
	}()
}

// actuate verifies the attestation of an allow, clamps the message to the
// attested envelope and publishes it, unless the bridge latched since the
// intercept was sent or a newer message superseded it.
func (b *Bridge) actuate(ctx context.Context, r *route, m msgs.Message, req api.InterceptRequest, params []byte, d *api.Decision, gen, seq uint64) {
	if d.Attestation == nil {
		b.drop(r, req.RequestID, codes.InvalidSignature, "allow without attestation")
		return
	}
	ph, err := attest.ParamsHash(params)
	if err != nil {
		b.drop(r, req.RequestID, codes.MalformedRequest, err.Error())
		return
	}
	want := attest.Expect{Issuer: b.cfg.Issuer, AgentID: b.cfg.Gateway.AgentID(), Resource: req.Resource, Action: req.Action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	claims, err := b.cfg.Verifier.Verify(cctx, *d.Attestation, b.cfg.Now(), want)
	cancel()
	if err != nil {
		b.drop(r, req.RequestID, attest.ReasonOf(err).Code(), "attestation: "+err.Error())
		return
	}
	if claims.JTI != req.RequestID {
		b.drop(r, req.RequestID, codes.InvalidSignature, "attestation is for request "+claims.JTI)
		return
	}
	env, err := ParseEnvelope(claims.Envelope)
	if err != nil {
		b.drop(r, req.RequestID, codes.MalformedRequest, err.Error())
		return
	}
	clamped := Clamp(m, env)
	// Mapped values (the route's, and the policy's listed in the envelope)
	// are clamped in the message's JSON form.
	m, mclamped, err := clampMapped(r.Route, m, claims.Envelope)
	if err != nil {
		b.drop(r, req.RequestID, codes.Of(err), "clamp to the attested envelope: "+err.Error())
		return
	}
	clamped = clamped || mclamped

	b.mu.Lock()
	if b.gen != gen {
		b.mu.Unlock()
		b.drop(r, req.RequestID, codes.EstopEngaged, "the bridge latched after this message was sent")
		return
	}
	r.hmu.Lock()
	stale := r.seq != seq
	r.hmu.Unlock()
	if stale {
		b.mu.Unlock()
		b.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.Resource(), RequestID: req.RequestID, Reason: "a newer message arrived"})
		return
	}
	// An allow for an intercept sent while latched means the gateway's
	// breaker is armed again (it releases no allow while tripped).
	was := b.latched
	b.latched, b.latchReason = false, ""
	// Count first, so a reader that saw the message also sees the count.
	b.forwarded.Add(1)
	if clamped {
		b.clamped.Add(1)
	}
	err = r.pub.Publish(ctx, m)
	if err != nil {
		b.forwarded.Add(-1)
		if clamped {
			b.clamped.Add(-1)
		}
	}
	b.mu.Unlock()
	if was {
		b.report(Report{Outcome: OutcomeResumed, Reason: "gateway allowed a message sent after the latch"})
	}
	if err != nil {
		b.drop(r, req.RequestID, codes.InternalError, "publish: "+err.Error())
	}
}

func (b *Bridge) drop(r *route, requestID string, code codes.Code, reason string) {
	b.dropped.Add(1)
	b.cfg.Log.Debug("message dropped", "topic", r.Agent, "requestId", requestID, "code", code, "reason", reason)
	b.report(Report{Outcome: OutcomeDropped, Topic: r.Agent, Resource: r.Resource(), RequestID: requestID, Code: string(code), Reason: reason})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// WaitActuators waits until every actuator topic has at least n connected
// subscribers (the actuator drivers), or ctx ends. A safe stop published
// before a driver connected reaches nobody, so callers that must know the
// drivers hear it wait here first.
func (b *Bridge) WaitActuators(ctx context.Context, n int) error {
	for _, r := range b.routes {
		if err := r.pub.WaitForSubscribers(ctx, n); err != nil {
			return fmt.Errorf("rosbridge: %s: %w", r.Actuator, err)
		}
	}
	return nil
}
