package stopsem

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// Mode is what a route's actuator receives when a command on it is not
// carried out: a deny, or an escalation that is pending, expired or denied.
type Mode string

// Modes.
const (
	// Hold sends nothing: the actuator keeps executing the last allowed
	// command (or its own timeout stops it).
	Hold Mode = "hold"
	// SafeStop sends the route's safe stop at once and keeps it (the
	// default of motion routes).
	SafeStop Mode = "safe-stop"
	// HoldThenStop sends nothing for Policy.StopAfter, then the safe stop,
	// unless an allowed command was actuated on the route meanwhile.
	HoldThenStop Mode = "hold-then-stop"
)

// ResetMode says what clears a fault stop.
type ResetMode string

// Reset modes.
const (
	// ResetLatched (the default): a fault stop holds until a deliberate
	// reset — the gateway's e-stop tripped and reset after the fault, or
	// the bridge-local reset input.
	ResetLatched ResetMode = "latched"
	// ResetAuto: a fault stop clears on its own once the fault is gone
	// (the gateway answers armed again, the broker is back). Opt-in.
	ResetAuto ResetMode = "auto"
)

// ParseResetMode parses "latched" or "auto" ("" is latched).
func ParseResetMode(s string) (ResetMode, error) {
	switch ResetMode(s) {
	case "", ResetLatched:
		return ResetLatched, nil
	case ResetAuto:
		return ResetAuto, nil
	}
	return "", codes.New(codes.MalformedRequest, fmt.Sprintf("reset mode %q: want latched or auto", s))
}

// Policy is one route's stop policy. The zero value is the default: motion
// as the bridge classifies the route's type (unknown types are motion), a
// deny or escalation stops a motion route and holds a non-motion one, and
// the bridge's default re-send period.
type Policy struct {
	// Motion, when set, overrides the bridge's classification of the
	// route. A motion route must have a safe stop.
	Motion *bool
	// OnRefused is what a deny or an escalation (pending, expired,
	// denied) means for the route; "" is SafeStop for motion routes,
	// Hold otherwise.
	OnRefused Mode
	// StopAfter is the hold of HoldThenStop (> 0).
	StopAfter time.Duration
	// Resend re-sends the safe stop every Resend while the route is
	// stopped; 0 takes the bridge's default, a negative value never
	// re-sends.
	Resend time.Duration
}

// MaxStopAfter bounds Policy.StopAfter and MinResend bounds Policy.Resend
// from below (a stop stream faster than 100 Hz only floods the transport).
const (
	MaxStopAfter = time.Minute
	MinResend    = 10 * time.Millisecond
	MaxPolicyLen = 256
)

// Resolve returns the policy with its defaults filled in for a route the
// bridge classifies as motion (or not) and whose safe stop exists (or not),
// or an error when the route cannot be run safely: a motion route without a
// safe stop, or a policy that would send a safe stop the route does not
// have.
func (p Policy) Resolve(classifiedMotion, hasSafeStop bool, defaultResend time.Duration) (Policy, error) {
	motion := classifiedMotion
	if p.Motion != nil {
		motion = *p.Motion
	}
	p.Motion = &motion
	if p.OnRefused == "" {
		p.OnRefused = Hold
		if motion {
			p.OnRefused = SafeStop
		}
	}
	if p.Resend == 0 {
		p.Resend = defaultResend
	}
	switch {
	case motion && !hasSafeStop:
		return p, codes.New(codes.MalformedRequest, "motion route has no safe stop: configure one, or declare the route motion=false")
	case p.OnRefused != Hold && !hasSafeStop:
		return p, codes.New(codes.MalformedRequest, fmt.Sprintf("deny=%s needs a safe stop", p.OnRefused))
	case p.OnRefused == HoldThenStop && (p.StopAfter <= 0 || p.StopAfter > MaxStopAfter):
		return p, codes.New(codes.MalformedRequest, fmt.Sprintf("hold-then-stop needs a hold in (0, %v]", MaxStopAfter))
	case p.Resend > 0 && p.Resend < MinResend:
		return p, codes.New(codes.MalformedRequest, fmt.Sprintf("resend period below %v", MinResend))
	}
	return p, nil
}

// IsMotion reports the resolved motion classification.
func (p Policy) IsMotion() bool { return p.Motion != nil && *p.Motion }

// ParsePolicy parses a comma-separated list of key=value settings:
//
//	motion=true|false
//	deny=hold|safe-stop|hold-then-stop:DURATION
//	resend=DURATION|off
//
// e.g. "deny=hold-then-stop:500ms,resend=100ms". Unknown keys, repeated
// keys and bad values are MALFORMED_REQUEST.
func ParsePolicy(s string) (Policy, error) {
	var p Policy
	bad := func(msg string) (Policy, error) {
		return Policy{}, codes.New(codes.MalformedRequest, fmt.Sprintf("stop policy %q: %s", s, msg))
	}
	if s == "" || len(s) > MaxPolicyLen {
		return bad(fmt.Sprintf("must be 1..%d bytes", MaxPolicyLen))
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return bad("want key=value")
		}
		if seen[k] {
			return bad("repeated " + k)
		}
		seen[k] = true
		switch k {
		case "motion":
			b, err := strconv.ParseBool(v)
			if err != nil || (v != "true" && v != "false") {
				return bad("motion is true or false")
			}
			p.Motion = &b
		case "deny":
			m, after, hasAfter := strings.Cut(v, ":")
			switch Mode(m) {
			case Hold, SafeStop:
				if hasAfter {
					return bad(m + " takes no duration")
				}
			case HoldThenStop:
				d, err := time.ParseDuration(after)
				if !hasAfter || err != nil || d <= 0 || d > MaxStopAfter {
					return bad(fmt.Sprintf("hold-then-stop:DURATION, 0 < DURATION <= %v", MaxStopAfter))
				}
				p.StopAfter = d
			default:
				return bad("deny is hold, safe-stop or hold-then-stop:DURATION")
			}
			p.OnRefused = Mode(m)
		case "resend":
			if v == "off" {
				p.Resend = -1
				continue
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < MinResend || d > time.Hour {
				return bad(fmt.Sprintf("resend is off or a duration in [%v, 1h]", MinResend))
			}
			p.Resend = d
		default:
			return bad("unknown key " + k)
		}
	}
	return p, nil
}

// ParsePolicySpec parses "TOPIC=POLICY" (the --stop-policy flag of the
// bridges): the topic names the route (its actuator or device topic), the
// rest is ParsePolicy's.
func ParsePolicySpec(spec string) (topic string, p Policy, err error) {
	topic, rest, ok := strings.Cut(spec, "=")
	if !ok || topic == "" {
		return "", Policy{}, codes.New(codes.MalformedRequest, fmt.Sprintf("stop policy %q: want TOPIC=key=value[,key=value]", spec))
	}
	p, err = ParsePolicy(rest)
	return topic, p, err
}
