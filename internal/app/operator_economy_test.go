package app

import (
	"testing"

	"github.com/sintgate/sintgate/gateway/risk"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

func riskEvent() risk.Event { return risk.Event{Decision: "allow", Tier: 1, Risk: 0.05} }

func TestOperatorEconomy(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	reader := h.opKey("rita", "read")
	banker := h.opKey("bea", "economy:write")
	agent, other := "eco-a", "eco-b"
	_, use := h.allowToken(agent)
	h.allowToken(other)

	t.Run("budget/read-scope-403", func(t *testing.T) {
		var e opErr
		if st := h.withKey(reader, "PUT", "/v1/economy/budgets/"+tokentest.Pub(agent), map[string]any{"balance": 10}, &e); st != 403 || e.Error.Code != "FORBIDDEN" {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("prices/read-scope-403", func(t *testing.T) {
		if st := h.withKey(reader, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"2": 4}}, nil); st != 403 {
			t.Fatalf("%d", st)
		}
	})
	t.Run("prices/invalid-400", func(t *testing.T) {
		if st := h.withKey(banker, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"9": 4}}, nil); st != 400 {
			t.Fatalf("%d", st)
		}
	})
	t.Run("prices/set", func(t *testing.T) {
		var p map[string]any
		if st := h.withKey(banker, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"2": 4}}, &p); st != 200 || p["version"].(float64) != 1 {
			t.Fatalf("%d %v", st, p)
		}
		if st := h.withKey(banker, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"2": 4}}, nil); st != 409 {
			t.Fatalf("stale version: %d", st)
		}
		if st := h.withKey(reader, "GET", "/v1/economy/prices", nil, &p); st != 200 || p["tiers"].(map[string]any)["2"].(float64) != 4 {
			t.Fatalf("%d %v", st, p)
		}
	})
	t.Run("intercept/no-budget-insufficient", func(t *testing.T) {
		if st, d := h.intercept(agent, h.interceptBody(agent, use)); st != 403 || str(d.Code) != "INSUFFICIENT_BALANCE" {
			t.Fatalf("%d %s", st, str(d.Code))
		}
	})
	t.Run("budget/set", func(t *testing.T) {
		var out map[string]any
		if st := h.withKey(banker, "PUT", "/v1/economy/budgets/"+tokentest.Pub(agent), map[string]any{"balance": 10, "idempotencyKey": "b1"}, &out); st != 200 || out["replayed"] != false {
			t.Fatalf("%d %v", st, out)
		}
		if st := h.withKey(banker, "PUT", "/v1/economy/budgets/"+tokentest.Pub(agent), map[string]any{"balance": 10, "idempotencyKey": "b1"}, &out); st != 200 || out["replayed"] != true {
			t.Fatalf("retry: %d %v", st, out)
		}
	})
	t.Run("intercept/charged-then-insufficient", func(t *testing.T) {
		for i := range 2 {
			if st, d := h.intercept(agent, h.interceptBody(agent, use)); st != 200 {
				t.Fatalf("allow %d: %d %s", i, st, str(d.Code))
			}
		}
		if st, d := h.intercept(agent, h.interceptBody(agent, use)); st != 403 || str(d.Code) != "INSUFFICIENT_BALANCE" {
			t.Fatalf("third: %d %s", st, str(d.Code))
		}
		var ev struct {
			Events []map[string]any `json:"events"`
		}
		h.withKey(reader, "GET", "/v1/ledger?eventType=economy.charged", nil, &ev)
		if len(ev.Events) != 2 {
			t.Fatalf("economy.charged events: %d", len(ev.Events))
		}
	})
	t.Run("balance/own", func(t *testing.T) {
		var acc map[string]any
		if st := h.agentCall(agent, "GET", "/v1/economy/balance", nil, &acc); st != 200 || acc["balance"].(float64) != 2 {
			t.Fatalf("%d %v", st, acc)
		}
	})
	t.Run("balance/other-agent-403", func(t *testing.T) {
		var e opErr
		if st := h.agentCall(other, "GET", "/v1/economy/balance?agentId="+tokentest.Pub(agent), nil, &e); st != 403 || e.Error.Code != "FORBIDDEN" {
			t.Fatalf("%d %+v", st, e)
		}
		if st := h.agentCall(other, "GET", "/v1/economy/transactions?agentId="+tokentest.Pub(agent), nil, &e); st != 403 {
			t.Fatalf("transactions: %d", st)
		}
	})
	t.Run("balance/unsigned-401", func(t *testing.T) {
		if st := h.do("GET", "/v1/economy/balance", nil, []byte(`{}`), nil); st != 400 && st != 401 {
			t.Fatalf("%d", st)
		}
	})
	t.Run("balance/operator-read", func(t *testing.T) {
		var acc map[string]any
		if st := h.withKey(reader, "GET", "/v1/economy/balance?agentId="+tokentest.Pub(agent), nil, &acc); st != 200 || acc["balance"].(float64) != 2 {
			t.Fatalf("%d %v", st, acc)
		}
	})
	t.Run("transactions/own-newest-first", func(t *testing.T) {
		var out struct {
			Transactions []map[string]any `json:"transactions"`
		}
		if st := h.agentCall(agent, "GET", "/v1/economy/transactions", nil, &out); st != 200 || len(out.Transactions) != 3 || out.Transactions[2]["kind"] != "budget" {
			t.Fatalf("%d %v", st, out)
		}
	})
	t.Run("charge/idempotent-under-retries", func(t *testing.T) {
		var first, again map[string]any
		body := map[string]any{"amount": 2, "idempotencyKey": "svc-1", "payee": "map-service"}
		if st := h.agentCall(agent, "POST", "/v1/economy/charge", body, &first); st != 200 || first["replayed"] != false {
			t.Fatalf("%d %v", st, first)
		}
		if st := h.agentCall(agent, "POST", "/v1/economy/charge", body, &again); st != 200 || again["replayed"] != true {
			t.Fatalf("retry %d %v", st, again)
		}
		var acc map[string]any
		h.agentCall(agent, "GET", "/v1/economy/balance", nil, &acc)
		if acc["balance"].(float64) != 0 {
			t.Fatalf("double charge: balance %v", acc["balance"])
		}
		var e opErr
		if st := h.agentCall(agent, "POST", "/v1/economy/charge", map[string]any{"amount": 1, "idempotencyKey": "svc-2"}, &e); st != 402 || e.Error.Code != "INSUFFICIENT_BALANCE" {
			t.Fatalf("%d %+v", st, e)
		}
	})
	t.Run("budgets/list", func(t *testing.T) {
		var out struct {
			Accounts []map[string]any `json:"accounts"`
		}
		if st := h.withKey(reader, "GET", "/v1/economy/budgets", nil, &out); st != 200 || len(out.Accounts) != 1 {
			t.Fatalf("%d %v", st, out)
		}
	})
}

func TestOperatorA2A(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	reader := h.opKey("rita", "read")
	root, _ := h.allowToken("a2a-parent")
	child := tokentest.Sign("a2a-parent", tokentest.Child(root, "a2a-child", h.n()))
	use := func(m map[string]any) { m["tokenId"] = child.Claims.TokenID }

	t.Run("delegate/signed-by-other-agent-403", func(t *testing.T) {
		if st := h.agentCall("a2a-child", "POST", "/v1/a2a/delegate", map[string]any{"token": child.Raw}, nil); st != 403 {
			t.Fatalf("%d", st)
		}
	})
	t.Run("delegate/unsigned-401", func(t *testing.T) {
		if st := h.do("POST", "/v1/a2a/delegate", nil, []byte(`{"agentId":"`+tokentest.Pub("a2a-parent")+`","requestId":"`+tokentest.TokenID(1)+`","timestamp":1,"token":"x"}`), nil); st != 401 && st != 400 {
			t.Fatalf("%d", st)
		}
	})
	t.Run("delegate/ok", func(t *testing.T) {
		var out map[string]any
		if st := h.agentCall("a2a-parent", "POST", "/v1/a2a/delegate", map[string]any{"token": child.Raw}, &out); st != 201 || out["tokenId"] != child.Claims.TokenID {
			t.Fatalf("%d %v", st, out)
		}
		if st, d := h.intercept("a2a-child", h.interceptBody("a2a-child", use)); st != 200 {
			t.Fatalf("child intercept: %d %s", st, str(d.Code))
		}
	})
	t.Run("trust-chain/links", func(t *testing.T) {
		var out struct {
			Links []struct {
				TokenID string `json:"tokenId"`
				Issuer  string `json:"issuer"`
				Revoked bool   `json:"revoked"`
				Limits  any    `json:"limits"`
			} `json:"links"`
			Valid bool `json:"valid"`
		}
		if st := h.agentCall("a2a-child", "GET", "/v1/a2a/trust-chain/"+child.Claims.TokenID, nil, &out); st != 200 || len(out.Links) != 2 || !out.Valid {
			t.Fatalf("%d %+v", st, out)
		}
		if out.Links[0].TokenID != root.Claims.TokenID || out.Links[1].Issuer != tokentest.Pub("a2a-parent") || out.Links[1].Limits == nil {
			t.Fatalf("%+v", out)
		}
		if st := h.agentCall("outsider", "GET", "/v1/a2a/trust-chain/"+child.Claims.TokenID, nil, nil); st != 403 {
			t.Fatalf("outsider: %d", st)
		}
		if st := h.withKey(reader, "GET", "/v1/a2a/trust-chain/"+child.Claims.TokenID, nil, nil); st != 200 {
			t.Fatalf("operator: %d", st)
		}
	})
	t.Run("revoke/only-issuer", func(t *testing.T) {
		var e opErr
		if st := h.agentCall("a2a-child", "POST", "/v1/a2a/revoke", map[string]any{"tokenId": child.Claims.TokenID}, &e); st != 403 || e.Error.Code != "FORBIDDEN" {
			t.Fatalf("subject revoked: %d", st)
		}
		if st := h.agentCall("a2a-child", "POST", "/v1/a2a/revoke", map[string]any{"tokenId": root.Claims.TokenID}, nil); st != 403 {
			t.Fatalf("revoked the root: %d", st)
		}
		var out struct {
			Revoked []string `json:"revoked"`
		}
		if st := h.agentCall("a2a-parent", "POST", "/v1/a2a/revoke", map[string]any{"tokenId": child.Claims.TokenID, "reason": "done"}, &out); st != 200 || len(out.Revoked) != 1 {
			t.Fatalf("%d %v", st, out)
		}
		if st, d := h.intercept("a2a-child", h.interceptBody("a2a-child", use)); st != 403 || str(d.Code) != "TOKEN_REVOKED" {
			t.Fatalf("after revoke: %d %s", st, str(d.Code))
		}
		var ch struct {
			Valid bool `json:"valid"`
		}
		h.withKey(reader, "GET", "/v1/a2a/trust-chain/"+child.Claims.TokenID, nil, &ch)
		if ch.Valid {
			t.Fatal("revoked chain reported valid")
		}
	})
}
