package app

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/economy"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestEconomyChargeAtomicity: an allow's economy.charged event is the
// ledger entry right after its decision; a debit whose decision never
// reached the ledger (a crash) is refunded once by the reconciler past
// its bound; an approved escalation is charged once, or denied
// INSUFFICIENT_BALANCE.
func TestEconomyChargeAtomicity(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	banker := h.opKey("bea", "economy:write")
	alice := h.operatorKey("alice", "approve", "read")
	bob := h.operatorKey("bob", "approve", "read")
	if st := h.withKey(banker, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"2": 4, "3": 7}}, nil); st != 200 {
		t.Fatalf("prices: %d", st)
	}
	budget := func(agent string, balance int64) {
		t.Helper()
		if st := h.withKey(banker, "PUT", "/v1/economy/budgets/"+tokentest.Pub(agent), map[string]any{"balance": balance}, nil); st != 200 {
			t.Fatalf("budget: %d", st)
		}
	}
	balance := func(agent string) int64 {
		t.Helper()
		a, err := h.g.Reconciler.Service.Store.GetAccount(context.Background(), tokentest.Pub(agent))
		if err != nil {
			t.Fatal(err)
		}
		return a.Balance
	}
	ofType := func(typ, agent string) []ledger.Entry {
		t.Helper()
		es, _, err := h.g.Ledger.List(context.Background(), ledger.ListQuery{EventType: typ, AgentID: tokentest.Pub(agent), Limit: ledger.MaxListLimit})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	pending := func() int {
		t.Helper()
		h.g.Pipeline.Drain() // settles run after the answer
		p, err := h.g.Reconciler.Service.Store.PendingCharges(context.Background(), h.clock.Now().Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(p)
	}

	t.Run("intercept/charged-in-the-decision-batch", func(t *testing.T) {
		agent := "eca-1"
		_, use := h.allowToken(agent)
		budget(agent, 10)
		m := h.interceptBody(agent, use)
		st, d := h.intercept(agent, m)
		if st != 200 || d.Ledger == nil {
			t.Fatalf("%d %s", st, str(d.Code))
		}
		dec, err := h.g.Ledger.Get(context.Background(), d.Ledger.Sequence)
		if err != nil || dec.EventType != "policy.evaluated" {
			t.Fatalf("decision entry %v %v", dec.EventType, err)
		}
		next, err := h.g.Ledger.Get(context.Background(), d.Ledger.Sequence+1)
		if err != nil || next.EventType != "economy.charged" || next.EventID != gateway.ChargedEventID(tokentest.Pub(agent), economy.InterceptKey(m["requestId"].(string))) {
			t.Fatalf("entry after the decision: %s %s %v", next.EventType, next.EventID, err)
		}
		var p map[string]any
		_ = json.Unmarshal(next.Payload, &p)
		if p["amount"] != float64(4) || p["requestId"] != m["requestId"] {
			t.Fatalf("economy.charged payload %v", p)
		}
		if b, n := balance(agent), pending(); b != 6 || n != 0 {
			t.Fatalf("balance %d pending %d", b, n)
		}
	})
	t.Run("crash/debit-without-decision-refunded-once", func(t *testing.T) {
		agent := "eca-2"
		budget(agent, 10)
		// The pipeline's charge, then a crash before the ledger append.
		req := &gateway.Request{InterceptRequest: api.InterceptRequest{RequestID: "crashed-1", AgentID: tokentest.Pub(agent), Resource: "ros:///cmd_vel", Action: "publish"}}
		c, err := h.g.Reconciler.Service.Charge(context.Background(), req, 2, h.clock.Now())
		if err != nil || c.Amount != 4 || balance(agent) != 6 {
			t.Fatalf("charge %+v %v", c, err)
		}
		res, err := h.g.Reconciler.RunOnce(context.Background(), h.clock.Now().Add(economy.DefaultBound/2))
		if err != nil || res.Refunded != 0 || balance(agent) != 6 {
			t.Fatalf("within the bound: %+v %v", res, err)
		}
		for range 2 {
			if _, err := h.g.Reconciler.RunOnce(context.Background(), h.clock.Now().Add(economy.DefaultBound+time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if b, n, p := balance(agent), len(ofType("economy.refunded", agent)), pending(); b != 10 || n != 1 || p != 0 {
			t.Fatalf("balance %d refund events %d pending %d", b, n, p)
		}
		var out struct {
			Transactions []map[string]any `json:"transactions"`
		}
		if st := h.agentCall(agent, "GET", "/v1/economy/transactions", nil, &out); st != 200 || len(out.Transactions) != 3 || out.Transactions[0]["kind"] != "refund" {
			t.Fatalf("%d %v", st, out)
		}
	})
	t.Run("approval/charged-once", func(t *testing.T) {
		agent := "eca-3"
		tok := h.tokenFor(agent, nil)
		budget(agent, 10)
		e := h.escalate(agent, tok, 3)
		if b := balance(agent); b != 10 {
			t.Fatalf("charged at escalation: %d", b)
		}
		var a approvalView
		if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, &a); st != 200 || a.State != "approved" {
			t.Fatalf("approve: %d %s", st, a.State)
		}
		h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, nil)
		h.as(bob, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, nil)
		st, d, _ := h.wait(agent, e.approvalID, 1000)
		if st != 200 {
			t.Fatalf("wait %d", st)
		}
		h.checkAllow(e, d)
		next, err := h.g.Ledger.Get(context.Background(), d.Ledger.Sequence+1)
		if err != nil || next.EventType != "economy.charged" || next.EventID != gateway.ChargedEventID(tokentest.Pub(agent), economy.InterceptKey(e.requestID)) {
			t.Fatalf("entry after approval.granted: %s %v", next.EventType, err)
		}
		if b, n, p := balance(agent), len(ofType("economy.charged", agent)), pending(); b != 3 || n != 1 || p != 0 {
			t.Fatalf("balance %d charged events %d pending %d", b, n, p)
		}
	})
	t.Run("approval/insufficient-balance-denied", func(t *testing.T) {
		agent := "eca-4"
		tok := h.tokenFor(agent, nil)
		budget(agent, 6)
		e := h.escalate(agent, tok, 3)
		var a approvalView
		if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, &a); st != 200 || a.State != "denied" {
			t.Fatalf("approve: %d %s", st, a.State)
		}
		st, d, _ := h.wait(agent, e.approvalID, 1000)
		if st != 403 || d.Decision != "deny" || str(d.Code) != "INSUFFICIENT_BALANCE" {
			t.Fatalf("wait %d %s %s", st, d.Decision, str(d.Code))
		}
		if got := h.ledgerTypes(e.approvalID); len(got) != 2 || got[1] != "approval.denied" {
			t.Fatalf("ledger %v", got)
		}
		if b, n := balance(agent), len(ofType("economy.charged", agent)); b != 6 || n != 0 {
			t.Fatalf("balance %d charged events %d", b, n)
		}
	})
}
