package economy

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
)

// Reconciler defaults.
const (
	// DefaultBound is how old a pending charge must be before the
	// reconciler looks at it: far longer than any decision in flight (a
	// decision appends within its request, seconds at most), so that it
	// never refunds a charge whose decision is still being committed.
	DefaultBound = 60 * time.Second
	// DefaultReconcileEvery is the reconciler's period.
	DefaultReconcileEvery = 10 * time.Second
	// reconcileBatch bounds the pending charges handled per round.
	reconcileBatch = 500
)

// ReconcileLedger is what the reconciler needs of the ledger.
type ReconcileLedger interface {
	Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error)
	GetByEventID(ctx context.Context, eventID string) (ledger.Entry, error)
}

// Reconciler resolves the pending charges a crash left behind (see
// gateway.Charger): a charge whose economy.charged event is in the ledger
// was delivered (or its decision was answered as such) and is settled;
// one whose economy.refunded event is in the ledger is settled; any other
// is refunded with gateway.RefundCharge. Every step is idempotent, so any
// number of replicas may run it at once: the store applies a refund once
// (key "refund:"+key), the ledger records each event once (derived event
// ids), and settling twice changes nothing.
type Reconciler struct {
	Service *Service // its store holds the charges
	Ledger  ReconcileLedger
	Clock   func() time.Time
	Log     *slog.Logger
	Bound   time.Duration // 0 = DefaultBound
	Every   time.Duration // 0 = DefaultReconcileEvery
}

// Result counts what one round did.
type Result struct {
	Settled, Refunded, Failed int
}

// RunOnce resolves the charges pending since before now − Bound.
func (r *Reconciler) RunOnce(ctx context.Context, now time.Time) (Result, error) {
	var res Result
	bound := r.Bound
	if bound <= 0 {
		bound = DefaultBound
	}
	pend, err := r.Service.Store.PendingCharges(ctx, now.Add(-bound), reconcileBatch)
	if err != nil {
		return res, err
	}
	for _, tx := range pend {
		c := gateway.Charge{AgentID: tx.AgentID, Key: tx.IdempotencyKey, TxID: tx.TxID, Amount: -tx.Amount, Balance: tx.BalanceAfter}
		refunded, err := r.resolve(ctx, c, now)
		switch {
		case err != nil:
			res.Failed++
			r.log().Error("economy reconcile", "agentId", c.AgentID, "key", c.Key, "err", err)
		case refunded:
			res.Refunded++
			r.log().Warn("economy reconcile: refunded a charge whose decision the ledger does not hold", "agentId", c.AgentID, "key", c.Key, "amount", c.Amount)
		default:
			res.Settled++
		}
	}
	return res, nil
}

func (r *Reconciler) resolve(ctx context.Context, c gateway.Charge, now time.Time) (refunded bool, err error) {
	for _, id := range []string{gateway.RefundedEventID(c.AgentID, c.Key), gateway.ChargedEventID(c.AgentID, c.Key)} {
		_, err := r.Ledger.GetByEventID(ctx, id)
		if err == nil {
			return false, r.Service.Settle(ctx, c)
		}
		if !errors.Is(err, ledger.ErrNotFound) {
			return false, err
		}
	}
	return true, gateway.RefundCharge(ctx, r.Service, r.Ledger, c, "the decision of the charge is not in the ledger (reconciled)", now)
}

// Run reconciles at once, then every Every, until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	every := r.Every
	if every <= 0 {
		every = DefaultReconcileEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if res, err := r.RunOnce(ctx, r.Clock()); err != nil && ctx.Err() == nil {
			r.log().Error("economy reconcile", "err", err)
		} else if res.Refunded+res.Settled+res.Failed > 0 {
			r.log().Info("economy reconcile", "settled", res.Settled, "refunded", res.Refunded, "failed", res.Failed)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}
