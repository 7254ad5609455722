package economy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
	"github.com/sintgate/sintgate/store/pgstore"
)

// recRig is a real store and a real ledger (embedded + file, or
// PostgreSQL for both), the economy priced at 5 credits per tier-3 action
// and agent "a" holding 100. replica opens the same backend again, as
// another gateway would.
type recRig struct {
	st      store.Economy
	svc     *Service
	l       ledger.Store
	t0      time.Time
	replica func() (store.Economy, ledger.Store)
}

type backend struct {
	name string
	open func(t *testing.T) func() (store.Economy, ledger.Store)
}

var backends = []backend{
	{"embedded", func(t *testing.T) func() (store.Economy, ledger.Store) {
		dir := t.TempDir()
		st, err := embedded.Open(filepath.Join(dir, "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		l, err := filestore.Open(filepath.Join(dir, "ledger"), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		// One process owns a bbolt file and a file ledger: a "replica"
		// shares them.
		return func() (store.Economy, ledger.Store) { return st, l }
	}},
	{"postgres", func(t *testing.T) func() (store.Economy, ledger.Store) {
		url := testenv.FreshPGDatabase(t)
		return func() (store.Economy, ledger.Store) {
			st, err := pgstore.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			l, err := pgledger.Open(t.Context(), url, pgledger.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = l.Close() })
			return st, l
		}
	}},
}

func newRecRig(t *testing.T, b backend) *recRig {
	t.Helper()
	open := b.open(t)
	st, l := open()
	r := &recRig{st: st, l: l, svc: &Service{Store: st}, t0: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), replica: open}
	if _, err := r.svc.SetPrices(t.Context(), store.Prices{Tiers: map[string]int64{"3": 5}}, r.t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SetBalance(t.Context(), "a", 100, "budget", "", r.t0); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recRig) req(id string) *gateway.Request {
	return &gateway.Request{InterceptRequest: api.InterceptRequest{RequestID: id, AgentID: "a", Resource: "ros:///cmd_vel", Action: "publish"}}
}

// charge charges as the pipeline does before the decision commits.
func (r *recRig) charge(t *testing.T, id string) gateway.Charge {
	t.Helper()
	c, err := r.svc.Charge(t.Context(), r.req(id), 3, r.t0)
	if err != nil || c.Amount != 5 {
		t.Fatalf("charge %+v %v", c, err)
	}
	return c
}

func (r *recRig) decision(id string) ledger.Event {
	return ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]any{"requestId": id, "decision": "allow", "charged": 5}}
}

func (r *recRig) balance(t *testing.T) int64 {
	t.Helper()
	a, err := r.st.GetAccount(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

func (r *recRig) count(t *testing.T, eventType string) int {
	t.Helper()
	es, _, err := r.l.List(t.Context(), ledger.ListQuery{EventType: eventType, Limit: ledger.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func (r *recRig) pending(t *testing.T) int {
	t.Helper()
	p, err := r.st.PendingCharges(t.Context(), r.t0.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

func (r *recRig) rec(l ReconcileLedger) *Reconciler {
	if l == nil {
		l = r.l
	}
	return &Reconciler{Service: &Service{Store: r.st}, Ledger: l}
}

func TestReconciler(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testReconciler(t, b) })
	}
}

func testReconciler(t *testing.T, b backend) {
	t.Run("crash/debit-without-decision-refunded-once", func(t *testing.T) {
		r := newRecRig(t, b)
		r.charge(t, "r1") // the process dies here: no ledger entry
		if got := r.balance(t); got != 95 {
			t.Fatalf("balance %d", got)
		}
		rec := r.rec(nil)
		res, err := rec.RunOnce(t.Context(), r.t0.Add(DefaultBound/2))
		if err != nil || res != (Result{}) {
			t.Fatalf("within the bound: %+v %v", res, err)
		}
		res, err = rec.RunOnce(t.Context(), r.t0.Add(DefaultBound+time.Second))
		if err != nil || res != (Result{Refunded: 1}) {
			t.Fatalf("past the bound: %+v %v", res, err)
		}
		res, err = rec.RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{}) {
			t.Fatalf("second round: %+v %v", res, err)
		}
		if b, n, p := r.balance(t), r.count(t, "economy.refunded"), r.pending(t); b != 100 || n != 1 || p != 0 {
			t.Fatalf("balance %d refund events %d pending %d", b, n, p)
		}
		e, err := r.l.GetByEventID(t.Context(), gateway.RefundedEventID("a", InterceptKey("r1")))
		if err != nil || e.EventType != "economy.refunded" {
			t.Fatalf("refund event: %v %v", e, err)
		}
	})
	t.Run("crash/decision-committed-settled-not-refunded", func(t *testing.T) {
		r := newRecRig(t, b)
		c := r.charge(t, "r1")
		// The batch committed; the process died before Settle.
		if _, err := gateway.AppendCharged(t.Context(), r.l, r.decision("r1"), gateway.ChargedEvent(c, "r1", "", nil), nil); err != nil {
			t.Fatal(err)
		}
		res, err := r.rec(nil).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{Settled: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		if b, n, p := r.balance(t), r.count(t, "economy.refunded"), r.pending(t); b != 95 || n != 0 || p != 0 {
			t.Fatalf("balance %d refund events %d pending %d", b, n, p)
		}
	})
	t.Run("crash/torn-batch-decision-without-charge-refunded", func(t *testing.T) {
		// A file ledger torn inside the batch keeps the decision and loses
		// economy.charged; the caller was never answered.
		r := newRecRig(t, b)
		r.charge(t, "r1")
		if _, err := r.l.Append(t.Context(), r.decision("r1")); err != nil {
			t.Fatal(err)
		}
		res, err := r.rec(nil).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{Refunded: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		if b := r.balance(t); b != 100 {
			t.Fatalf("balance %d", b)
		}
	})
	t.Run("crash/refunded-not-settled-settled-without-second-refund", func(t *testing.T) {
		r := newRecRig(t, b)
		c := r.charge(t, "r1")
		if _, _, err := r.st.Refund(t.Context(), "a", c.Key, r.t0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.l.Append(t.Context(), gateway.RefundedEvent(c, "test")); err != nil {
			t.Fatal(err)
		}
		res, err := r.rec(nil).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{Settled: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		if b, n := r.balance(t), r.count(t, "economy.refunded"); b != 100 || n != 1 {
			t.Fatalf("balance %d refund events %d", b, n)
		}
	})
	t.Run("crash/store-refund-without-event-event-recorded", func(t *testing.T) {
		r := newRecRig(t, b)
		c := r.charge(t, "r1")
		if _, _, err := r.st.Refund(t.Context(), "a", c.Key, r.t0); err != nil {
			t.Fatal(err)
		}
		res, err := r.rec(nil).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{Refunded: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		if b, n, p := r.balance(t), r.count(t, "economy.refunded"), r.pending(t); b != 100 || n != 1 || p != 0 {
			t.Fatalf("balance %d refund events %d pending %d", b, n, p)
		}
	})
	t.Run("ledger-down/charge-stays-pending", func(t *testing.T) {
		r := newRecRig(t, b)
		r.charge(t, "r1")
		res, err := r.rec(downLedger{r.l}).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{Failed: 1}) {
			t.Fatalf("%+v %v", res, err)
		}
		if b, p := r.balance(t), r.pending(t); b != 95 || p != 1 {
			t.Fatalf("balance %d pending %d", b, p)
		}
	})
	t.Run("replicas/two-reconcilers-refund-once", func(t *testing.T) {
		r := newRecRig(t, b)
		const n = 12
		for i := range n {
			r.charge(t, fmt.Sprint("r", i))
		}
		if b := r.balance(t); b != 100-5*n {
			t.Fatalf("balance %d", b)
		}
		var wg sync.WaitGroup
		for range 2 {
			st, l := r.replica() // another gateway on the same backend
			rec := &Reconciler{Service: &Service{Store: st}, Ledger: l}
			wg.Go(func() {
				if _, err := rec.RunOnce(context.Background(), r.t0.Add(time.Hour)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		txs, err := r.st.ListTransactions(t.Context(), "a", 0)
		if err != nil {
			t.Fatal(err)
		}
		refunds := 0
		for _, tx := range txs {
			if tx.Kind == store.TxRefund {
				refunds++
			}
		}
		if b, ev, p := r.balance(t), r.count(t, "economy.refunded"), r.pending(t); b != 100 || refunds != n || ev != n || p != 0 {
			t.Fatalf("balance %d refunds %d refund events %d pending %d", b, refunds, ev, p)
		}
	})
	t.Run("retry/charged-event-recorded-once", func(t *testing.T) {
		r := newRecRig(t, b)
		c := r.charge(t, "r1")
		for i := range 2 {
			e, err := gateway.AppendCharged(t.Context(), r.l, r.decision("r1"), gateway.ChargedEvent(c, "r1", "", nil), nil)
			if err != nil {
				t.Fatalf("attempt %d: %v", i, err)
			}
			next, err := r.l.Get(t.Context(), e.SequenceNumber+1)
			if i == 0 && (err != nil || next.EventType != "economy.charged") {
				t.Fatalf("entry after the decision: %s %v", next.EventType, err)
			}
		}
		if n, d := r.count(t, "economy.charged"), r.count(t, "policy.evaluated"); n != 1 || d != 2 {
			t.Fatalf("charged events %d decisions %d", n, d)
		}
	})
	t.Run("settled/not-revisited", func(t *testing.T) {
		r := newRecRig(t, b)
		c := r.charge(t, "r1")
		if _, err := gateway.AppendCharged(t.Context(), r.l, r.decision("r1"), gateway.ChargedEvent(c, "r1", "", nil), nil); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.Settle(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		res, err := r.rec(downLedger{r.l}).RunOnce(t.Context(), r.t0.Add(time.Hour))
		if err != nil || res != (Result{}) {
			t.Fatalf("%+v %v", res, err)
		}
	})
}

// downLedger fails every read and append.
type downLedger struct{ ReconcileLedger }

var errDown = errors.New("ledger down")

func (downLedger) GetByEventID(context.Context, string) (ledger.Entry, error) {
	return ledger.Entry{}, errDown
}

func (downLedger) Append(context.Context, ledger.Event) (ledger.Entry, error) {
	return ledger.Entry{}, errDown
}
