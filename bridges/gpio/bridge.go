package gpio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// Action is the intercept action of a GPIO command.
const Action = "set"

// DefaultPWMFrequency is used for PWM actuators without a frequency.
const DefaultPWMFrequency = 1 * physic.KiloHertz

// Actuator is one output pin bound to a resource.
type Actuator struct {
	Resource  string           // e.g. gpio://cell1/gripper
	Pin       pgpio.PinOut     // owned by the caller (cmd/ opens and closes hardware)
	PWM       bool             // commands are {"duty":…}; else {"value":…}
	Frequency physic.Frequency // PWM frequency; default DefaultPWMFrequency
	Inert     pgpio.Level      // level after Halt (default Low)

	// Stop semantics (package stopsem): what a refused command (Set: a
	// deny, an escalation that ends without an allow) means for this pin.
	// Every actuator is a motion actuator unless it says motion=false; its
	// safe stop is its inert level (PWM halted). Zero: the defaults
	// (safe-stop).
	Stop stopsem.Policy
}

// Verifier verifies decision attestations; *attest.JWKSCache implements it.
type Verifier interface {
	Verify(ctx context.Context, token string, now time.Time, want attest.Expect) (*attest.Claims, error)
}

// Decider asks the gateway for decisions; *client.Agent implements it.
type Decider interface {
	AgentID() string
	Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error)
	AwaitApproval(ctx context.Context, approvalID string) (*api.Decision, int, error)
}

// Config configures a Bridge.
type Config struct {
	AgentID   string // the agent whose decisions drive the pins (attestation sub)
	Issuer    string // optional: the gateway id attestations must name
	Verifier  Verifier
	Actuators []Actuator
	Now       func() time.Time // default time.Now
	// Reset says what clears a fault halt (WatchEstop: the gateway
	// unreachable or restarted): stopsem.ResetLatched (default) waits for
	// a deliberate reset (the gateway's e-stop tripped and reset, or
	// Reset), stopsem.ResetAuto resumes when the gateway answers armed.
	Reset stopsem.ResetMode
}

// Bridge drives actuators on attested decisions. It implements
// conn.Resource (String, Halt). Safe for concurrent use.
type Bridge struct {
	cfg  Config
	acts map[string]*Actuator

	mu       sync.Mutex // serialises pin writes against Halt
	halted   bool
	haltedAt time.Time
	seen     map[string]int64 // jti → exp (unix s) of applied attestations

	stops  *stopsem.Stops
	routes map[string]*stopsem.Route // by resource
	faults stopsem.Faults
}

// pinOutput is an actuator's safe stop: PWM halted, the pin at its inert
// level (the level is the kept state: Clear has nothing to withdraw).
type pinOutput struct {
	b *Bridge
	a *Actuator
}

func (o pinOutput) Stop(context.Context) error {
	o.b.mu.Lock()
	defer o.b.mu.Unlock()
	return errors.Join(o.a.Pin.Halt(), o.a.Pin.Out(o.a.Inert))
}

func (o pinOutput) Clear(context.Context) error { return nil }

// New checks cfg and returns a bridge. The pins are not touched.
func New(cfg Config) (*Bridge, error) {
	if cfg.AgentID == "" || cfg.Verifier == nil {
		return nil, errors.New("gpio: AgentID and Verifier are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := &Bridge{cfg: cfg, acts: map[string]*Actuator{}, seen: map[string]int64{},
		stops: stopsem.New(stopsem.Config{}), routes: map[string]*stopsem.Route{}}
	b.faults.Mode = cfg.Reset
	for i := range cfg.Actuators {
		a := &cfg.Actuators[i]
		if a.Resource == "" || a.Pin == nil {
			return nil, fmt.Errorf("gpio: actuator %d: Resource and Pin are required", i)
		}
		if _, dup := b.acts[a.Resource]; dup {
			return nil, fmt.Errorf("gpio: two actuators for %s", a.Resource)
		}
		if a.Frequency == 0 {
			a.Frequency = DefaultPWMFrequency
		}
		pol, err := a.Stop.Resolve(true, true, 0)
		if err != nil {
			return nil, fmt.Errorf("gpio: actuator %s: %w", a.Resource, err)
		}
		b.acts[a.Resource] = a
		b.routes[a.Resource] = b.stops.Add(a.Resource, pol, pinOutput{b: b, a: a})
	}
	return b, nil
}

// String implements conn.Resource.
func (b *Bridge) String() string { return fmt.Sprintf("sintgate-gpio(%d actuators)", len(b.acts)) }

// Halt implements conn.Resource: stop motion, go inert. Every pin is halted
// (PWM stopped) and driven to its inert level; commands are refused until
// Resume, and attestations issued before the halt are refused for ever. It
// drives every pin even if some fail, and returns the joined errors.
func (b *Bridge) Halt() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.halted, b.haltedAt = true, b.cfg.Now()
	var errs []error
	for _, a := range b.acts {
		if err := a.Pin.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("%s: halt: %w", a.Resource, err))
		}
		if err := a.Pin.Out(a.Inert); err != nil {
			errs = append(errs, fmt.Errorf("%s: inert: %w", a.Resource, err))
		}
	}
	return errors.Join(errs...)
}

// Resume accepts commands again (after the gateway's e-stop was reset).
// Pins stay inert until the next attested command.
func (b *Bridge) Resume() {
	b.mu.Lock()
	b.halted = false
	b.mu.Unlock()
}

// Halted reports whether the bridge is halted.
func (b *Bridge) Halted() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.halted
}

// Apply drives the resource's pin as params say, if attestation is a valid,
// unexpired, unreplayed attestation for exactly this command by this agent
// issued after the last halt. Errors carry codes: ESTOP_ENGAGED while
// halted, MALFORMED_REQUEST for bad params or an unknown resource, the
// attestation reason's code (attest.Reason.Code) for a bad attestation,
// REPLAY_DETECTED for an attestation already applied.
func (b *Bridge) Apply(ctx context.Context, resource string, params json.RawMessage, attestation string) error {
	a, ok := b.acts[resource]
	if !ok {
		return codes.New(codes.MalformedRequest, "gpio: no actuator for "+resource)
	}
	cmd, err := ParseCommand(params)
	if err != nil {
		return err
	}
	if a.PWM != (cmd.Duty != nil) {
		return codes.New(codes.MalformedRequest, "gpio: "+resource+" takes "+map[bool]string{true: "duty", false: "value"}[a.PWM])
	}
	ph, err := attest.ParamsHash(params)
	if err != nil {
		return err
	}
	now := b.cfg.Now()
	claims, err := b.cfg.Verifier.Verify(ctx, attestation, now, attest.Expect{
		Issuer: b.cfg.Issuer, AgentID: b.cfg.AgentID, Resource: resource, Action: Action, ParamsHash: ph,
	})
	if err != nil {
		return codes.Wrap(attest.ReasonOf(err).Code(), "gpio: attestation refused", err)
	}
	if f, why := b.faults.Latched(); f {
		return codes.New(codes.EstopEngaged, "gpio: fault halt latched until a reset: "+why)
	}
	// The actuator's stop ends with this command (a pending
	// hold-then-stop is cancelled); done before b.mu, which the stop's
	// own pin write takes.
	_ = b.routes[resource].Actuate()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.halted {
		return codes.New(codes.EstopEngaged, "gpio: halted (e-stop)")
	}
	if !b.haltedAt.IsZero() && claims.IssuedAt*1000 < b.haltedAt.UnixMilli() {
		return codes.New(codes.EstopEngaged, "gpio: attestation issued before the last halt")
	}
	for jti, exp := range b.seen { // bounded by the attestations of the last ~60 s
		if exp+60 < now.Unix() {
			delete(b.seen, jti)
		}
	}
	if _, dup := b.seen[claims.JTI]; dup {
		return codes.New(codes.ReplayDetected, "gpio: attestation already applied")
	}
	b.seen[claims.JTI] = claims.ExpiresAt
	if cmd.Duty != nil {
		duty := pgpio.Duty(*cmd.Duty*float64(pgpio.DutyMax) + 0.5)
		return a.Pin.PWM(duty, a.Frequency)
	}
	return a.Pin.Out(pgpio.Level(*cmd.Value))
}

// Set asks the gateway for a decision on params (intercept resource, action
// set, with tokenID), waits for an approval if escalated, and applies an
// allow with Apply. A deny comes back as a *codes.Error with its code.
func (b *Bridge) Set(ctx context.Context, gw Decider, tokenID, resource string, params json.RawMessage) error {
	rid, err := uuid.NewV7()
	if err != nil {
		return err
	}
	d, status, err := gw.Intercept(ctx, api.InterceptRequest{RequestID: rid.String(), TokenID: tokenID, Resource: resource, Action: Action, Params: params})
	if err != nil {
		b.refused(resource, "gateway error")
		return err
	}
	if status == http.StatusAccepted && d.ApprovalID != nil {
		b.refused(resource, "escalation pending")
		if d, _, err = gw.AwaitApproval(ctx, *d.ApprovalID); err != nil {
			return err
		}
	}
	if d.Decision != "allow" || d.Attestation == nil {
		b.refused(resource, "not allowed")
		code := codes.InternalError
		if d.Code != nil {
			code = codes.Code(*d.Code)
		}
		return codes.New(code, "gpio: gateway did not allow: "+deref(d.Reason))
	}
	return b.Apply(ctx, resource, params, *d.Attestation)
}

// EstopReader reads the gateway's e-stop state; bridges.OperatorEstop
// implements it (and bridges.EstopSubscriber: the pushed trips).
type EstopReader = bridges.EstopReader

// WatchEstop watches the gateway's e-stop until ctx ends, with the rules of
// bridges.EstopWatch: it polls r every interval (the backstop) and, when r
// is also a bridges.EstopSubscriber, follows the pushed trips too. A
// tripped breaker, an unreachable gateway or a pushed trip halts the
// bridge; an armed breaker resumes it, after going inert once when the
// breaker epoch changed since the previous poll (a trip and a reset both
// happened between two polls, from the first poll on). It returns
// context.Cause(ctx).
func (b *Bridge) WatchEstop(ctx context.Context, r EstopReader, interval time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var w bridges.EstopWatch
	apply := func(a bridges.PollAction) {
		a = b.faults.Estop(a) // an unlatch that is no deliberate reset after a fault is dropped
		if a.Latch != "" && (!b.Halted() || a.Unlatch) {
			_ = b.Halt()
		}
		if a.Unlatch {
			b.Resume()
		}
	}
	if s, ok := r.(bridges.EstopSubscriber); ok {
		wg.Add(1)
		go func() { defer wg.Done(); w.Follow(ctx, s, apply, nil) }()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.Poll(ctx, r, 2*interval+time.Second, apply)
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// refused applies the actuator's stop policy to a command Set did not carry
// out: its pin goes inert now, after the policy's hold, or not at all.
func (b *Bridge) refused(resource, reason string) {
	if r := b.routes[resource]; r != nil {
		r.Refused(reason)
	}
}

// Reset is the bridge-local reset input: it clears a fault halt (the
// gateway unreachable or restarted) and reports whether one was latched.
// The pins stay inert; WatchEstop resumes the bridge at its next armed
// poll, and a pin moves only with its next attested command.
func (b *Bridge) Reset() bool { return b.faults.Reset() }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// StaticVerifier adapts a fixed *attest.Verifier (keys known offline) to
// Verifier.
type StaticVerifier struct{ V *attest.Verifier }

// Verify implements Verifier.
func (s StaticVerifier) Verify(_ context.Context, token string, now time.Time, want attest.Expect) (*attest.Claims, error) {
	return s.V.Verify(token, now, want)
}
