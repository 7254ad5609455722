package gateway

import (
	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/gateway/physics"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/tokens"
)

// Verdict is a decision. The zero Verdict is Deny, so a decision that was
// never made denies.
type Verdict int

// Verdicts.
const (
	Deny Verdict = iota
	Allow
	Escalate
)

func (v Verdict) String() string {
	switch v {
	case Allow:
		return api.Allow
	case Escalate:
		return api.Escalate
	default:
		return api.Deny
	}
}

// EstopAction is the action that is never escalated nor gated by the breaker.
const EstopAction = "estop"

// StandingApprovals answers whether an operator's standing approval covers a
// request (PROTOCOL.md §7).
type StandingApprovals interface {
	Covers(agentID, tokenID, resource, action string, nowMs int64) bool
}

// Facts is the immutable snapshot one decision is made over. Every field is
// read-only during Decide; implementations of the interfaces answer from
// memory.
type Facts struct {
	NowMs        int64
	Policy       *policy.Policy
	Verifier     *tokens.Verifier
	Roots        tokens.Roots
	Revocations  tokens.Revocations
	Tokens       tokens.Lookup
	Scanner      *injection.Scanner
	Standing     StandingApprovals // may be nil
	HumanPresent bool              // the trusted human-presence signal
	Anomalous    bool              // the agent's anomaly score is above threshold
	// Suspended answers whether an agent's circuit is open (may be nil: no
	// circuit is open). An open circuit suspends the agent's authority
	// everywhere: a chain holding any token whose subject is a suspended
	// agent is denied CIRCUIT_OPEN, so that delegation cannot route around
	// the circuit.
	Suspended Suspensions
}

// Suspensions answers whether an agent's authority is suspended (its
// circuit is open). *Circuits implements it.
type Suspensions interface {
	IsOpen(agentID string) bool
}

// RateCheck is one counter stage 8 consumes; the adapter applies them.
type RateCheck struct {
	Key      string
	MaxCalls int64
	WindowMs int64 // 0 for a lifetime repetition budget
	Code     codes.Code
}

// Outcome is what the pure stages (4–7, 9–10) decide. Stage 8 (rate and
// repetitions) needs counters, so Decide lists the checks in Rate and the
// adapter applies them before releasing the outcome: a failed check replaces
// the outcome with its deny at tier 0.
type Outcome struct {
	Verdict           Verdict
	Code              codes.Code
	Reason            string
	Stage             int
	Tier              int
	Chain             []*tokens.Token // verified chain, root first (nil if stage 4 failed)
	Envelope          map[string]any
	RequiredApprovals int
	Standing          bool // allowed by a standing approval
	Finding           *injection.Finding
	Physics           physics.Result
	Rate              []RateCheck
}

// Leaf returns the presented token, or nil.
func (o *Outcome) Leaf() *tokens.Token {
	if len(o.Chain) == 0 {
		return nil
	}
	return o.Chain[len(o.Chain)-1]
}

func deny(stage int, c codes.Code, reason string) Outcome {
	return Outcome{Verdict: Deny, Code: c, Reason: reason, Stage: stage}
}

// Decide runs stages 4–7 and 9–10 of PROTOCOL.md §5.1 for an authenticated
// request. It does no I/O, reads no clock and starts no goroutines.
func Decide(r *Request, f *Facts) Outcome {
	// Stage 4: token verification and subject binding.
	var inline []string
	leafRaw := r.Token
	if leafRaw == "" {
		raw, ok := f.Tokens.TokenByID(r.TokenID)
		if !ok {
			return deny(4, codes.TokenNotFound, "token "+r.TokenID+" is not registered")
		}
		leafRaw = raw
	} else {
		inline = r.Chain
	}
	chain, err := f.Verifier.VerifyChain(f.NowMs, leafRaw, inline, f.Roots, f.Revocations, f.Tokens, false)
	if err != nil {
		return deny(4, codes.Of(err), reasonOf(err))
	}
	leaf := chain[len(chain)-1]
	o := Outcome{Chain: chain}
	fail := func(stage int, c codes.Code, reason string) Outcome {
		o.Verdict, o.Code, o.Reason, o.Stage = Deny, c, reason, stage
		return o
	}
	// An open circuit suspends every token its agent holds, and so every
	// chain through one (≤ 4 links: one map lookup each).
	if f.Suspended != nil {
		for _, t := range chain {
			if f.Suspended.IsOpen(t.Claims.Subject) {
				return fail(4, codes.CircuitOpen, "the circuit of agent "+t.Claims.Subject+", holder of token "+t.Claims.TokenID+" in the chain, is open")
			}
		}
	}
	if leaf.Claims.Subject != r.AgentID {
		return fail(4, codes.TokenSubjectMismatch, "token subject is not the requesting agent")
	}
	// Stage 5: scope.
	if !leaf.Allows(r.Resource, r.Action) {
		return fail(5, codes.InsufficientPermissions, "token does not grant "+r.Action+" on "+r.Resource)
	}
	lim := limitsOf(&leaf.Claims.Constraints)
	// The policy's payload mappings for this resource and action are
	// checked at stage 7 and listed in the envelope, so that the actuator
	// side clamps the same values.
	maps := f.Policy.PayloadMappings(r.Resource, r.Action)
	o.Envelope = physics.EnvelopeMapped(lim, maps)
	// The e-stop action is always tier 1 and never blocked by later stages.
	if r.Action == EstopAction {
		o.Verdict, o.Tier, o.Stage = Allow, 1, 10
		return o
	}
	// Stage 6: injection scan.
	if f.Scanner != nil && !f.Policy.InjectionExempt(r.Resource) && r.Params != nil {
		if fd := f.Scanner.ScanValue(r.Params); fd != nil {
			o.Finding = fd
			return fail(6, codes.GoalHijack, "params contain an instruction pattern ("+fd.Category+")")
		}
	}
	// Stage 7: physical constraints, then time window and human presence.
	var pc *physics.Context
	if r.PhysicalContext != nil {
		pc = &physics.Context{
			HumanDetected:      r.PhysicalContext.HumanDetected,
			CurrentVelocityMps: r.PhysicalContext.CurrentVelocityMps,
		}
		if p := r.PhysicalContext.CurrentPosition; p != nil {
			pc.CurrentPosition = &physics.Point{X: p.X, Y: p.Y}
		}
	}
	var params any
	if r.Params != nil {
		params = r.Params
	}
	res := physics.CheckMapped(params, pc, lim, maps)
	o.Physics = res
	if res.Code != "" {
		return fail(7, res.Code, res.Reason)
	}
	c := &leaf.Claims.Constraints
	if tw := c.TimeWindow; tw != nil && (f.NowMs < tw.Start || f.NowMs >= tw.End) {
		return fail(7, codes.ConstraintViolation, "outside the token's time window")
	}
	humanPresent := f.HumanPresent || (r.PhysicalContext != nil && r.PhysicalContext.HumanDetected != nil && *r.PhysicalContext.HumanDetected)
	if c.RequiresHumanPresence != nil && *c.RequiresHumanPresence && !f.HumanPresent {
		return fail(7, codes.ConstraintViolation, "token requires a trusted human-presence signal")
	}
	// Stage 8 is listed for the adapter: every link's rate limit and
	// repetition budget (an ancestor's budget is shared by its descendants),
	// then the policy's per-agent limit.
	for _, t := range chain {
		tc := &t.Claims.Constraints
		if rl := tc.RateLimit; rl != nil {
			o.Rate = append(o.Rate, RateCheck{Key: "tok:" + t.Claims.TokenID, MaxCalls: rl.MaxCalls, WindowMs: rl.WindowMs, Code: codes.RateLimitExceeded})
		}
		if mr := tc.MaxRepetitions; mr != nil {
			o.Rate = append(o.Rate, RateCheck{Key: "rep:" + t.Claims.TokenID, MaxCalls: *mr, Code: codes.RepetitionsExhausted})
		}
	}
	if maxCalls, windowMs, ok := f.Policy.AgentRateLimit(); ok {
		o.Rate = append(o.Rate, RateCheck{Key: "agent:" + r.AgentID, MaxCalls: maxCalls, WindowMs: windowMs, Code: codes.RateLimitExceeded})
	}
	// Stage 9: tier.
	o.Tier = f.Policy.Tier(r.Resource, r.Action, humanPresent, f.Anomalous)
	if o.Tier > leaf.Claims.Tier {
		return fail(9, codes.TierExceeded, "action needs a higher tier than the token allows")
	}
	// Stage 10: tier → decision.
	o.Stage = 10
	switch {
	case o.Tier <= 2:
		o.Verdict = Allow
	case o.Tier == 3 && f.Standing != nil && f.Standing.Covers(r.AgentID, leaf.Claims.TokenID, r.Resource, r.Action, f.NowMs):
		o.Verdict, o.Standing = Allow, true
	default:
		o.Verdict = Escalate
		o.RequiredApprovals = RequiredApprovals(o.Tier, c.Quorum)
	}
	return o
}

// RequiredApprovals is the number of distinct operators an escalation at tier
// needs (PROTOCOL.md §5.3): 1 at tiers 3–4, 2 at tier 5, or the token's quorum
// if larger.
func RequiredApprovals(tier int, q *tokens.Quorum) int {
	n := 1
	if tier >= 5 {
		n = 2
	}
	if q != nil && q.Required > n {
		n = q.Required
	}
	return n
}

func limitsOf(c *tokens.Constraints) physics.Limits {
	l := physics.Limits{
		MaxVelocityMps:        c.MaxVelocityMps,
		MaxAngularVelocityRps: c.MaxAngularVelocityRps,
		MaxAccelerationMps2:   c.MaxAccelerationMps2,
		MaxJerkMps3:           c.MaxJerkMps3,
		MaxForceNewtons:       c.MaxForceNewtons,
		MaxTorqueNm:           c.MaxTorqueNm,
	}
	if c.Geofence != nil {
		// The frame travels with the polygon: the envelope (and the
		// attestation carrying it) must name the frame the actuator clamps in.
		l.Geofence, l.GeofenceFrame = c.Geofence.Polygon, c.Geofence.Frame
	}
	return l
}

func reasonOf(err error) string {
	if ce, ok := err.(*codes.Error); ok {
		return ce.Message
	}
	return "token verification failed"
}
