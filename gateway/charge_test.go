package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/ledger"
)

// fakeCharger charges a fixed price from an in-memory balance.
type fakeCharger struct {
	mu       sync.Mutex
	price    int64
	balance  int64
	fail     error
	charged  []string
	refunded []string
	settled  []string
}

func (c *fakeCharger) Charge(_ context.Context, req *Request, _ int, _ time.Time) (Charge, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return Charge{}, c.fail
	}
	if c.price == 0 {
		return Charge{}, nil
	}
	if c.balance < c.price {
		return Charge{}, codes.New(codes.InsufficientBalance, "too poor")
	}
	c.balance -= c.price
	c.charged = append(c.charged, req.RequestID)
	return Charge{AgentID: req.AgentID, Key: "intercept:" + req.RequestID, Amount: c.price, Balance: c.balance}, nil
}

func (c *fakeCharger) Refund(_ context.Context, ch Charge, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.balance += ch.Amount
	c.refunded = append(c.refunded, ch.Key)
	return nil
}

func (c *fakeCharger) Settle(_ context.Context, ch Charge) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settled = append(c.settled, ch.Key)
	return nil
}

func eventTypes(f *fixture) []string {
	var out []string
	for _, e := range f.l.all() {
		out = append(out, e.EventType)
	}
	return out
}

func TestPipelineCharger(t *testing.T) {
	for _, batch := range []bool{true, false} {
		name := "allow/charged-in-the-decision-batch"
		if !batch {
			name = "allow/charged-after-the-decision-without-batching"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			if batch {
				f.p.Ledger = batchLedger{f.l}
			}
			ch := &fakeCharger{price: 3, balance: 5}
			f.p.Charger = ch
			in := f.input(nil)
			res := f.p.Intercept(t.Context(), in)
			f.p.Drain()
			if res.Body.Decision != "allow" || ch.balance != 2 {
				t.Fatalf("%s %v balance %d", res.Body.Decision, res.Body.Code, ch.balance)
			}
			all := f.l.all()
			if len(all) != 2 {
				t.Fatalf("entries %v", eventTypes(f))
			}
			var p, c map[string]any
			_ = json.Unmarshal(all[0].Payload, &p)
			_ = json.Unmarshal(all[1].Payload, &c)
			if all[0].EventType != "policy.evaluated" || p["charged"] != float64(3) || all[1].EventType != "economy.charged" {
				t.Fatalf("%v %v", eventTypes(f), p)
			}
			if all[1].SequenceNumber != all[0].SequenceNumber+1 || res.Entry.SequenceNumber != all[0].SequenceNumber {
				t.Fatalf("not consecutive: decision %d charged %d answer %d", all[0].SequenceNumber, all[1].SequenceNumber, res.Entry.SequenceNumber)
			}
			key := "intercept:" + p["requestId"].(string)
			if all[1].EventID != ChargedEventID(p["agentId"].(string), key) || c["idempotencyKey"] != key || c["amount"] != float64(3) || c["requestId"] != p["requestId"] {
				t.Fatalf("economy.charged %s %v", all[1].EventID, c)
			}
			if len(ch.settled) != 1 || len(ch.refunded) != 0 {
				t.Fatalf("settled %v refunded %v", ch.settled, ch.refunded)
			}
		})
	}
	t.Run("deny/insufficient-balance", func(t *testing.T) {
		f := newFixture(t)
		f.p.Charger = &fakeCharger{price: 3, balance: 2}
		res := f.p.Intercept(t.Context(), f.input(nil))
		if res.Body.Decision != "deny" || res.Body.Code == nil || *res.Body.Code != "INSUFFICIENT_BALANCE" || res.Status != 403 {
			t.Fatalf("%+v", res.Body)
		}
		var p map[string]any
		_ = json.Unmarshal(f.l.all()[0].Payload, &p)
		if p["code"] != "INSUFFICIENT_BALANCE" {
			t.Fatalf("ledger recorded %v", p)
		}
	})
	t.Run("deny/economy-down-fails-closed", func(t *testing.T) {
		f := newFixture(t)
		f.p.Charger = &fakeCharger{price: 3, balance: 5, fail: errors.New("store down")}
		res := f.p.Intercept(t.Context(), f.input(nil))
		if res.Body.Decision != "deny" || *res.Body.Code != "INTERNAL_ERROR" {
			t.Fatalf("%+v", res.Body)
		}
	})
	t.Run("refund/ledger-failure", func(t *testing.T) {
		f := newFixture(t)
		ch := &fakeCharger{price: 3, balance: 5}
		f.p.Charger = ch
		f.l.fail = errBoom
		res := f.p.Intercept(t.Context(), f.input(nil))
		f.p.Drain()
		if res.Body.Decision != "deny" || *res.Body.Code != "LEDGER_UNAVAILABLE" {
			t.Fatalf("%+v", res.Body)
		}
		if ch.balance != 5 || len(ch.refunded) != 1 {
			t.Fatalf("not refunded: balance %d refunds %v", ch.balance, ch.refunded)
		}
		// The ledger could not take economy.refunded either: the charge
		// stays pending (not settled) for the reconciler.
		if len(ch.settled) != 0 || len(f.l.all()) != 0 {
			t.Fatalf("settled %v entries %v", ch.settled, eventTypes(f))
		}
	})
	t.Run("refund/superseded-allow-recorded-as-refunded", func(t *testing.T) {
		f := newFixture(t)
		f.p.Ledger = batchLedger{f.l}
		ch := &fakeCharger{price: 3, balance: 5}
		f.p.Charger = ch
		f.p.Signer = failingSigner{}
		res := f.p.Intercept(t.Context(), f.input(nil))
		f.p.Drain()
		if res.Body.Decision != "deny" || *res.Body.Code != "INTERNAL_ERROR" {
			t.Fatalf("%+v", res.Body)
		}
		got := eventTypes(f)
		want := []string{"policy.evaluated", "economy.charged", "policy.superseded", "economy.refunded"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("events %v, want %v", got, want)
		}
		if ch.balance != 5 || len(ch.refunded) != 1 || len(ch.settled) != 1 {
			t.Fatalf("balance %d refunded %v settled %v", ch.balance, ch.refunded, ch.settled)
		}
		if e := f.l.all()[3]; e.EventID != RefundedEventID(e.AgentID, ch.refunded[0]) {
			t.Fatalf("refund event id %s", e.EventID)
		}
	})
	t.Run("free/no-charge-no-event", func(t *testing.T) {
		f := newFixture(t)
		f.p.Charger = &fakeCharger{price: 0}
		if res := f.p.Intercept(t.Context(), f.input(nil)); res.Body.Decision != "allow" {
			t.Fatalf("%+v", res.Body)
		}
		if got := eventTypes(f); len(got) != 1 {
			t.Fatalf("%v", got)
		}
	})
}

type failingSigner struct{}

func (failingSigner) SignAttestation(attest.Claims) (string, error) { return "", errBoom }

func TestAppendCharged(t *testing.T) {
	c := Charge{AgentID: "a", Key: "intercept:r1", TxID: "t1", Amount: 3, Balance: 2}
	decision := func() ledger.Event {
		return ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]any{"requestId": "r1"}}
	}
	t.Run("batch/retry-records-the-charge-once", func(t *testing.T) {
		l := batchLedger{&memLedger{}}
		for range 2 {
			if _, err := AppendCharged(t.Context(), l, decision(), ChargedEvent(c, "r1", "", nil), nil); err != nil {
				t.Fatal(err)
			}
		}
		var types []string
		for _, e := range l.all() {
			types = append(types, e.EventType)
		}
		if fmt.Sprint(types) != "[policy.evaluated economy.charged policy.evaluated]" {
			t.Fatalf("%v", types)
		}
	})
	t.Run("batch/refused-decision-writes-no-charge", func(t *testing.T) {
		l := batchLedger{&memLedger{}}
		ev := decision()
		ev.Guard = func() error { return estop.ErrTripped }
		if _, err := AppendCharged(t.Context(), l, ev, ChargedEvent(c, "r1", "", nil), nil); !errors.Is(err, estop.ErrTripped) {
			t.Fatalf("err %v", err)
		}
		if n := len(l.all()); n != 0 {
			t.Fatalf("%d entries written", n)
		}
	})
	t.Run("batch/ledger-failure-writes-nothing", func(t *testing.T) {
		l := batchLedger{&memLedger{fail: errBoom}}
		if _, err := AppendCharged(t.Context(), l, decision(), ChargedEvent(c, "r1", "", nil), nil); !errors.Is(err, errBoom) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("refund/idempotent", func(t *testing.T) {
		l := &memLedger{}
		ch := &fakeCharger{balance: 2}
		for range 2 {
			if err := RefundCharge(t.Context(), ch, l, c, "test", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(l.all()); n != 1 || l.all()[0].EventType != "economy.refunded" {
			t.Fatalf("%d entries", n)
		}
	})
	t.Run("ids/derived-and-distinct", func(t *testing.T) {
		if ChargedEventID("a", "k") != ChargedEventID("a", "k") || ChargedEventID("a", "k") == RefundedEventID("a", "k") ||
			ChargedEventID("a", "k") == ChargedEventID("b", "k") || ChargedEventID("a", "k:x") == ChargedEventID("a:k", "x") {
			t.Fatal("event ids not derived per agent, key and kind")
		}
	})
}
