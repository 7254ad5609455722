package opcuabridge

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
	"github.com/gopcua/opcua/ua"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// Defaults of Config.
const (
	DefaultPollInterval   = 500 * time.Millisecond
	DefaultHealthInterval = 500 * time.Millisecond
	DefaultCallTimeout    = 5 * time.Second
	DefaultMaxHold        = 5 * time.Minute
	// DefaultMaxHeld bounds the escalations held at once: each holds an
	// agent request (and its connection) for up to MaxHold.
	DefaultMaxHeld        = 8
	DefaultReconnectDelay = time.Second
	// DefaultResend re-writes a stopped node's safe state every second
	// (a node someone else overwrote is brought back).
	DefaultResend = time.Second
)

// Config configures a Bridge. Endpoint, EndpointName, Security, Gateway,
// Verifier, Nodes and one of TokenID/Token are required.
type Config struct {
	Endpoint     string   // opc.tcp://host:port[/path] of the controller
	EndpointName string   // its name in resources: opcua://<EndpointName>/…
	Security     Security // how the bridge talks to the controller
	Nodes        []NodeSpec

	Gateway  bridges.Decider
	Verifier bridges.AttestationVerifier
	Estop    bridges.EstopReader // optional: nil means no e-stop watch

	TokenID string
	Token   string
	Chain   []string
	Issuer  string // optional: the gateway id attestations must name

	PollInterval   time.Duration // e-stop poll; default DefaultPollInterval
	HealthInterval time.Duration // controller health read; default DefaultHealthInterval
	CallTimeout    time.Duration // one intercept, poll or controller request; default DefaultCallTimeout
	MaxHold        time.Duration // longest wait for an approval; default DefaultMaxHold
	// MaxHeld bounds the escalations held at once; one beyond it is
	// refused RATE_LIMIT_EXCEEDED at once. Default DefaultMaxHeld.
	MaxHeld        int
	ReconnectDelay time.Duration // between controller connection attempts
	ResetMode      stopsem.ResetMode
	Now            func() time.Time
	Log            *slog.Logger
}

// Stats are the bridge's counters.
type Stats struct {
	Written, Called, Read, Denied, Escalated, Refused, SafeStops, Clamped int64
}

// Bridge carries agents' writes and calls to the controller on attested
// allows. Create it with New, run it with Run, serve its front with
// Handler.
type Bridge struct {
	cfg    Config
	nodes  map[string]*node // "<ns>/<path>" → node
	list   []*node
	ctrl   *Controller
	stops  *stopsem.Stops
	routes map[*node]*stopsem.Route
	faults *stopsem.Faults
	watch  bridges.EstopWatch

	mu          sync.Mutex // orders controller writes against latching
	gen         uint64     // bumped by every latch
	latched     bool
	latchReason string
	armed       bool // the last e-stop view was armed (or there is no e-stop watch)
	ctrlUp      bool

	pollNow chan struct{}
	held    chan struct{} // one element per escalation being held
	subs    chan struct{} // one element per subscription streaming

	written, called, read, denied, escalated, refused, safeStops, clamped atomic.Int64
}

// New checks cfg and returns the bridge; nothing is connected before Run.
func New(cfg Config) (*Bridge, error) {
	switch {
	case cfg.Gateway == nil || cfg.Verifier == nil:
		return nil, errors.New("opcuabridge: Gateway and Verifier are required")
	case cfg.Endpoint == "":
		return nil, errors.New("opcuabridge: Endpoint is required")
	case len(cfg.Nodes) == 0:
		return nil, errors.New("opcuabridge: no nodes")
	case (cfg.TokenID == "") == (cfg.Token == ""):
		return nil, errors.New("opcuabridge: set exactly one of TokenID and Token")
	case cfg.Security.Mode == "":
		return nil, errors.New("opcuabridge: security mode not configured: SignAndEncrypt with certificates, or None explicitly")
	}
	if err := CheckEndpointName(cfg.EndpointName); err != nil {
		return nil, fmt.Errorf("opcuabridge: %w", err)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = DefaultHealthInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.MaxHeld < 0 {
		return nil, errors.New("opcuabridge: MaxHeld must not be negative")
	}
	if cfg.MaxHeld == 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = DefaultReconnectDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{
		cfg: cfg, nodes: map[string]*node{}, routes: map[*node]*stopsem.Route{},
		ctrl:   &Controller{endpoint: cfg.Endpoint, sec: cfg.Security},
		faults: &stopsem.Faults{Mode: cfg.ResetMode},
		// Until the first poll says armed, and until the controller is
		// connected, nothing is written.
		latched: true, latchReason: "starting", armed: cfg.Estop == nil,
		pollNow: make(chan struct{}, 1), held: make(chan struct{}, cfg.MaxHeld),
		subs: make(chan struct{}, MaxSubscriptions),
	}
	b.stops = stopsem.New(stopsem.Config{Resend: DefaultResend, Timeout: cfg.CallTimeout, Log: cfg.Log})
	for _, spec := range cfg.Nodes {
		n, err := checkNode(cfg.EndpointName, spec)
		if err != nil {
			return nil, fmt.Errorf("opcuabridge: %w", err)
		}
		key := n.ns + "/" + n.Path
		if b.nodes[key] != nil {
			return nil, fmt.Errorf("opcuabridge: two nodes named %s", key)
		}
		b.nodes[key] = n
		b.list = append(b.list, n)
		var out stopsem.Output
		if len(n.SafeStop) > 0 {
			out = safeOutput{b: b, n: n}
		}
		b.routes[n] = b.stops.Add(n.resource, n.policy, out)
	}
	return b, nil
}

// safeOutput performs a node's safe-state writes (stopsem.Output).
type safeOutput struct {
	b *Bridge
	n *node
}

// Stop writes every safe-state value; the first failure is the error (the
// others are still tried).
func (o safeOutput) Stop(ctx context.Context) error {
	var first error
	for _, w := range o.n.SafeStop {
		st, err := o.b.ctrl.write(ctx, w.id, w.v)
		if err == nil && st != ua.StatusOK {
			err = fmt.Errorf("safe write %s: %v", w.NodeID, st)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Clear has nothing to withdraw: an OPC UA write is not kept anywhere but
// in the node, which the next allowed write replaces.
func (safeOutput) Clear(context.Context) error { return nil }

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{b.written.Load(), b.called.Load(), b.read.Load(), b.denied.Load(), b.escalated.Load(), b.refused.Load(),
		b.safeStops.Load(), b.clamped.Load()}
}

// Latched reports whether the bridge refuses writes, and why.
func (b *Bridge) Latched() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latched, b.latchReason
}

// Run connects to the controller (reconnecting until ctx ends), watches the
// e-stop and the controller link, and re-writes the safe state of stopped
// nodes. The bridge starts latched: it unlatches once the controller is
// connected and the e-stop (if watched) is armed. On return it latches.
func (b *Bridge) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() { defer wg.Done(); b.stops.Run(ctx) }()
	if b.cfg.Estop != nil {
		if s, ok := b.cfg.Estop.(bridges.EstopSubscriber); ok {
			wg.Add(1)
			go func() { defer wg.Done(); b.watch.Follow(ctx, s, b.apply, b.cfg.Log) }()
		}
		b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
	}
	// The controller link is dialled and watched in its own goroutine, so
	// that a slow dial never delays an e-stop poll.
	linkDone := make(chan struct{})
	go func() { defer close(linkDone); b.link(ctx) }()
	poll := time.NewTicker(b.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			<-linkDone // no dial completes after this
			b.latch("bridge stopped", false)
			b.ctrl.drop(context.Background())
			return nil
		case <-b.pollNow:
			if b.cfg.Estop != nil {
				b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
			}
		case <-poll.C:
			if b.cfg.Estop != nil {
				b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
			}
		}
	}
}

// link dials the controller (every ReconnectDelay while down) and reads its
// health every HealthInterval while up, until ctx ends.
func (b *Bridge) link(ctx context.Context) {
	health := time.NewTicker(b.cfg.HealthInterval)
	defer health.Stop()
	first := true
	for {
		if !b.ctrl.Up() {
			cctx, ccancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
			err := b.ctrl.connect(cctx)
			ccancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				b.cfg.Log.Warn("controller connect failed", "endpoint", b.cfg.Endpoint, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(b.cfg.ReconnectDelay):
				}
				continue
			}
			b.controllerUp(first)
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-health.C:
		}
		hctx, hcancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
		err := b.ctrl.health(hctx)
		hcancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			b.controllerLost(ctx, err)
		}
	}
}

// controllerUp marks the link up; the first connection may unlatch the
// start-up latch, a later one only re-writes the safe states (the loss
// latched a fault that a deliberate reset clears).
func (b *Bridge) controllerUp(first bool) {
	b.mu.Lock()
	b.ctrlUp = true
	latched := b.latched
	b.mu.Unlock()
	b.cfg.Log.Info("controller connected", "endpoint", b.cfg.Endpoint)
	if latched {
		for _, n := range b.list {
			b.routes[n].Stop(b.latchReasonNow())
		}
	}
	if first {
		b.mu.Lock()
		if b.latchReason == "starting" {
			b.tryUnlatchLocked("controller connected")
		}
		b.mu.Unlock()
	}
}

// controllerLost latches a fault: the link is dropped and re-dialled; the
// safe state is owed to the next connection (stopsem retries it).
func (b *Bridge) controllerLost(ctx context.Context, err error) {
	b.cfg.Log.Error("controller connection lost", "err", err)
	b.ctrl.drop(ctx)
	b.mu.Lock()
	b.ctrlUp = false
	b.mu.Unlock()
	b.faults.Fault("controller connection lost")
	b.latch("controller connection lost: "+err.Error(), true)
}

func (b *Bridge) latchReasonNow() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latchReason
}

// apply carries out an e-stop action, through the fault latch.
func (b *Bridge) apply(a bridges.PollAction) {
	a = b.faults.Estop(a)
	if a.Latch != "" {
		b.latch(a.Latch, a.Fault)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if a.Latch != "" && !a.Unlatch {
		b.armed = false
	}
	if a.Unlatch {
		b.armed = true
		b.tryUnlatchLocked("e-stop armed")
	}
}

// tryUnlatchLocked clears the latch when nothing holds it: the e-stop armed,
// the controller connected, no fault latched. b.mu is held.
func (b *Bridge) tryUnlatchLocked(reason string) {
	if !b.latched || !b.armed || !b.ctrlUp {
		return
	}
	if f, _ := b.faults.Latched(); f {
		return
	}
	b.latched, b.latchReason = false, ""
	// The safe states stay in the nodes, but are no longer re-written: a
	// kept stop's re-send would overwrite the next allowed write of a node
	// that another node's safe state names (Clear withdraws nothing).
	for _, n := range b.list {
		if err := b.routes[n].Actuate(); err != nil {
			b.cfg.Log.Warn("withdraw kept safe stop", "node", n.resource, "err", err)
		}
	}
	b.cfg.Log.Info("bridge resumed", "reason", reason)
}

// withdrawFor ends the kept safe stops an allowed write of n supersedes:
// n's own and those of every node whose safe state writes n's node. b.mu
// is held.
func (b *Bridge) withdrawFor(n *node) error {
	if err := b.routes[n].Actuate(); err != nil {
		return err
	}
	for _, o := range b.list {
		if o == n {
			continue
		}
		for _, w := range o.SafeStop {
			if w.id.String() == n.id.String() {
				if err := b.routes[o].Actuate(); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// latch stops the bridge: allows in flight are invalidated, held
// escalations end, every node's safe state is written (and kept).
func (b *Bridge) latch(reason string, fault bool) {
	if fault {
		b.faults.Fault(reason)
	}
	b.mu.Lock()
	b.gen++
	was := b.latched
	b.latched = true
	if !was || b.latchReason == "starting" {
		b.latchReason = reason
	}
	b.mu.Unlock()
	if was && reason != "bridge stopped" {
		// Already stopped; the safe states are kept and re-sent.
		return
	}
	b.safeStops.Add(1)
	for _, n := range b.list {
		b.routes[n].Stop(reason)
	}
	b.cfg.Log.Warn("bridge latched: safe states written", "reason", reason)
}

// Reset is the bridge-local reset input: it clears a fault latch and
// unlatches when the e-stop is armed and the controller connected. It
// reports whether a fault was cleared.
func (b *Bridge) Reset(reason string) bool {
	was := b.faults.Reset()
	b.mu.Lock()
	b.tryUnlatchLocked("reset: " + reason)
	b.mu.Unlock()
	select {
	case b.pollNow <- struct{}{}:
	default:
	}
	return was
}

// Outcome is the bridge's answer to one agent request.
type Outcome struct {
	Outcome    string          `json:"outcome"` // written, called, read, deny, escalate-denied, refused
	RequestID  string          `json:"requestId,omitempty"`
	Resource   string          `json:"resource,omitempty"`
	Code       string          `json:"code,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	ApprovalID string          `json:"approvalId,omitempty"`
	StatusCode string          `json:"statusCode,omitempty"` // the controller's, 0x… hex
	Status     string          `json:"status,omitempty"`     // its name
	Value      json.RawMessage `json:"value,omitempty"`      // a read's value
	Outputs    json.RawMessage `json:"outputs,omitempty"`    // a call's output arguments
	Clamped    bool            `json:"clamped,omitempty"`
}

func refused(res string, code codes.Code, reason string) Outcome {
	return Outcome{Outcome: "refused", Resource: res, Code: string(code), Reason: reason}
}

// Do carries out one agent request: action write (params {"type","value"}),
// call (params {"args":[…]}) or read (no params) on the node named
// "<ns>/<path>".
func (b *Bridge) Do(ctx context.Context, action, name string, tv *Typed, args []Typed) Outcome {
	return b.do(ctx, action, name, tv, args, nil)
}

// do is Do, and Subscribe when emit is set.
func (b *Bridge) do(ctx context.Context, action, name string, tv *Typed, args []Typed, emit func(json.RawMessage) error) Outcome {
	n := b.nodes[name]
	if n == nil {
		b.refused.Add(1)
		return refused("", codes.NotFound, "no node "+name+" is exposed")
	}
	var params json.RawMessage
	var err error
	switch action {
	case ActionWrite:
		if tv == nil {
			err = codes.New(codes.MalformedRequest, "write needs a type and a value")
		} else {
			params, err = n.writeParams(*tv)
		}
	case ActionCall:
		params, err = n.callParams(args)
	case ActionRead:
		if n.Kind != "variable" {
			err = codes.New(codes.MalformedRequest, "only a variable is read")
		}
		params = json.RawMessage(`{}`)
	case ActionSubscribe:
		switch {
		case emit == nil:
			err = codes.New(codes.MalformedRequest, "subscribe goes through Subscribe")
		case n.Kind != "variable":
			err = codes.New(codes.MalformedRequest, "only a variable is subscribed to")
		}
		params = json.RawMessage(`{}`)
	default:
		err = codes.New(codes.MalformedRequest, "action is write, call or read")
	}
	if err != nil {
		b.refused.Add(1)
		return refused(n.resource, codes.Of(err), err.Error())
	}
	b.mu.Lock()
	latched, why, gen := b.latched, b.latchReason, b.gen
	b.mu.Unlock()
	if latched && action != ActionRead && action != ActionSubscribe {
		b.refused.Add(1)
		return refused(n.resource, codes.EstopEngaged, "bridge latched: "+why+" (writes refused until reset)")
	}
	rid, err := uuid.NewV7()
	if err != nil {
		return refused(n.resource, codes.InternalError, err.Error())
	}
	req := api.InterceptRequest{RequestID: rid.String(), TokenID: b.cfg.TokenID, Token: b.cfg.Token, Chain: b.cfg.Chain,
		Resource: n.resource, Action: action, Params: params}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	d, status, err := b.cfg.Gateway.Intercept(cctx, req)
	cancel()
	if err != nil {
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			b.refused.Add(1)
			return Outcome{Outcome: "refused", RequestID: req.RequestID, Resource: n.resource, Code: apiErr.Code, Reason: apiErr.Message}
		}
		if ctx.Err() == nil {
			b.latch(fmt.Sprintf("gateway unreachable (status %d): %v", status, err), true)
		}
		return Outcome{Outcome: "refused", RequestID: req.RequestID, Resource: n.resource, Code: string(codes.InternalError), Reason: "gateway unreachable"}
	}
	if d == nil {
		b.latch("gateway returned no decision", true)
		return Outcome{Outcome: "refused", RequestID: req.RequestID, Resource: n.resource, Code: string(codes.InternalError), Reason: "gateway returned no decision"}
	}
	if d.Decision == "escalate" && d.ApprovalID != nil {
		b.escalated.Add(1)
		// Each held escalation ties up a request for up to MaxHold: beyond
		// MaxHeld at once, the new one is refused now (its approval is left
		// to expire at the gateway; approving it carries nothing out).
		select {
		case b.held <- struct{}{}:
			defer func() { <-b.held }()
		default:
			b.refused.Add(1)
			b.routes[n].Refused("escalation refused: too many held")
			return Outcome{Outcome: "refused", RequestID: req.RequestID, Resource: n.resource, Code: string(codes.RateLimitExceeded),
				Reason: fmt.Sprintf("%d escalations are already held (the bridge's limit); this one is not waited for", cap(b.held)), ApprovalID: *d.ApprovalID}
		}
		wctx, wcancel := context.WithTimeout(ctx, b.cfg.MaxHold)
		d2, _, werr := b.cfg.Gateway.AwaitApproval(wctx, *d.ApprovalID)
		wcancel()
		if werr != nil || d2 == nil || d2.Decision == "escalate" {
			b.routes[n].Refused("escalation not approved")
			msg := "approval wait ended without a decision"
			if werr != nil {
				msg = "approval wait: " + werr.Error()
			}
			return Outcome{Outcome: "refused", RequestID: req.RequestID, Resource: n.resource, Code: string(codes.ApprovalTimeout), Reason: msg, ApprovalID: *d.ApprovalID}
		}
		d = d2
	}
	switch d.Decision {
	case "allow":
		return b.actuate(ctx, n, req, d, gen, emit)
	default:
		code, reason := deref(d.Code), deref(d.Reason)
		if d.Decision != "deny" {
			code, reason = string(codes.InternalError), "unknown decision "+d.Decision
		}
		b.denied.Add(1)
		if code == string(codes.EstopEngaged) {
			b.latch("gateway denied ESTOP_ENGAGED", false)
		} else if action != ActionRead && action != ActionSubscribe {
			b.routes[n].Refused("denied: " + code)
		}
		o := Outcome{Outcome: "deny", RequestID: req.RequestID, Resource: n.resource, Code: code, Reason: reason}
		if d.ApprovalID != nil {
			o.ApprovalID = *d.ApprovalID
		}
		return o
	}
}

// actuate verifies the allow's attestation for exactly req's params,
// clamps the mapped values to the attested envelope and carries the
// request out on the controller, unless the bridge latched since the
// intercept was sent.
func (b *Bridge) actuate(ctx context.Context, n *node, req api.InterceptRequest, d *api.Decision, gen uint64, emit func(json.RawMessage) error) Outcome {
	out := Outcome{RequestID: req.RequestID, Resource: n.resource}
	fail := func(code codes.Code, reason string) Outcome {
		b.refused.Add(1)
		out.Outcome, out.Code, out.Reason = "refused", string(code), reason
		return out
	}
	if d.Attestation == nil {
		b.faults.Attested(false)
		return fail(codes.InvalidSignature, "allow without attestation")
	}
	ph, err := attest.ParamsHash(req.Params)
	if err != nil {
		return fail(codes.MalformedRequest, err.Error())
	}
	want := attest.Expect{Issuer: b.cfg.Issuer, AgentID: b.cfg.Gateway.AgentID(), Resource: req.Resource, Action: req.Action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	claims, err := b.cfg.Verifier.Verify(cctx, *d.Attestation, b.cfg.Now(), want)
	cancel()
	if err == nil && claims.JTI != req.RequestID {
		err = errors.New("attestation is for request " + claims.JTI)
	}
	if err != nil {
		if b.faults.Attested(false) {
			b.latch("attestation failed repeatedly", true)
		}
		return fail(attest.ReasonOf(err).Code(), "attestation: "+err.Error())
	}
	b.faults.Attested(true)
	// The mapped physical values are clamped to the attested envelope; a
	// value that cannot be brought inside it is not carried out. A read
	// actuates nothing.
	if req.Action == ActionSubscribe {
		return b.stream(ctx, n, out, gen, time.Unix(claims.ExpiresAt, 0), emit)
	}
	params, clamped := req.Params, false
	if req.Action != ActionRead {
		params, clamped, err = bridges.ClampPayload(n.maps, claims.Envelope, req.Params)
		if err != nil {
			return fail(codes.Of(err), "clamp to the attested envelope: "+err.Error())
		}
	}
	out.Clamped = clamped

	b.mu.Lock()
	defer b.mu.Unlock()
	// A read moves nothing: it is answered while latched too.
	if req.Action != ActionRead && (b.gen != gen || b.latched) {
		return fail(codes.EstopEngaged, "the bridge latched after this request was sent: "+b.latchReason)
	}
	cctx, cancel = context.WithTimeout(ctx, b.cfg.CallTimeout)
	defer cancel()
	var st ua.StatusCode
	switch req.Action {
	case ActionRead:
		var v *ua.Variant
		st, v, err = b.ctrl.read(cctx, n.id)
		if err == nil {
			out.Value = JSONValue(v)
			b.read.Add(1)
		}
		out.Outcome = "read"
	case ActionWrite:
		var v *ua.Variant
		if v, err = n.decodeWrite(params); err != nil {
			return fail(codes.Of(err), "clamped value: "+err.Error())
		}
		if err = b.withdrawFor(n); err != nil {
			return fail(codes.InternalError, "withdraw safe stop: "+err.Error())
		}
		st, err = b.ctrl.write(cctx, n.id, v)
		if err == nil && st == ua.StatusOK {
			b.written.Add(1)
		}
		out.Outcome = "written"
	case ActionCall:
		var args []*ua.Variant
		if args, err = n.decodeCall(params); err != nil {
			return fail(codes.Of(err), "clamped arguments: "+err.Error())
		}
		if err = b.routes[n].Actuate(); err != nil {
			return fail(codes.InternalError, "withdraw safe stop: "+err.Error())
		}
		var outs []*ua.Variant
		st, outs, err = b.ctrl.call(cctx, n.obj, n.id, args)
		if err == nil {
			vals := make([]json.RawMessage, len(outs))
			for i, o := range outs {
				vals[i] = JSONValue(o)
			}
			out.Outputs, _ = json.Marshal(vals)
			if st == ua.StatusOK {
				b.called.Add(1)
			}
		}
		out.Outcome = "called"
	}
	if err != nil {
		// A transport failure mid-request: the link is as good as lost.
		b.mu.Unlock()
		b.controllerLost(ctx, err)
		b.mu.Lock()
		return fail(codes.InternalError, "controller: "+err.Error())
	}
	if clamped {
		b.clamped.Add(1)
	}
	out.StatusCode = fmt.Sprintf("0x%08X", uint32(st))
	out.Status = st.Error()
	if st != ua.StatusOK {
		out.Outcome = "controller-refused"
		out.Code = string(codes.InternalError)
		out.Reason = "controller answered " + st.Error()
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// WaitReady waits until the bridge is unlatched (connected to the
// controller, e-stop armed) or ctx ends.
func (b *Bridge) WaitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if l, _ := b.Latched(); !l {
			return nil
		}
		select {
		case <-ctx.Done():
			_, why := b.Latched()
			return fmt.Errorf("%w (latched: %s)", context.Cause(ctx), why)
		case <-t.C:
		}
	}
}
