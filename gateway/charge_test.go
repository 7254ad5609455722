package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// fakeCharger charges a fixed price from an in-memory balance.
type fakeCharger struct {
	mu       sync.Mutex
	price    int64
	balance  int64
	fail     error
	charged  []string
	refunded []string
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

func eventTypes(f *fixture) []string {
	var out []string
	for _, e := range f.l.all() {
		out = append(out, e.EventType)
	}
	return out
}

func TestPipelineCharger(t *testing.T) {
	t.Run("allow/charged-and-recorded", func(t *testing.T) {
		f := newFixture(t)
		ch := &fakeCharger{price: 3, balance: 5}
		f.p.Charger = ch
		res := f.p.Intercept(t.Context(), f.input(nil))
		if res.Body.Decision != "allow" || ch.balance != 2 {
			t.Fatalf("%s %v balance %d", res.Body.Decision, res.Body.Code, ch.balance)
		}
		all := f.l.all()
		var p map[string]any
		_ = json.Unmarshal(all[0].Payload, &p)
		if all[0].EventType != "policy.evaluated" || p["charged"] != float64(3) || all[1].EventType != "economy.charged" {
			t.Fatalf("%v %v", eventTypes(f), p)
		}
	})
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
		if res.Body.Decision != "deny" || *res.Body.Code != "LEDGER_UNAVAILABLE" {
			t.Fatalf("%+v", res.Body)
		}
		if ch.balance != 5 || len(ch.refunded) != 1 {
			t.Fatalf("not refunded: balance %d refunds %v", ch.balance, ch.refunded)
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
