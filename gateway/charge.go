package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// Charger prices and charges allowed actions (the agent economy). It is
// optional: a Pipeline without one charges nothing.
//
// A charge is made pending, before the decision commits. The decision
// and the charge's economy.charged event are then appended in one ledger
// batch (AppendCharged), and the charge is settled. A charge whose allow
// is not delivered is refunded with an economy.refunded event
// (RefundCharge) and settled. A crash anywhere in between leaves the
// charge pending; the economy's reconciler settles it if its
// economy.charged event is in the ledger and refunds it otherwise.
type Charger interface {
	// Charge charges the allowed action of req at tier, idempotently by
	// the agent and request id, as a pending charge. The zero Charge means
	// the action is free. An error whose code (codes.Of) is
	// INSUFFICIENT_BALANCE denies with that code; any other error denies
	// INTERNAL_ERROR (fail closed).
	Charge(ctx context.Context, req *Request, tier int, now time.Time) (Charge, error)
	// Refund gives back a charge whose allow was not delivered (the ledger
	// could not commit it, a trip superseded it, or it could not be
	// attested). It is idempotent.
	Refund(ctx context.Context, c Charge, now time.Time) error
	// Settle marks the charge as resolved once the ledger holds its
	// economy.charged or economy.refunded event. It is idempotent.
	Settle(ctx context.Context, c Charge) error
}

// Charge is a charge made for one allowed intercept.
type Charge struct {
	AgentID string
	Key     string // idempotency key
	TxID    string
	Amount  int64 // credits, > 0 when charged
	Balance int64 // after the charge
}

// economyNS is the UUIDv5 namespace of the economy's ledger event ids.
var economyNS = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://sintgate/economy"))

// ChargedEventID is the event id of the economy.charged event of the
// agent's charge under key: derived from them (UUIDv5), so that the event
// is recorded once whoever appends it (a retry, another replica) and the
// reconciler finds it with one GetByEventID.
func ChargedEventID(agentID, key string) string {
	return uuid.NewSHA1(economyNS, []byte("charged\x00"+agentID+"\x00"+key)).String()
}

// RefundedEventID is the event id of the economy.refunded event of the
// agent's charge under key.
func RefundedEventID(agentID, key string) string {
	return uuid.NewSHA1(economyNS, []byte("refunded\x00"+agentID+"\x00"+key)).String()
}

// ChargedEvent is the economy.charged event of c, for the action of
// requestID; extra fields (approvalId) are added to the payload.
func ChargedEvent(c Charge, requestID, tokenID string, extra map[string]any) ledger.Event {
	payload := map[string]any{
		"agentId": c.AgentID, "amount": c.Amount, "balance": c.Balance, "txId": c.TxID,
		"idempotencyKey": c.Key, "requestId": requestID,
	}
	for k, v := range extra {
		payload[k] = v
	}
	return ledger.Event{EventID: ChargedEventID(c.AgentID, c.Key), EventType: "economy.charged", AgentID: c.AgentID, TokenID: tokenID, Payload: payload}
}

// RefundedEvent is the economy.refunded event of c.
func RefundedEvent(c Charge, reason string) ledger.Event {
	return ledger.Event{EventID: RefundedEventID(c.AgentID, c.Key), EventType: "economy.refunded", AgentID: c.AgentID, Payload: map[string]any{
		"agentId": c.AgentID, "amount": c.Amount, "idempotencyKey": c.Key, "txId": c.TxID, "reason": reason,
	}}
}

// AppendCharged appends ev (a decision that allows a charged action) and
// then charged (its economy.charged event) as consecutive entries of one
// batch when l batches: one group commit, in PostgreSQL one transaction.
// charged is written only if ev is (its guard follows ev's), so a guard
// that refuses ev refuses both. It returns ev's entry; an error is ev's
// (nothing recorded). charged refused as a duplicate means an earlier
// attempt of the same charge recorded it: that is success.
//
// Without batching (or if charged alone fails, which only a broken
// ledger does) charged is appended on its own after ev; if that fails
// too the charge stays pending and the reconciler refunds it later.
func AppendCharged(ctx context.Context, l Ledger, ev, charged ledger.Event, log *slog.Logger) (ledger.Entry, error) {
	var entry ledger.Entry
	if ba, ok := l.(batchAppender); ok {
		entries, errs, err := ba.AppendBatch(ctx, chainGuards([]ledger.Event{ev, charged}))
		if err != nil {
			return ledger.Entry{}, err
		}
		if errs[0] != nil {
			return ledger.Entry{}, errs[0]
		}
		if errs[1] == nil || errors.Is(errs[1], ledger.ErrDuplicateEvent) {
			return entries[0], nil
		}
		logOrDiscard(log).Error("economy.charged not in the decision's batch", "eventId", charged.EventID, "err", errs[1])
		entry = entries[0]
	} else {
		var err error
		if entry, err = l.Append(ctx, ev); err != nil {
			return ledger.Entry{}, err
		}
	}
	charged.Guard = nil
	if _, err := l.Append(context.WithoutCancel(ctx), charged); err != nil && !errors.Is(err, ledger.ErrDuplicateEvent) {
		logOrDiscard(log).Error("economy.charged append", "eventId", charged.EventID, "err", err)
	}
	return entry, nil
}

func logOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// chainGuards returns evs with guards such that each event is written only
// if the one before it passed its own guard: a batch then never holds a
// later event without the earlier ones (a decision without its approval,
// a charge without its decision). Guards run in batch order at the
// ledger's serialisation point.
func chainGuards(evs []ledger.Event) []ledger.Event {
	out := slices.Clone(evs)
	passed := make([]bool, len(out))
	for i := range out {
		own := out[i].Guard
		out[i].Guard = func() error {
			if i > 0 && !passed[i-1] {
				return errEarlierNotRecorded
			}
			if own != nil {
				if err := own(); err != nil {
					return err
				}
			}
			passed[i] = true
			return nil
		}
	}
	return out
}

var errEarlierNotRecorded = codes.New(codes.LedgerUnavailable, "an earlier event of the batch was not recorded")

// RefundCharge gives back c (an allow that was not delivered): the
// store's refund (idempotent), its economy.refunded event (once, by its
// derived event id), then Settle. Each step is idempotent, so that the
// reconciler can redo all of them after a crash at any point; an error
// leaves the charge pending for it.
func RefundCharge(ctx context.Context, ch Charger, l Ledger, c Charge, reason string, now time.Time) error {
	ctx = context.WithoutCancel(ctx)
	if err := ch.Refund(ctx, c, now); err != nil {
		return err
	}
	if _, err := l.Append(ctx, RefundedEvent(c, reason)); err != nil && !errors.Is(err, ledger.ErrDuplicateEvent) {
		return err
	}
	return ch.Settle(ctx, c)
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

// appendDecision appends the decision ev; with a charge, its
// economy.charged event follows in the same batch (AppendCharged).
func (p *Pipeline) appendDecision(ctx context.Context, req *Request, ev ledger.Event, c Charge) (ledger.Entry, error) {
	if c.Amount <= 0 {
		return p.Ledger.Append(ctx, ev)
	}
	return AppendCharged(ctx, p.Ledger, ev, ChargedEvent(c, req.RequestID, ev.TokenID, nil), p.Log)
}

// settleCharge runs after the decision was decided: a delivered allow
// (its economy.charged event is in the ledger already) is settled,
// anything else is refunded. Both run off the request's path (Drain waits
// for them) so that neither the allow nor a deny preempted by an e-stop
// waits for the store; a failure, or a stop before they ran, leaves the
// charge pending for the reconciler.
func (p *Pipeline) settleCharge(ctx context.Context, c Charge, res *Result, now time.Time) {
	if c.Amount <= 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	allow := res.Body.Decision == "allow"
	p.pending.Add(1)
	go func() {
		defer p.pending.Done()
		if allow {
			if err := p.Charger.Settle(ctx, c); err != nil {
				p.Log.Warn("economy settle (the reconciler will)", "agentId", c.AgentID, "key", c.Key, "err", err)
			}
			return
		}
		if err := RefundCharge(ctx, p.Charger, p.Ledger, c, "the allow was not delivered", now); err != nil {
			p.Log.Error("economy refund (the reconciler will retry)", "agentId", c.AgentID, "key", c.Key, "err", err)
		}
	}()
}
