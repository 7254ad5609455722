// Package risk scores every intercept decision, keeps each agent's current
// risk and recent alerts, aggregates dashboard statistics, and fans scored
// decisions out to live subscribers (the /v1/risk/stream WebSocket).
//
// Score is pure. Tracker and Stats take now as a parameter and never read
// the clock. Hub.Publish never blocks: a subscriber whose bounded buffer is
// full is dropped (its channel closed), so a slow client can never slow the
// pipeline, whose Observer calls Publish in the request goroutine.
//
// The risk formula (documented in docs/operator.md):
//
//	risk = clamp01( tierBase[tier] + decisionWeight + codeWeight[code] + severe·0.2 + anomalous·0.25 )
//
// with tierBase = {0: 0.30, 1: 0.05, 2: 0.15, 3: 0.30, 4: 0.50, 5: 0.70},
// decisionWeight = 0 for allow, 0.10 for escalate, 0.10 for deny, and
// codeWeight from CodeWeights (0 for codes not listed, and for allows).
package risk

import (
	"math"

	"github.com/sintgate/sintgate/codes"
)

// tierBase is the base risk of a tier (index = tier, 0 = unknown).
var tierBase = [6]float64{0.30, 0.05, 0.15, 0.30, 0.50, 0.70}

// CodeWeights is the risk added by a deny code. Attacks and safety
// violations weigh most; operational denies (rate, balance, e-stop) least.
var CodeWeights = map[codes.Code]float64{
	codes.GoalHijack:              0.60,
	codes.PhysicsConstraint:       0.40,
	codes.CircuitOpen:             0.50,
	codes.TokenRevoked:            0.40,
	codes.InvalidSignature:        0.40,
	codes.Unauthenticated:         0.35,
	codes.ReplayDetected:          0.35,
	codes.UnknownIssuer:           0.35,
	codes.InvalidChain:            0.35,
	codes.TokenSubjectMismatch:    0.35,
	codes.InsufficientPermissions: 0.25,
	codes.TierExceeded:            0.25,
	codes.ConstraintViolation:     0.25,
	codes.ApprovalDenied:          0.20,
	codes.RateLimitExceeded:       0.15,
	codes.RepetitionsExhausted:    0.15,
	codes.TokenExpired:            0.10,
	codes.TokenNotYetValid:        0.10,
	codes.TokenNotFound:           0.10,
	codes.MalformedToken:          0.10,
	codes.MalformedRequest:        0.10,
	codes.StaleRequest:            0.05,
	codes.InsufficientBalance:     0.05,
	codes.EstopEngaged:            0.00,
	codes.ApprovalTimeout:         0.00,
	codes.LedgerUnavailable:       0.00,
	codes.InternalError:           0.00,
}

// Input is what a decision's risk depends on.
type Input struct {
	Decision  string     // "allow" | "deny" | "escalate"
	Tier      int        // 1–5; anything else counts as unknown (0)
	Code      codes.Code // deny or escalate code ("" for allow)
	Severe    bool       // a severe physics violation
	Anomalous bool       // the anomaly detector flags the agent
}

// Weights of the decision itself and of the two flags.
const (
	WeightEscalate  = 0.10
	WeightDeny      = 0.10
	WeightSevere    = 0.20
	WeightAnomalous = 0.25
)

// AlertThreshold is the risk at or above which a decision is an alert.
const AlertThreshold = 0.7

// Score returns the decision's risk in [0, 1], rounded to 3 decimals.
func Score(in Input) float64 {
	t := in.Tier
	if t < 0 || t >= len(tierBase) {
		t = 0
	}
	r := tierBase[t]
	switch in.Decision {
	case "allow":
	case "escalate":
		r += WeightEscalate + CodeWeights[in.Code]
	default: // deny, and anything unknown, is a deny
		r += WeightDeny + CodeWeights[in.Code]
	}
	if in.Severe {
		r += WeightSevere
	}
	if in.Anomalous {
		r += WeightAnomalous
	}
	return math.Round(min(max(r, 0), 1)*1000) / 1000
}
