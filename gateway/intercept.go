package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
)

// Breaker is the part of the e-stop breaker the pipeline uses.
type Breaker interface {
	Tripped() bool
	// Track returns a context cancelled (with the trip as cause) when the
	// breaker trips, and a release function.
	Track(ctx context.Context) (context.Context, func())
	// Guard is nil while armed; it runs at the ledger's serialisation point.
	Guard() error
}

// Ledger is the append side of the evidence ledger.
type Ledger interface {
	Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error)
}

// Limiter consumes rate and repetition budgets (stage 8). An error means it
// could not answer; the caller denies.
type Limiter interface {
	Allow(ctx context.Context, key string, max int64, window time.Duration, now time.Time) (bool, error)
	AllowRepetition(ctx context.Context, key string, max int64) (bool, error)
}

// Escalator persists an escalation as a pending approval. Escalate stores
// the approval and returns the ledger events announcing it; the pipeline
// appends them in one batch with the decision's own entry (one group
// commit, and the approval and the decision are recorded together or not
// at all). If that batch fails, the pipeline calls Abandon so that no
// pending approval exists that the ledger does not know of.
type Escalator interface {
	Escalate(ctx context.Context, r *Request, o *Outcome, policyHash string, now time.Time) (Escalation, error)
	Abandon(ctx context.Context, e Escalation, reason string)
}

// Escalation is a stored pending approval and the events that announce it.
type Escalation struct {
	ApprovalID  string
	ExpiresAtMs int64
	// Created is false when the (agentId, requestId) already had an
	// approval: Events is then empty and nothing is abandoned.
	Created bool
	Events  []ledger.Event // appended before the decision, in one batch with it
}

// AttestSigner signs decision attestations with the active gateway key.
type AttestSigner interface {
	SignAttestation(c attest.Claims) (string, error)
}

// Anomaly observes decisions and tells whether an agent is anomalous.
type Anomaly interface {
	Anomalous(agentID string) bool
}

// State is the slowly-changing part of the facts, swapped atomically when
// the policy, roots or tokens change.
type State struct {
	Policy      *policy.Policy
	Verifier    *tokens.Verifier
	Roots       tokens.Roots
	Revocations tokens.Revocations
	Tokens      tokens.Lookup
	Scanner     *injection.Scanner
	Standing    StandingApprovals
}

// Pipeline runs the intercept pipeline: pure stages from Decide, with the
// stateful stages (authentication state, rate, ledger, attestation) around
// them. It is safe for concurrent use.
type Pipeline struct {
	GatewayID    string
	Clock        func() time.Time
	Breaker      Breaker
	Ledger       Ledger
	Replay       ReplayCache
	Circuits     *Circuits
	Limiter      Limiter
	Signer       AttestSigner
	Escalator    Escalator
	Anomaly      Anomaly // may be nil
	VerifySig    SigVerifier
	Rejections   *Rejections
	Log          *slog.Logger
	Observer     func(r *Request, res *Result) // optional: metrics, risk stream, anomaly feed
	Charger      Charger                       // optional: charges allowed actions (charge.go)
	HumanPresent atomic.Bool
	// OnSevere is called (in the request's goroutine) after a severe physics
	// violation opened the agent's circuit; the gateway wires it to the
	// e-stop when the policy says tripOnSevereViolation.
	OnSevere func(ctx context.Context, agentID string)

	state atomic.Pointer[State]

	laterMu      sync.Mutex
	later        []laterEvent // queued for the background writer (recordLater)
	laterRunning bool         // a writeLater goroutine owns the queue
	pending      sync.WaitGroup
	// guardedInFlight counts guarded decisions (allows, escalations)
	// between their ledger append and their answer: after a trip, the
	// ones still to be answered ESTOP_ENGAGED.
	guardedInFlight atomic.Int64
}

// SetState installs a new facts state (policy reload, token registration…).
func (p *Pipeline) SetState(s *State) { p.state.Store(s) }

// State returns the current facts state.
func (p *Pipeline) State() *State { return p.state.Load() }

// Suspensions returns the agents' circuits as the approvals service re-checks
// them at grant time (nil if the pipeline has none).
func (p *Pipeline) Suspensions() Suspensions {
	if p.Circuits == nil {
		return nil
	}
	return p.Circuits
}

// Result is a decision ready for the wire.
type Result struct {
	Status   int
	Body     api.Decision
	Outcome  Outcome
	Entry    *ledger.Entry
	Duration time.Duration
}

// Input is one intercept as received.
type Input struct {
	Body    []byte
	Headers AgentHeaders
	Remote  string
}

// Intercept runs the whole pipeline for one request and returns its answer.
// Every path ends in a decision; an unexpected failure denies.
func (p *Pipeline) Intercept(ctx context.Context, in Input) (res Result) {
	start := p.Clock()
	ctx, release := p.Breaker.Track(ctx)
	defer release()
	st := p.state.Load()
	var req *Request
	defer func() {
		if rec := recover(); rec != nil {
			p.Log.Error("intercept panic", "panic", rec)
			res = p.reject(req, in, 0, codes.InternalError, "internal error")
		}
		res.Duration = p.Clock().Sub(start)
		if p.Observer != nil {
			p.Observer(req, &res)
		}
	}()
	tripped := p.Breaker.Tripped()

	// Stage 2: schema.
	req, perr := ParseRequest(in.Body)
	if perr != nil {
		if tripped {
			return p.reject(nil, in, 1, codes.EstopEngaged, "the e-stop is engaged")
		}
		return p.reject(nil, in, 2, perr.Code, perr.Message)
	}
	// Stage 1 for everything but a well-formed estop action.
	if tripped && req.Action != EstopAction {
		return p.reject(req, in, 1, codes.EstopEngaged, "the e-stop is engaged")
	}
	// Stage 3: authentication, freshness, replay, circuit.
	now := p.Clock()
	nowMs := now.UnixMilli()
	if aerr := Authenticate(in.Headers, in.Body, SignedBody{req.AgentID, req.RequestID, req.Timestamp}, nowMs, p.VerifySig); aerr != nil {
		if tripped {
			return p.reject(req, in, 1, codes.EstopEngaged, "the e-stop is engaged")
		}
		return p.reject(req, in, 3, aerr.Code, aerr.Message)
	}
	first, err := p.Replay.FirstSeen(ctx, req.AgentID, req.RequestID, now)
	switch {
	case err != nil:
		p.Log.Error("replay cache", "err", err)
		return p.reject(req, in, 3, codes.InternalError, "replay protection unavailable")
	case !first:
		return p.reject(req, in, 3, codes.ReplayDetected, "requestId already used within 120 s")
	}
	if p.Circuits.IsOpen(req.AgentID) {
		o := deny(3, codes.CircuitOpen, "the agent's circuit is open")
		return p.record(ctx, req, st, o, now)
	}

	// Stages 4–7, 9–10.
	f := Facts{
		NowMs: nowMs, Policy: st.Policy, Verifier: st.Verifier, Roots: st.Roots,
		Revocations: st.Revocations, Tokens: st.Tokens, Scanner: st.Scanner, Standing: st.Standing,
		HumanPresent: p.HumanPresent.Load(), Suspended: p.Circuits,
	}
	if p.Anomaly != nil {
		f.Anomalous = p.Anomaly.Anomalous(req.AgentID)
	}
	o := Decide(req, &f)
	if tripped && (o.Verdict != Allow || req.Action != EstopAction) {
		return p.reject(req, in, 1, codes.EstopEngaged, "the e-stop is engaged")
	}
	// Stage 8: rate and repetitions, only when stages 4–7 passed.
	if o.Stage > 7 && len(o.Rate) > 0 {
		for _, rc := range o.Rate {
			var ok bool
			var err error
			if rc.WindowMs == 0 {
				ok, err = p.Limiter.AllowRepetition(ctx, rc.Key, rc.MaxCalls)
			} else {
				ok, err = p.Limiter.Allow(ctx, rc.Key, rc.MaxCalls, time.Duration(rc.WindowMs)*time.Millisecond, now)
			}
			if err != nil {
				p.Log.Error("rate limiter", "err", err)
				o = Outcome{Verdict: Deny, Code: codes.InternalError, Reason: "rate limiter unavailable", Stage: 8, Chain: o.Chain}
				break
			}
			if !ok {
				o = Outcome{Verdict: Deny, Code: rc.Code, Reason: "budget exhausted: " + rc.Key, Stage: 8, Chain: o.Chain}
				break
			}
		}
	}
	if o.Physics.Severe && p.Circuits.Open(req.AgentID, "severe physics violation: "+o.Physics.Quantity, now) {
		p.recordEvent(ctx, "agent.circuit.opened", req.AgentID, "", map[string]any{"agentId": req.AgentID, "cause": "severe physics violation", "quantity": o.Physics.Quantity, "requestId": req.RequestID})
		if p.OnSevere != nil && st.Policy.TripOnSevereViolation() {
			p.OnSevere(ctx, req.AgentID)
		}
	}
	return p.record(ctx, req, st, o, now)
}

// record runs stage 11 (ledger append, durable before the reply) and builds
// the answer for a decision made from stage 3 (circuit) on.
func (p *Pipeline) record(ctx context.Context, req *Request, st *State, o Outcome, now time.Time) (res Result) {
	policyHash := st.Policy.Hash()
	var approvalID string
	var expiresAt int64
	var esc Escalation
	if o.Verdict == Escalate && (p.Breaker.Tripped() || errors.Is(context.Cause(ctx), estop.ErrTripped)) {
		// Tripped since the gate: no approval is created (the trip has
		// cancelled, or is cancelling, every pending one); the deny is
		// recorded as usual.
		o = Outcome{Verdict: Deny, Code: codes.EstopEngaged, Reason: "the e-stop was engaged before the escalation was created", Stage: 10, Tier: o.Tier, Chain: o.Chain}
	}
	if o.Verdict == Escalate {
		var err error
		esc, err = p.Escalator.Escalate(ctx, req, &o, policyHash, now)
		if err != nil {
			p.Log.Error("escalation store", "err", err)
			o = Outcome{Verdict: Deny, Code: codes.InternalError, Reason: "approval store unavailable", Stage: 10, Tier: o.Tier, Chain: o.Chain}
		} else {
			approvalID, expiresAt = esc.ApprovalID, esc.ExpiresAtMs
		}
	}
	var charged Charge
	charged, o = p.charge(ctx, req, o, now)
	defer func() { p.settleCharge(ctx, charged, &res, now) }()
	if o.Finding != nil {
		p.recordEvent(ctx, "agent.goal.hijack_detected", req.AgentID, tokenIDOf(req, &o), map[string]any{
			"requestId": req.RequestID, "category": o.Finding.Category, "patternId": o.Finding.PatternID,
			"path": o.Finding.Path, "excerpt": o.Finding.Excerpt,
		})
	}
	if o.Code == codes.PhysicsConstraint {
		p.recordEvent(ctx, "safety.violation", req.AgentID, tokenIDOf(req, &o), map[string]any{
			"requestId": req.RequestID, "quantity": o.Physics.Quantity, "value": o.Physics.Value,
			"limit": o.Physics.Limit, "severe": o.Physics.Severe,
		})
	}
	paramsHash := req.ParamsHash // set by ParseRequest; attest.Sign refuses an empty one
	payload := decisionPayload{
		RequestID: req.RequestID, AgentID: req.AgentID, Resource: req.Resource, Action: req.Action,
		Decision: o.Verdict.String(), Tier: o.Tier, Code: string(o.Code),
		ParamsHash: paramsHash, PolicyHash: policyHash, Stage: o.Stage, ApprovalID: approvalID,
	}
	if charged.Amount > 0 {
		payload.Charged = charged.Amount
	}
	ev := ledger.Event{EventType: "policy.evaluated", AgentID: req.AgentID, TokenID: tokenIDOf(req, &o), Payload: payload.raw()}
	// A deny is always recorded, whatever happens meanwhile. An allow and
	// an escalate (which creates an approval that could later become an
	// allow) are guarded by the breaker at the ledger's serialisation point
	// and appended under the request's tracked context, so that a trip
	// cancels them if they have not been serialised yet (an error from the
	// ledger always means "not written"). An escalation's events all carry
	// the guard, so that its approval.requested event cannot follow a trip
	// entry either.
	actx := context.WithoutCancel(ctx)
	guarded := (o.Verdict == Allow && req.Action != EstopAction) || o.Verdict == Escalate
	if guarded {
		ev.Guard = p.Breaker.Guard
		actx = ctx
		// Counted until answered: the background writer of preempted
		// denies waits for these to be answered first (settleLater).
		p.guardedInFlight.Add(1)
		defer p.guardedInFlight.Add(-1)
	}
	// An allow's attestation is signed while its entry is being made
	// durable (presign): the ledger announces the entry's sequence at its
	// serialisation point. It is taken only below, after the append has
	// returned and the trip check has passed.
	var ps *presign
	var env json.RawMessage
	if o.Verdict == Allow {
		leaf := o.Leaf()
		env = mustJSON(o.Envelope) // signed, and sent beside the attestation
		ps = newPresign(p.Signer, attest.Claims{
			Issuer: p.GatewayID, Subject: req.AgentID, Audience: req.Resource, Action: req.Action, JTI: req.RequestID,
			IssuedAt: now.Unix(), ExpiresAt: now.Unix() + AttestationTTLSeconds, TokenID: leaf.Claims.TokenID,
			Tier: o.Tier, ParamsHash: paramsHash, Envelope: env, PolicyHash: policyHash,
		})
		ev.Sequenced = ps.sequenced
	}
	var entry ledger.Entry
	var err error
	if len(esc.Events) > 0 {
		before := esc.Events
		if guarded {
			before = make([]ledger.Event, len(esc.Events))
			for i, e := range esc.Events {
				e.Guard = p.Breaker.Guard
				before[i] = e
			}
		}
		entry, err = p.appendWith(actx, before, ev)
		if err != nil && esc.Created {
			reason := "the ledger could not record the escalation"
			if errors.Is(err, estop.ErrTripped) || errors.Is(context.Cause(ctx), estop.ErrTripped) {
				reason = "the e-stop was engaged before the escalation committed"
			}
			p.Escalator.Abandon(context.WithoutCancel(ctx), esc, reason)
		}
	} else {
		entry, err = p.appendDecision(actx, req, ev, charged)
	}
	if err != nil {
		if guarded && (errors.Is(err, estop.ErrTripped) || errors.Is(context.Cause(ctx), estop.ErrTripped)) {
			// The breaker tripped before this allow or escalation could
			// commit. Preempted by a trip: answer at once; the deny's own
			// entry is appended right after, batched with the other
			// preempted ones (the trip entry already precedes it in the
			// ledger).
			deny := Outcome{Verdict: Deny, Code: codes.EstopEngaged, Reason: "the e-stop was engaged before the decision committed", Stage: 11, Tier: o.Tier, Chain: o.Chain}
			payload.ApprovalID = ""
			payload.Decision, payload.Code, payload.Stage = deny.Verdict.String(), string(deny.Code), deny.Stage
			p.recordDecisionLater(ledger.Event{EventType: "policy.evaluated", AgentID: req.AgentID, TokenID: ev.TokenID}, payload)
			return p.answer(req, deny, nil, policyHash, "", 0, "")
		}
		p.Log.Error("ledger append", "err", err)
		return p.answer(req, Outcome{Verdict: Deny, Code: codes.LedgerUnavailable, Reason: "the ledger could not commit the decision", Stage: 11, Tier: o.Tier}, nil, policyHash, "", 0, "")
	}
	// A trip while the allow or escalation was committing: it committed
	// before the trip entry (the trip cancels the approval, like every
	// pending one), but the agent is answered ESTOP_ENGAGED and the ledger
	// says so.
	if guarded && context.Cause(ctx) != nil && p.Breaker.Tripped() {
		p.recordLater(ledger.Event{EventType: "policy.superseded", AgentID: req.AgentID, TokenID: tokenIDOf(req, &o), Payload: map[string]any{"requestId": req.RequestID, "sequence": entry.SequenceNumber, "code": string(codes.EstopEngaged)}})
		return p.answer(req, Outcome{Verdict: Deny, Code: codes.EstopEngaged, Reason: "the e-stop was engaged while the decision was in flight", Stage: 11, Tier: o.Tier}, &entry, policyHash, "", 0, "")
	}
	var att string
	if ps != nil {
		att, err = ps.result(entry.SequenceNumber)
		if err != nil {
			p.Log.Error("attestation", "err", err)
			p.recordEvent(ctx, "policy.superseded", req.AgentID, ps.claims.TokenID, map[string]any{"requestId": req.RequestID, "sequence": entry.SequenceNumber, "code": string(codes.InternalError)})
			return p.answer(req, Outcome{Verdict: Deny, Code: codes.InternalError, Reason: "attestation could not be signed", Stage: 11, Tier: o.Tier}, &entry, policyHash, "", 0, "")
		}
	}
	res = p.answer(req, o, &entry, policyHash, approvalID, expiresAt, "")
	if att != "" {
		res.Body.Attestation = &att
		res.Body.Envelope = env
	}
	return res
}

// appendWith appends before..., then ev, in one batch when the ledger
// batches (one group commit; in PostgreSQL one transaction), and returns
// ev's entry. ev is written only if every event before it is
// (chainGuards), so any failure is the failure of ev: the caller treats
// the decision as unrecorded.
func (p *Pipeline) appendWith(ctx context.Context, before []ledger.Event, ev ledger.Event) (ledger.Entry, error) {
	evs := append(append(make([]ledger.Event, 0, len(before)+1), before...), ev)
	if ba, ok := p.Ledger.(batchAppender); ok {
		entries, errs, err := ba.AppendBatch(ctx, chainGuards(evs))
		if err != nil {
			return ledger.Entry{}, err
		}
		for _, e := range errs {
			if e != nil {
				return ledger.Entry{}, e
			}
		}
		return entries[len(evs)-1], nil
	}
	for _, e := range before {
		if _, err := p.Ledger.Append(ctx, e); err != nil {
			return ledger.Entry{}, err
		}
	}
	return p.Ledger.Append(ctx, ev)
}

// AttestationTTLSeconds is the lifetime of a decision attestation.
const AttestationTTLSeconds = 30

// batchAppender is the optional batch capability of a ledger.
type batchAppender interface {
	AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error)
}

// laterEvent is an event queued by recordLater. When encode is set, the
// event's payload is decision.raw(), encoded by the writer rather than on the
// answer path.
type laterEvent struct {
	ev       ledger.Event
	decision decisionPayload
	encode   bool
}

// The background writer starts writing once every guarded decision in
// flight has been answered and its queue has not grown for laterQuiet (the
// burst of requests preempted by a trip has been answered), or laterMaxWait
// after it started, whichever comes first.
const (
	laterQuiet   = 200 * time.Microsecond
	laterMaxWait = 10 * time.Millisecond
	laterBatch   = 256 // events per AppendBatch
)

// recordLater queues an event for the background writer, which appends
// queued events in batches (one group commit for many). Used for requests
// preempted by an e-stop trip, so that 1,000 in-flight requests are answered
// at once rather than after 1,000 appends. The writer lets the burst of
// answers finish before it writes, so that it does not compete with them for
// the CPU, and it is not woken once per event. The queue is bounded by the
// number of requests in flight; nothing is dropped, and the caller never
// waits for the ledger. Drain waits until the queue is written.
func (p *Pipeline) recordLater(ev ledger.Event) { p.enqueueLater(laterEvent{ev: ev}) }

// recordDecisionLater is recordLater for a policy.evaluated event whose
// payload is d (encoded by the writer).
func (p *Pipeline) recordDecisionLater(ev ledger.Event, d decisionPayload) {
	p.enqueueLater(laterEvent{ev: ev, decision: d, encode: true})
}

func (p *Pipeline) enqueueLater(le laterEvent) {
	p.pending.Add(1)
	p.laterMu.Lock()
	p.later = append(p.later, le)
	start := !p.laterRunning
	p.laterRunning = true
	p.laterMu.Unlock()
	if start {
		go p.writeLater()
	}
}

// writeLater writes the queue in batches until it is empty, then exits.
func (p *Pipeline) writeLater() {
	var q []laterEvent
	var batch []ledger.Event
	for {
		p.settleLater()
		p.laterMu.Lock()
		q, p.later = p.later, q[:0]
		if len(q) == 0 {
			p.laterRunning = false
			p.laterMu.Unlock()
			return
		}
		p.laterMu.Unlock()
		for len(q) > 0 {
			n := min(len(q), laterBatch)
			batch = batch[:0]
			for i := range q[:n] {
				ev := q[i].ev
				if q[i].encode {
					ev.Payload = q[i].decision.raw()
				}
				batch = append(batch, ev)
			}
			p.writeBatch(batch)
			clear(batch)
			clear(q[:n])
			q = q[n:]
			for range n {
				p.pending.Done()
			}
		}
	}
}

// settleLater waits until no guarded decision is waiting for its answer
// and the queue has stopped growing, at most laterMaxWait: the writer must
// not take the CPU from the answers of a trip's preempted requests (their
// entries wait, the answers do not).
func (p *Pipeline) settleLater() {
	deadline := time.Now().Add(laterMaxWait)
	n := -1
	for time.Now().Before(deadline) {
		p.laterMu.Lock()
		m := len(p.later)
		p.laterMu.Unlock()
		if m == n && p.guardedInFlight.Load() == 0 {
			return
		}
		n = m
		time.Sleep(laterQuiet)
	}
}

// writeBatch appends batch, in one AppendBatch when the ledger batches; a
// failure is logged.
func (p *Pipeline) writeBatch(batch []ledger.Event) {
	if ba, ok := p.Ledger.(batchAppender); ok {
		_, errs, err := ba.AppendBatch(context.Background(), batch)
		if err != nil {
			p.Log.Error("ledger batch append", "events", len(batch), "err", err)
		}
		for _, e := range errs {
			if e != nil {
				p.Log.Error("ledger batch append", "err", e)
			}
		}
		return
	}
	for _, ev := range batch {
		if _, err := p.Ledger.Append(context.Background(), ev); err != nil {
			p.Log.Error("ledger append", "eventType", ev.EventType, "err", err)
		}
	}
}

// Drain waits until every queued event has been appended. Call it after the
// server stopped taking requests and before the ledger is closed.
func (p *Pipeline) Drain() { p.pending.Wait() }

// recordEvent appends a side event; a failure is logged (the decision's own
// entry is what must commit).
func (p *Pipeline) recordEvent(ctx context.Context, typ, agentID, tokenID string, payload map[string]any) {
	if _, err := p.Ledger.Append(context.WithoutCancel(ctx), ledger.Event{EventType: typ, AgentID: agentID, TokenID: tokenID, Payload: payload}); err != nil {
		p.Log.Error("ledger append", "eventType", typ, "err", err)
	}
}

// reject answers a request stopped at stages 1–3 (except CIRCUIT_OPEN):
// no individual ledger entry, a rate-limited summary instead. The answer is
// still a whole decision (PROTOCOL.md §5.2): it names the policy it was made
// under, and the requestId whenever the body parsed as JSON, even when it
// failed the schema (req is nil then; the id is read from the body).
func (p *Pipeline) reject(req *Request, in Input, stage int, c codes.Code, reason string) Result {
	if p.Rejections != nil {
		p.Rejections.Add(c, in.Remote, p.Clock())
	}
	if req == nil {
		if rid := requestIDOf(in.Body); rid != "" {
			req = &Request{}
			req.RequestID = rid
		}
	}
	return p.answer(req, Outcome{Verdict: Deny, Code: c, Reason: reason, Stage: stage}, nil, p.PolicyHash(), "", 0, "")
}

// PolicyHash is the hash of the active policy ("" before a state is set).
// Every decision body carries it, including those made before stage 4.
func (p *Pipeline) PolicyHash() string {
	if st := p.state.Load(); st != nil && st.Policy != nil {
		return st.Policy.Hash()
	}
	return ""
}

func (p *Pipeline) answer(req *Request, o Outcome, e *ledger.Entry, policyHash, approvalID string, expiresAt int64, att string) Result {
	var b api.Decision
	if req != nil {
		b.RequestID = &req.RequestID
	}
	b.Decision = o.Verdict.String()
	b.Tier = o.Tier
	if o.Verdict != Allow {
		code := string(o.Code)
		if o.Verdict == Deny && code == "" {
			code = string(codes.InternalError)
		}
		if code != "" {
			b.Code = &code
		}
	}
	if o.Reason != "" {
		r := o.Reason
		b.Reason = &r
	}
	if approvalID != "" {
		b.ApprovalID = &approvalID
		b.ExpiresAt = &expiresAt
		n := o.RequiredApprovals
		b.RequiredApprovals = &n
	}
	if att != "" {
		b.Attestation = &att
		b.Envelope = mustJSON(o.Envelope)
	}
	if e != nil {
		b.Ledger = &api.LedgerRef{EventID: e.EventID, Sequence: e.SequenceNumber, Hash: e.Hash}
	}
	if policyHash != "" {
		b.PolicyHash = &policyHash
	}
	return Result{Status: StatusOf(o.Verdict, o.Code), Body: b, Outcome: o, Entry: e}
}

// StatusOf maps a decision to its HTTP status (PROTOCOL.md §5.2).
func StatusOf(v Verdict, c codes.Code) int {
	switch v {
	case Allow:
		return 200
	case Escalate:
		return 202
	}
	switch c {
	case codes.MalformedRequest:
		return 400
	case codes.Unauthenticated, codes.StaleRequest, codes.ReplayDetected:
		return 401
	}
	return 403
}

func tokenIDOf(req *Request, o *Outcome) string {
	if l := o.Leaf(); l != nil {
		return l.Claims.TokenID
	}
	return req.TokenID
}

// mustJSON marshals a JSON-safe value (maps of numbers and strings); nil
// becomes the empty object.
func mustJSON(v map[string]any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// KeysetSigner signs attestations with a key set's active key.
type KeysetSigner struct{ Keys *attest.Keyset }

// SignAttestation implements AttestSigner.
func (k KeysetSigner) SignAttestation(c attest.Claims) (string, error) {
	return attest.Sign(k.Keys.Active(), c)
}
