package rosbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/bridges/topicbridge"
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

// Defaults of Config (those of the shared core, package topicbridge).
const (
	DefaultPollInterval = topicbridge.DefaultPollInterval
	DefaultCallTimeout  = topicbridge.DefaultCallTimeout
	// DefaultMaxHold bounds how long an escalated message is held (the
	// gateway's tier-3 timeout is 60 s by default; tier 5 is 15 min).
	DefaultMaxHold = topicbridge.DefaultMaxHold
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

	// Stop semantics (package stopsem, docs/stop-semantics.md).
	//
	// Reset says what clears a fault stop (gateway unreachable or
	// restarted, ROS master or actuator subscriber lost, attestation
	// failures in a row): stopsem.ResetLatched (default) waits for a
	// deliberate reset, stopsem.ResetAuto clears when the fault is gone.
	Reset stopsem.ResetMode
	// StopResend re-sends a stopped route's safe stop this often (routes
	// whose policy names no period); 0: never.
	StopResend time.Duration
	// MaxAttestFailures attestation failures in a row are a fault; 0:
	// stopsem.DefaultMaxAttestFailures, negative: never.
	MaxAttestFailures int
	// ResetSocket, if set, is the Unix socket of the bridge-local reset
	// input (stopsem.ServeReset; `sintctl bridge-reset`).
	ResetSocket string
	// LinkCheck is the period of the ROS master and actuator subscriber
	// check (a lost master, or an actuator topic whose last subscriber
	// left, is a fault); 0: DefaultLinkCheck, negative: no check.
	LinkCheck time.Duration
}

// DefaultLinkCheck is the default of Config.LinkCheck.
const DefaultLinkCheck = topicbridge.DefaultLinkCheck

// Stats are the bridge's counters.
type Stats = topicbridge.Stats

// Bridge forwards attested messages from agent topics to actuator topics.
// Create it with New, run it with Run. Its methods are safe for concurrent
// use. The decision flow is the shared topic-bridge core (package
// topicbridge); this type adds ROS 1 I/O.
type Bridge struct {
	*topicbridge.Core
	cfg       Config
	pubs      []*ros.Publisher // per route, the actuator publisher
	decisions *ros.Publisher
	subsSeen  []bool // the actuator topic had a subscriber (link check)
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
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	for _, r := range cfg.Routes { // before any I/O
		if err := CheckPhysical(r); err != nil {
			return nil, fmt.Errorf("rosbridge: %w", err)
		}
		if s := r.safeStop(); s != nil && s.Type().Name != r.Type.Name {
			return nil, fmt.Errorf("rosbridge: route %s: safe stop is %s, not %s", r.Agent, s.Type().Name, r.Type.Name)
		}
	}
	b := &Bridge{cfg: cfg, subsSeen: make([]bool, len(cfg.Routes))}
	var err error
	if b.decisions, err = cfg.Node.Publisher(ctx, cfg.DecisionsTopic, msgs.StringType, false); err != nil {
		return nil, fmt.Errorf("rosbridge: advertise %s: %w", cfg.DecisionsTopic, err)
	}
	var routes []topicbridge.Route
	for _, r := range cfg.Routes {
		if _, err := r.Stop.Resolve(true, r.safeStop() != nil, cfg.StopResend); err != nil {
			return nil, fmt.Errorf("rosbridge: route %s: %w", r.Actuator, err)
		}
		pub, err := cfg.Node.Publisher(ctx, r.Actuator, r.Type, false)
		if err != nil {
			return nil, fmt.Errorf("rosbridge: advertise %s: %w", r.Actuator, err)
		}
		b.pubs = append(b.pubs, pub)
		tr := topicbridge.Route{Agent: r.Agent, Resource: r.Resource(), Codec: codec{r}, Out: rosPublisher{pub}, Stop: r.Stop}
		if m := r.safeStop(); m != nil {
			tr.SafeStop = rosOutput{pub: pub, msg: m}
		}
		routes = append(routes, tr)
	}
	b.Core, err = topicbridge.New(topicbridge.Config{
		Name: "rosbridge", Gateway: cfg.Gateway, Verifier: cfg.Verifier, Estop: cfg.Estop,
		TokenID: cfg.TokenID, Token: cfg.Token, Chain: cfg.Chain, Issuer: cfg.Issuer,
		PollInterval: cfg.PollInterval, CallTimeout: cfg.CallTimeout, MaxHold: cfg.MaxHold, KeepAll: cfg.KeepAll,
		Now: cfg.Now, Log: cfg.Log, Reset: cfg.Reset, StopResend: cfg.StopResend,
		MaxAttestFailures: cfg.MaxAttestFailures, ResetSocket: cfg.ResetSocket,
		LinkCheck: cfg.LinkCheck, Links: b.checkLinks, Report: b.report,
	}, routes)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// codec is a ROS 1 route's message view for the core: params are the
// message's JSON form; the clamp is Clamp (Twist, JointTrajectory by type)
// then the mapped values (the route's and the envelope's payloadMap).
type codec struct{ r Route }

func (c codec) Params(m topicbridge.Message) ([]byte, error) {
	return json.Marshal(msgs.ToJSON(m.(msgs.Message)))
}

func (c codec) Clamp(m topicbridge.Message, envelope []byte) (topicbridge.Message, bool, error) {
	env, err := ParseEnvelope(envelope)
	if err != nil {
		return nil, false, err
	}
	rm := m.(msgs.Message)
	clamped := Clamp(rm, env)
	rm, mclamped, err := clampMapped(c.r, rm, envelope)
	if err != nil {
		return nil, false, err
	}
	return rm, clamped || mclamped, nil
}

// rosPublisher publishes a route's allowed messages.
type rosPublisher struct{ pub *ros.Publisher }

func (p rosPublisher) Publish(ctx context.Context, m topicbridge.Message) error {
	return p.pub.Publish(ctx, m.(msgs.Message))
}

// rosOutput carries a route's safe stop: published latched (kept for late
// subscribers, whose header says latching=1) and withdrawn before the next
// actuated command.
type rosOutput struct {
	pub *ros.Publisher
	msg msgs.Message
}

func (o rosOutput) Stop(ctx context.Context) error { return o.pub.PublishLatched(ctx, o.msg) }
func (o rosOutput) Clear(context.Context) error    { o.pub.ClearLatched(); return nil }

// Run subscribes to the agent topics and forwards until ctx ends or the
// node shuts down. It first polls the e-stop once (if configured) so that a
// tripped or unreachable gateway latches the bridge before any message.
// On return the bridge publishes the safe stops (a bridge that stops
// forwarding leaves the actuators stopped).
func (b *Bridge) Run(ctx context.Context) error {
	return b.Core.Run(ctx, func(ctx context.Context, handlers []func(topicbridge.Message)) (func(), error) {
		var subs []*ros.Subscriber
		closeAll := func() {
			for _, s := range subs {
				_ = s.Close(context.WithoutCancel(ctx))
			}
		}
		for i, r := range b.cfg.Routes {
			h := handlers[i]
			s, err := b.cfg.Node.Subscribe(ctx, r.Agent, r.Type, func(m msgs.Message) { h(m) })
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("subscribe %s: %w", r.Agent, err)
			}
			subs = append(subs, s)
		}
		return closeAll, nil
	}, b.cfg.Node.Done())
}

// checkLinks reports a fault when the ROS master does not answer, or when
// an actuator topic that had a subscriber (the driver) has none any more.
// The safe stop still reaches a driver without the master (TCPROS links
// are peer to peer), and a driver that reconnects gets the kept stop.
func (b *Bridge) checkLinks(ctx context.Context) string {
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	_, err := b.cfg.Node.Master().GetURI(cctx)
	cancel()
	if ctx.Err() != nil {
		return ""
	}
	if err != nil {
		b.LatchFault("ROS master lost: " + err.Error())
	}
	for i, pub := range b.pubs {
		n := pub.NumSubscribers()
		if n > 0 {
			b.subsSeen[i] = true
		} else if b.subsSeen[i] {
			b.subsSeen[i] = false
			b.LatchFault("controller link lost: no subscriber on " + b.cfg.Routes[i].Actuator)
		}
	}
	return ""
}

func (b *Bridge) report(r Report) {
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	_ = b.decisions.Publish(context.Background(), &msgs.String{Data: string(data)})
}

// WaitActuators waits until every actuator topic has at least n connected
// subscribers (the actuator drivers), or ctx ends. A safe stop published
// before a driver connected reaches nobody, so callers that must know the
// drivers hear it wait here first.
func (b *Bridge) WaitActuators(ctx context.Context, n int) error {
	for i, pub := range b.pubs {
		if err := pub.WaitForSubscribers(ctx, n); err != nil {
			return fmt.Errorf("rosbridge: %s: %w", b.cfg.Routes[i].Actuator, err)
		}
	}
	return nil
}
