package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/oascheck"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// oasTransport checks every answer that passes through it against the
// OpenAPI document and records which operations were exercised.
type oasTransport struct {
	base http.RoundTripper
	doc  *oascheck.Doc

	mu       sync.Mutex
	problems []string
	seen     map[string]int // operationId → answers checked
}

func (o *oasTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := o.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	cerr := o.doc.CheckResponse(req.Method, req.URL.Path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	id, _, _ := o.doc.Operation(req.Method, req.URL.Path)
	o.mu.Lock()
	defer o.mu.Unlock()
	if cerr != nil {
		o.problems = append(o.problems, cerr.Error())
	}
	o.seen[fmt.Sprintf("%s %d", id, resp.StatusCode)]++
	return resp, nil
}

// TestOpenAPILiveResponses drives a real gateway through every area of the
// API (intercept allow/deny/escalate/batch, tokens, roots, API keys,
// approvals, e-stop, ledger, discovery documents, health …) and checks each
// answer, errors included, against the response schemas of the document
// the gateway itself serves at GET /v1/openapi.json.
func TestOpenAPILiveResponses(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	resp, err := http.Get(h.url + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doc, err := oascheck.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	tr := &oasTransport{base: http.DefaultTransport, doc: doc, seen: map[string]int{}}
	h.http = &http.Client{Timeout: 20 * time.Second, Transport: tr}
	must := func(what string, got int, want ...int) {
		t.Helper()
		if !slices.Contains(want, got) {
			t.Fatalf("%s: status %d, want %v", what, got, want)
		}
	}

	// Public documents.
	for _, p := range []string{"/health", "/health/live", "/health/ready", "/.well-known/jwks.json", "/.well-known/sint.json", "/v1/openapi.json"} {
		must(p, h.do("GET", p, nil, nil, nil), 200)
	}
	req, _ := http.NewRequest("GET", h.url+"/metrics", nil)
	if r, err := h.http.Do(req); err != nil {
		t.Fatal(err)
	} else {
		r.Body.Close()
		must("/metrics", r.StatusCode, 200)
	}

	// Roots and API keys.
	h.trustRoot("root")
	must("add root", h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("oas-spare-root")}, nil), 201)
	must("list roots", h.admin("GET", "/v1/roots", nil, nil), 200)
	must("remove root", h.admin("DELETE", "/v1/roots/"+tokentest.Pub("oas-spare-root"), nil, nil), 204)
	must("remove root again", h.admin("DELETE", "/v1/roots/"+tokentest.Pub("oas-spare-root"), nil, nil), 404)
	var key struct {
		ID string `json:"id"`
	}
	must("create api key", h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "oas-olga", "scopes": []string{"read"}}, &key), 201)
	must("list api keys", h.admin("GET", "/v1/apikeys", nil, nil), 200)
	must("delete api key", h.admin("DELETE", "/v1/apikeys/"+key.ID, nil, nil), 204)
	must("no key", h.do("GET", "/v1/roots", nil, nil, nil), 401)
	approver := h.operatorKey("oas-alice", "approve", "read")

	// Tokens.
	tok := h.tokenFor("oas-agent", nil)
	must("list tokens", h.admin("GET", "/v1/tokens?subject="+tokentest.Pub("oas-agent"), nil, nil), 200)
	must("get token", h.admin("GET", "/v1/tokens/"+tok.Claims.TokenID, nil, nil), 200)
	must("get unknown token", h.admin("GET", "/v1/tokens/01900000-0000-7000-8000-00000000dead", nil, nil), 404)
	must("register malformed token", h.admin("POST", "/v1/tokens", map[string]string{"token": "not-a-jws"}, nil), 422)
	child := tokentest.Sign("oas-agent", tokentest.Child(tok, "oas-child", h.n()))
	must("delegate", h.agentCall("oas-agent", "POST", "/v1/tokens/delegate", map[string]any{"token": child.Raw}, nil), 201)
	spare := h.tokenFor("oas-spare", nil)
	must("revoke", h.admin("DELETE", "/v1/tokens/"+spare.Claims.TokenID, nil, nil), 200)

	// Intercept: allow, deny, escalate, malformed, unauthenticated, batch.
	use := func(m map[string]any) { m["tokenId"] = tok.Claims.TokenID }
	st, allow := h.intercept("oas-agent", h.interceptBody("oas-agent", use))
	must("intercept allow", st, 200)
	must("intercept deny", func() int {
		st, _ := h.intercept("oas-agent", h.interceptBody("oas-agent", func(m map[string]any) { use(m); m["resource"] = "mqtt://elsewhere/x" }))
		return st
	}(), 403)
	e := h.escalate("oas-agent", tok, 3)
	must("intercept malformed", func() int {
		st, _ := h.intercept("oas-agent", h.interceptBody("oas-agent", func(m map[string]any) { use(m); m["unknownField"] = 1 }))
		return st
	}(), 400)
	body, _ := json.Marshal(h.interceptBody("oas-agent", use))
	must("intercept bad signature", h.do("POST", "/v1/intercept", signed("oas-spare", body, h.clock.Now().UnixMilli()), body, nil), 401)
	must("batch", h.batch([]string{"oas-agent"}, []map[string]any{h.interceptBody("oas-agent", use)}, nil), 200)

	// Approvals: list, read, wait (pending), approve with a standing
	// window, wait (decided), standing list and revoke, deny another.
	must("list approvals", h.as(approver, "GET", "/v1/approvals?state=pending", nil, nil), 200)
	must("get approval", h.as(approver, "GET", "/v1/approvals/"+e.approvalID, nil, nil), 200)
	st, _, _ = h.wait("oas-agent", e.approvalID, 0)
	must("wait pending", st, 202)
	must("approve", h.as(approver, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"standingForMs": 60000}, nil), 200)
	st, _, _ = h.wait("oas-agent", e.approvalID, 1000)
	must("wait decided", st, 200)
	must("list standing", h.as(approver, "GET", "/v1/standing-approvals", nil, nil), 200)
	must("revoke standing", h.as(approver, "DELETE", "/v1/standing-approvals/"+e.approvalID, nil, nil), 200)
	must("revoke unknown standing", h.as(approver, "DELETE", "/v1/standing-approvals/01900000-0000-7000-8000-00000000dead", nil, nil), 404)
	e2 := h.escalate("oas-agent", tok, 4)
	must("deny", h.as(approver, "POST", "/v1/approvals/"+e2.approvalID+"/deny", map[string]any{"reason": "not now"}, nil), 200)

	// Ledger.
	var entry struct {
		EventID string `json:"eventId"`
	}
	seq := allow.Ledger.Sequence
	var list struct {
		Events []struct {
			EventID  string `json:"eventId"`
			Sequence uint64 `json:"sequence"`
		} `json:"events"`
	}
	must("ledger list", h.admin("GET", "/v1/ledger?limit=5", nil, &list), 200)
	if len(list.Events) == 0 {
		t.Fatal("empty ledger")
	}
	entry.EventID = list.Events[0].EventID
	must("ledger entry", h.admin("GET", "/v1/ledger/"+entry.EventID, nil, nil), 200)
	must("ledger entry unknown", h.admin("GET", "/v1/ledger/01900000-0000-7000-8000-00000000dead", nil, nil), 404)
	must("ledger proof", h.admin("GET", "/v1/ledger/proof/"+entry.EventID, nil, nil), 200)
	must("ledger consistency", h.admin("GET", fmt.Sprintf("/v1/ledger/consistency?from=1&to=%d", seq), nil, nil), 200)
	must("ledger checkpoint", h.admin("GET", "/v1/ledger/checkpoint", nil, nil), 200)
	must("ledger verify", h.admin("POST", "/v1/ledger/verify", map[string]any{}, nil), 200)
	must("ledger export", h.admin("GET", "/v1/ledger/export", nil, nil), 200)

	// Policy, discovery, dashboard, risk.
	must("policy reload", h.admin("POST", "/v1/policy/reload", nil, nil), 200)
	must("agent circuit", h.admin("GET", "/v1/discovery/agents/"+tokentest.Pub("oas-agent")+"/circuit", nil, nil), 200)
	must("agents", h.admin("GET", "/v1/discovery/agents", nil, nil), 200)
	must("dashboard stats", h.admin("GET", "/v1/dashboard/stats", nil, nil), 200)
	must("dashboard agents", h.admin("GET", "/v1/dashboard/agents", nil, nil), 200)
	must("dashboard alerts", h.admin("GET", "/v1/dashboard/alerts", nil, nil), 200)
	must("risk snapshot", h.admin("GET", "/v1/risk/snapshot", nil, nil), 200)

	// Discovery registry, agent-to-agent delegation, economy.
	reg := map[string]any{"publicKey": tokentest.Pub("oas-arm"), "name": "arm-1", "owner": "cell-7", "labels": map[string]string{"robot": "ur5"}}
	must("register agent", h.admin("POST", "/v1/discovery/agents/register", reg, nil), 201)
	must("get agent", h.admin("GET", "/v1/discovery/agents/"+tokentest.Pub("oas-arm"), nil, nil), 200)
	must("delete agent", h.admin("DELETE", "/v1/discovery/agents/"+tokentest.Pub("oas-arm"), nil, nil), 200)
	must("close closed circuit", h.admin("POST", "/v1/discovery/agents/"+tokentest.Pub("oas-agent")+"/circuit/close", map[string]any{"reason": "check"}, nil), 200, 409)
	a2aChild := tokentest.Sign("oas-agent", tokentest.Child(tok, "oas-peer", h.n()))
	must("a2a delegate", h.agentCall("oas-agent", "POST", "/v1/a2a/delegate", map[string]any{"token": a2aChild.Raw}, nil), 201)
	must("a2a trust chain", h.admin("GET", "/v1/a2a/trust-chain/"+a2aChild.Claims.TokenID, nil, nil), 200)
	must("a2a revoke", h.agentCall("oas-agent", "POST", "/v1/a2a/revoke", map[string]any{"tokenId": a2aChild.Claims.TokenID}, nil), 200)
	must("set budget", h.admin("PUT", "/v1/economy/budgets/"+tokentest.Pub("oas-agent"), map[string]any{"balance": 100}, nil), 200)
	must("budgets", h.admin("GET", "/v1/economy/budgets", nil, nil), 200)
	must("prices", h.admin("GET", "/v1/economy/prices", nil, nil), 200)
	must("balance", h.admin("GET", "/v1/economy/balance?agentId="+tokentest.Pub("oas-agent"), nil, nil), 200)
	must("charge", h.agentCall("oas-agent", "POST", "/v1/economy/charge", map[string]any{"amount": 5, "idempotencyKey": "oas-1"}, nil), 200)
	must("transactions", h.admin("GET", "/v1/economy/transactions?agentId="+tokentest.Pub("oas-agent"), nil, nil), 200)

	// E-stop last: a trip cancels pending approvals.
	must("estop status", h.admin("GET", "/v1/estop", nil, nil), 200)
	must("estop trip", h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "oas check"}, nil), 200)
	st, _ = h.intercept("oas-agent", h.interceptBody("oas-agent", use))
	must("intercept while tripped", st, 403, 503)
	must("estop reset", h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "checked"}, nil), 200)

	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, p := range tr.problems {
		t.Error(p)
	}
	// The operations this test must have exercised with a 2xx answer: a
	// renamed operationId or a skipped call shows here.
	for _, id := range []string{"health", "healthLive", "healthReady", "getJwks", "getDiscovery", "getOpenApi", "getMetrics",
		"addRoot", "listRoots", "removeRoot", "createApiKey", "listApiKeys", "deleteApiKey",
		"registerToken", "listTokens", "getToken", "delegateToken", "revokeToken",
		"intercept", "interceptBatch", "listApprovals", "getApproval", "waitApproval", "approveApproval", "denyApproval",
		"listStandingApprovals", "revokeStandingApproval", "listLedger", "getLedgerEntry", "getInclusionProof",
		"getConsistencyProof", "getCheckpoint", "verifyLedger", "exportLedger", "reloadPolicy", "getAgentCircuit",
		"getEstop", "tripEstop", "resetEstop", "registerAgent", "getAgent", "deleteAgent", "listAgents",
		"a2aDelegate", "getTrustChain", "a2aRevoke", "setBudget", "listBudgets", "getPrices", "getBalance", "charge",
		"listTransactions", "getDashboardStats", "getDashboardAgents", "getDashboardAlerts", "getRiskSnapshot"} {
		ok := false
		for k := range tr.seen {
			var got string
			var code int
			if _, err := fmt.Sscanf(k, "%s %d", &got, &code); err == nil && got == id && code < 300 {
				ok = true
			}
		}
		if !ok {
			t.Errorf("operation %s was not exercised with a 2xx answer", id)
		}
	}
	if t.Failed() {
		var seen []string
		for k, n := range tr.seen {
			seen = append(seen, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(seen)
		t.Logf("answers checked: %v", seen)
	}
}

// batch sends items (each signed by the agent at the same index) to
// /v1/intercept/batch in the documented form and decodes the answer.
func (h *harness) batch(agents []string, items []map[string]any, out any) int {
	h.t.Helper()
	type item struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	}
	var in struct {
		Items []item `json:"items"`
	}
	for i, m := range items {
		b, _ := json.Marshal(m)
		ts, _ := m["timestamp"].(int64)
		in.Items = append(in.Items, item{Headers: signed(agents[i], b, ts), Body: string(b)})
	}
	body, _ := json.Marshal(in)
	return h.do("POST", "/v1/intercept/batch", nil, body, out)
}
