package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// Charger prices and charges allowed actions (the agent economy). It is
// optional: a Pipeline without one charges nothing.
type Charger interface {
	// Charge charges the allowed action of req at tier, idempotently by
	// the agent and request id. The zero Charge means the action is free.
	// An error whose code (codes.Of) is INSUFFICIENT_BALANCE denies with
	// that code; any other error denies INTERNAL_ERROR (fail closed).
	Charge(ctx context.Context, req *Request, tier int, now time.Time) (Charge, error)
	// Refund gives back a charge whose allow was not delivered (the ledger
	// could not commit it, a trip superseded it, or it could not be
	// attested). It is idempotent.
	Refund(ctx context.Context, c Charge, now time.Time) error
}

// Charge is a charge made for one allowed intercept.
type Charge struct {
	AgentID string
	Key     string // idempotency key
	TxID    string
	Amount  int64 // credits, > 0 when charged
	Balance int64 // after the charge
}

// charge runs the Charger for an allow (stage 10, after approvals): it
// returns the charge and the outcome, turned into a deny when the agent
// cannot pay or the economy cannot answer.
func (p *Pipeline) charge(ctx context.Context, req *Request, o Outcome, now time.Time) (Charge, Outcome) {
	if p.Charger == nil || o.Verdict != Allow || req.Action == EstopAction {
		return Charge{}, o
	}
	c, err := p.Charger.Charge(ctx, req, o.Tier, now)
	if err == nil {
		return c, o
	}
	var ce *codes.Error
	if errors.As(err, &ce) && ce.Code == codes.InsufficientBalance {
		return Charge{}, Outcome{Verdict: Deny, Code: codes.InsufficientBalance, Reason: ce.Message, Stage: 10, Tier: o.Tier, Chain: o.Chain}
	}
	p.Log.Error("economy charge", "err", err)
	return Charge{}, Outcome{Verdict: Deny, Code: codes.InternalError, Reason: "the economy could not charge the action", Stage: 10, Tier: o.Tier, Chain: o.Chain}
}

// settleCharge runs after the decision was answered: a delivered allow
// gets its economy.charged ledger event, anything else is refunded.
func (p *Pipeline) settleCharge(ctx context.Context, c Charge, res *Result, now time.Time) {
	if c.Amount <= 0 {
		return
	}
	if res.Body.Decision == "allow" {
		seq := uint64(0)
		if res.Entry != nil {
			seq = res.Entry.SequenceNumber
		}
		p.recordEvent(ctx, "economy.charged", c.AgentID, tokenIDOfResult(res), map[string]any{
			"agentId": c.AgentID, "amount": c.Amount, "balance": c.Balance, "txId": c.TxID,
			"idempotencyKey": c.Key, "decisionSequence": seq,
		})
		return
	}
	if err := p.Charger.Refund(context.WithoutCancel(ctx), c, now); err != nil {
		p.Log.Error("economy refund", "agentId", c.AgentID, "key", c.Key, "err", err)
		return
	}
	p.recordEvent(ctx, "economy.refunded", c.AgentID, "", map[string]any{"agentId": c.AgentID, "amount": c.Amount, "idempotencyKey": c.Key})
}

func tokenIDOfResult(res *Result) string {
	if l := res.Outcome.Leaf(); l != nil {
		return l.Claims.TokenID
	}
	return ""
}
