package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// approvalView is the §7 approval record as a client reads it.
type approvalView struct {
	ApprovalID        string `json:"approvalId"`
	State             string `json:"state"`
	RequestID         string `json:"requestId"`
	AgentID           string `json:"agentId"`
	TokenID           string `json:"tokenId"`
	Tier              int    `json:"tier"`
	RequiredApprovals int    `json:"requiredApprovals"`
	Votes             []struct {
		OperatorID string `json:"operatorId"`
		Vote       string `json:"vote"`
		Reason     string `json:"reason"`
	} `json:"votes"`
	ExpiresAt  int64         `json:"expiresAt"`
	ResolvedAt *int64        `json:"resolvedAt"`
	Decision   *api.Decision `json:"decision"`
}

type errBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// operatorKey creates an API key for operatorID with scopes.
func (h *harness) operatorKey(operatorID string, scopes ...string) string {
	h.t.Helper()
	var out struct {
		Key string `json:"key"`
	}
	if st := h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": operatorID, "scopes": scopes}, &out); st != 201 {
		h.t.Fatalf("create API key: %d", st)
	}
	return out.Key
}

// as calls an operator endpoint with key.
func (h *harness) as(key, method, path string, in, out any) int {
	h.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	return h.do(method, path, map[string]string{"Authorization": "Bearer " + key}, body, out)
}

// escalation is one escalated request.
type escalation struct {
	agent, approvalID, requestID, tokenID, resource string
	params                                          json.RawMessage
}

// resourceOfTier names a resource the test policy puts at tier.
func resourceOfTier(tier int) string {
	switch tier {
	case 3:
		return "ros:///arm/joint_trajectory"
	case 4:
		return "ros:///config/limits"
	default:
		return "ros:///safety/brake"
	}
}

// tokenFor registers a tier-5 root token for agent (mutated) and returns it.
func (h *harness) tokenFor(agent string, mutate func(c *tokens.Claims)) *tokens.Token {
	t := h.rootToken(agent, func(c *tokens.Claims) {
		c.Tier = 5
		if mutate != nil {
			mutate(c)
		}
	})
	h.register(t)
	return t
}

// escalate sends a request at tier with tok and expects 202.
func (h *harness) escalate(agent string, tok *tokens.Token, tier int) escalation {
	h.t.Helper()
	res := resourceOfTier(tier)
	m := h.interceptBody(agent, func(m map[string]any) {
		m["tokenId"], m["resource"], m["params"] = tok.Claims.TokenID, res, map[string]any{"step": h.n()}
	})
	st, d := h.intercept(agent, m)
	if st != 202 || d.Decision != "escalate" || d.ApprovalID == nil {
		h.t.Fatalf("escalate at tier %d: %d %+v code=%s reason=%s", tier, st, d, str(d.Code), str(d.Reason))
	}
	p, _ := json.Marshal(m["params"])
	return escalation{agent: agent, approvalID: *d.ApprovalID, requestID: m["requestId"].(string), tokenID: tok.Claims.TokenID, resource: res, params: p}
}

// wait long-polls as agent on approvalID.
func (h *harness) wait(agent, approvalID string, timeoutMs int) (int, api.Decision, errBody) {
	h.t.Helper()
	ts := h.clock.Now().UnixMilli()
	body, _ := json.Marshal(map[string]any{"agentId": tokentest.Pub(agent), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": ts})
	var raw json.RawMessage
	st := h.do("POST", fmt.Sprintf("/v1/approvals/%s/wait?timeoutMs=%d", approvalID, timeoutMs), signed(agent, body, ts), body, &raw)
	var d api.Decision
	var e errBody
	_ = json.Unmarshal(raw, &d)
	_ = json.Unmarshal(raw, &e)
	return st, d, e
}

func (h *harness) approval(id string) approvalView {
	h.t.Helper()
	var a approvalView
	if st := h.admin("GET", "/v1/approvals/"+id, nil, &a); st != 200 {
		h.t.Fatalf("get approval: %d", st)
	}
	return a
}

// checkAllow verifies an approved decision: attestation signed by the
// gateway's JWKS, jti = original requestId, ledgerSeq = the decision's own
// approval.granted entry.
func (h *harness) checkAllow(e escalation, d api.Decision) {
	h.t.Helper()
	if d.Decision != "allow" || d.Attestation == nil || d.Ledger == nil || d.RequestID == nil || *d.RequestID != e.requestID {
		h.t.Fatalf("not an allow for the original request: %+v", d)
	}
	jwks, err := http.Get(h.url + "/.well-known/jwks.json")
	if err != nil {
		h.t.Fatal(err)
	}
	doc, _ := io.ReadAll(jwks.Body)
	jwks.Body.Close()
	v, err := attest.NewVerifierFromJWKS(doc)
	if err != nil {
		h.t.Fatal(err)
	}
	ph, err := attest.ParamsHash(e.params)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := v.Verify(*d.Attestation, h.clock.Now(), attest.Expect{AgentID: tokentest.Pub(e.agent), Resource: e.resource, Action: "publish", ParamsHash: ph})
	if err != nil {
		h.t.Fatalf("attestation does not verify: %v", err)
	}
	if c.JTI != e.requestID || c.LedgerSeq != d.Ledger.Sequence || c.TokenID != e.tokenID {
		h.t.Fatalf("attestation claims: jti=%s seq=%d token=%s, want %s %d %s", c.JTI, c.LedgerSeq, c.TokenID, e.requestID, d.Ledger.Sequence, e.tokenID)
	}
	entry, err := h.g.Ledger.Get(context.Background(), c.LedgerSeq)
	if err != nil || entry.EventType != "approval.granted" || entry.Hash != d.Ledger.Hash {
		h.t.Fatalf("ledgerSeq %d is %s (%v), want approval.granted", c.LedgerSeq, entry.EventType, err)
	}
}

// ledgerTypes returns the event types recorded for an approval, in order.
func (h *harness) ledgerTypes(approvalID string) []string {
	h.t.Helper()
	var out []string
	var after uint64
	for {
		es, next, err := h.g.Ledger.List(context.Background(), ledger.ListQuery{After: after, Limit: 1000})
		if err != nil {
			h.t.Fatal(err)
		}
		for _, e := range es {
			if strings.HasPrefix(e.EventType, "approval.") && strings.Contains(string(e.Payload), approvalID) {
				out = append(out, e.EventType)
			}
		}
		if next == nil {
			return out
		}
		after = *next
	}
}

// vote is one step of an approval scenario.
type vote struct {
	key, kind, reason string
	standing          int64
	status            int
	code              string // error code when status ≥ 400
	state             string // state after the step (when status 200)
}

func TestApprovalVotes(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	bob := h.operatorKey("bob", "approve", "read")
	carol := h.operatorKey("carol", "approve", "read")
	reader := h.operatorKey("rita", "read")

	cases := []struct {
		name    string
		tier    int
		quorum  *tokens.Quorum
		votes   []vote
		final   string
		code    string // final decision code (deny)
		ledger  []string
		waitSt  int
		observe func(t *testing.T, h *harness, e escalation)
	}{
		{name: "tier-3/one-approval-allows", tier: 3,
			votes: []vote{{key: alice, kind: "approve", status: 200, state: "approved"}},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.granted"}},
		{name: "tier-3/no-reason-needed-but-kept", tier: 3,
			votes: []vote{{key: bob, kind: "approve", reason: "looks fine", status: 200, state: "approved"}},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.granted"}},
		{name: "tier-4/approve-without-reason-400", tier: 4,
			votes: []vote{
				{key: alice, kind: "approve", status: 400, code: "MALFORMED_REQUEST"},
				{key: alice, kind: "approve", reason: "checked the limits", status: 200, state: "approved"},
			},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.granted"}},
		{name: "tier-5/two-person-rule", tier: 5,
			votes: []vote{
				{key: alice, kind: "approve", reason: "brake test", status: 200, state: "pending"},
				{key: alice, kind: "approve", reason: "again", status: 200, state: "pending"}, // duplicate: no second person
				{key: bob, kind: "approve", reason: "second person", status: 200, state: "approved"},
			},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.voted", "approval.granted"}},
		{name: "tier-5/reason-required", tier: 5,
			votes: []vote{{key: alice, kind: "approve", status: 400, code: "MALFORMED_REQUEST"}},
			final: "pending", waitSt: 202, ledger: []string{"approval.requested"}},
		{name: "quorum/outsider-403-then-quorum-of-two", tier: 3, quorum: &tokens.Quorum{Required: 2, Authorized: []string{"alice", "bob"}},
			votes: []vote{
				{key: carol, kind: "approve", status: 403, code: "FORBIDDEN"},
				{key: carol, kind: "deny", status: 403, code: "FORBIDDEN"},
				{key: bob, kind: "approve", status: 200, state: "pending"},
				{key: alice, kind: "approve", status: 200, state: "approved"},
			},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.voted", "approval.granted"}},
		{name: "quorum/three-of-three-at-tier-5", tier: 5, quorum: &tokens.Quorum{Required: 3, Authorized: []string{"alice", "bob", "carol"}},
			votes: []vote{
				{key: alice, kind: "approve", reason: "a", status: 200, state: "pending"},
				{key: bob, kind: "approve", reason: "b", status: 200, state: "pending"},
				{key: carol, kind: "approve", reason: "c", status: 200, state: "approved"},
			},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.voted", "approval.voted", "approval.granted"}},
		{name: "deny/any-authorised-deny-resolves", tier: 5,
			votes: []vote{
				{key: alice, kind: "approve", reason: "ok", status: 200, state: "pending"},
				{key: bob, kind: "deny", reason: "not now", status: 200, state: "denied"},
				{key: bob, kind: "deny", reason: "not now", status: 200, state: "denied"}, // duplicate: idempotent
				{key: carol, kind: "approve", reason: "late", status: 409, code: "CONFLICT"},
			},
			final: "denied", code: "APPROVAL_DENIED", waitSt: 403, ledger: []string{"approval.requested", "approval.voted", "approval.denied"}},
		{name: "deny/duplicate-approve-after-resolution-idempotent", tier: 3,
			votes: []vote{
				{key: alice, kind: "approve", status: 200, state: "approved"},
				{key: alice, kind: "approve", status: 200, state: "approved"},
				{key: bob, kind: "deny", status: 409, code: "CONFLICT"},
			},
			final: "approved", waitSt: 200, ledger: []string{"approval.requested", "approval.granted"}},
		{name: "scope/read-only-key-403", tier: 3,
			votes: []vote{{key: reader, kind: "approve", status: 403, code: "FORBIDDEN"}},
			final: "pending", waitSt: 202, ledger: []string{"approval.requested"}},
		{name: "standing/not-at-tier-4", tier: 4,
			votes: []vote{{key: alice, kind: "approve", reason: "x", standing: 60_000, status: 400, code: "MALFORMED_REQUEST"}},
			final: "pending", waitSt: 202, ledger: []string{"approval.requested"}},
		{name: "standing/over-one-hour", tier: 3,
			votes: []vote{{key: alice, kind: "approve", standing: 3_600_001, status: 400, code: "MALFORMED_REQUEST"}},
			final: "pending", waitSt: 202, ledger: []string{"approval.requested"}},
		{name: "recheck/revoked-after-escalation", tier: 3,
			observe: func(t *testing.T, h *harness, e escalation) {
				// Through the registry: DELETE /v1/tokens/{id} keeps fasthttp's
				// buffer as the revocation key (see TestRevocationOverHTTPIsKept).
				if _, err := h.g.Server.Registry.Revoke(context.Background(), strings.Clone(e.tokenID), h.clock.Now()); err != nil {
					t.Fatalf("revoke: %v", err)
				}
			},
			votes: []vote{{key: alice, kind: "approve", status: 200, state: "denied"}},
			final: "denied", code: "TOKEN_REVOKED", waitSt: 403, ledger: []string{"approval.requested", "approval.denied"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			agent := fmt.Sprintf("votes-%d", i)
			tok := h.tokenFor(agent, func(c *tokens.Claims) { c.Constraints.Quorum = tc.quorum })
			e := h.escalate(agent, tok, tc.tier)
			a := h.approval(e.approvalID)
			if a.State != "pending" || a.RequestID != e.requestID || a.Tier != tc.tier || a.Decision != nil {
				t.Fatalf("new approval: %+v", a)
			}
			if tc.observe != nil {
				tc.observe(t, h, e)
			}
			for j, v := range tc.votes {
				var raw json.RawMessage
				in := map[string]any{"reason": v.reason}
				if v.standing != 0 {
					in["standingForMs"] = v.standing
				}
				st := h.as(v.key, "POST", "/v1/approvals/"+e.approvalID+"/"+v.kind, in, &raw)
				if st != v.status {
					t.Fatalf("vote %d: status %d, want %d: %s", j, st, v.status, raw)
				}
				if st >= 400 {
					var eb errBody
					_ = json.Unmarshal(raw, &eb)
					if eb.Error.Code != v.code {
						t.Fatalf("vote %d: code %s, want %s", j, eb.Error.Code, v.code)
					}
					continue
				}
				var got approvalView
				_ = json.Unmarshal(raw, &got)
				if got.State != v.state {
					t.Fatalf("vote %d: state %s, want %s", j, got.State, v.state)
				}
			}
			a = h.approval(e.approvalID)
			if a.State != tc.final {
				t.Fatalf("final state %s, want %s", a.State, tc.final)
			}
			st, d, _ := h.wait(agent, e.approvalID, 0)
			if st != tc.waitSt {
				t.Fatalf("wait: %d, want %d (%+v)", st, tc.waitSt, d)
			}
			switch tc.final {
			case "approved":
				h.checkAllow(e, d)
				if a.Decision == nil || *a.Decision.Attestation != *d.Attestation {
					t.Fatalf("record's decision differs from the wait answer")
				}
			case "pending":
				if d.Decision != "escalate" || d.ApprovalID == nil || *d.ApprovalID != e.approvalID || *d.RequestID != e.requestID {
					t.Fatalf("pending wait: %+v", d)
				}
			default:
				if d.Decision != "deny" || str(d.Code) != tc.code || d.Attestation != nil || *d.RequestID != e.requestID || d.Ledger == nil {
					t.Fatalf("deny wait: %+v code=%s", d, str(d.Code))
				}
			}
			if got := h.ledgerTypes(e.approvalID); !slices.Equal(got, tc.ledger) {
				t.Fatalf("ledger events %v, want %v", got, tc.ledger)
			}
		})
	}
}

func TestApprovalWaitRules(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	tok := h.tokenFor("w-agent", nil)
	h.tokenFor("w-other", nil)
	e := h.escalate("w-agent", tok, 3)

	t.Run("deny/other-agent-403", func(t *testing.T) {
		h.t = t
		st, _, eb := h.wait("w-other", e.approvalID, 0)
		if st != 403 || eb.Error.Code != "FORBIDDEN" {
			t.Fatalf("other agent: %d %+v", st, eb)
		}
	})
	t.Run("deny/unknown-approval-404", func(t *testing.T) {
		h.t = t
		st, _, eb := h.wait("w-agent", uuid.Must(uuid.NewV7()).String(), 0)
		if st != 404 || eb.Error.Code != "NOT_FOUND" {
			t.Fatalf("unknown: %d %+v", st, eb)
		}
	})
	t.Run("deny/unsigned-401", func(t *testing.T) {
		h.t = t
		body, _ := json.Marshal(map[string]any{"agentId": tokentest.Pub("w-agent"), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": h.clock.Now().UnixMilli()})
		if st := h.do("POST", "/v1/approvals/"+e.approvalID+"/wait", nil, body, nil); st != 401 {
			t.Fatalf("unsigned: %d", st)
		}
	})
	t.Run("wait/long-poll-returns-on-approval", func(t *testing.T) {
		h.t = t
		alice := h.operatorKey("alice", "approve")
		done := make(chan int, 1)
		var d api.Decision
		go func() {
			st, dd, _ := h.wait("w-agent", e.approvalID, 20_000)
			d = dd
			done <- st
		}()
		// The vote lands while the agent waits (or before it starts: either way the answer is the allow).
		if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"reason": ""}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if st := <-done; st != 200 {
			t.Fatalf("wait: %d %+v", st, d)
		}
		h.checkAllow(e, d)
	})
}

func TestApprovalTimeouts(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	for _, tc := range []struct {
		name    string
		tier    int
		timeout time.Duration
	}{
		{"expire/tier-3-after-60s", 3, 60 * time.Second},
		{"expire/tier-4-after-300s", 4, 300 * time.Second},
		{"expire/tier-5-after-900s", 5, 900 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			tok := h.tokenFor("to-"+tc.name, nil)
			e := h.escalate("to-"+tc.name, tok, tc.tier)
			a := h.approval(e.approvalID)
			if got := time.Duration(a.ExpiresAt-h.clock.Now().UnixMilli()) * time.Millisecond; got != tc.timeout {
				t.Fatalf("expiresAt in %v, want %v", got, tc.timeout)
			}
			h.clock.Advance(tc.timeout - time.Millisecond)
			h.g.Approvals.ExpireDue(context.Background())
			if a := h.approval(e.approvalID); a.State != "pending" {
				t.Fatalf("expired early: %s", a.State)
			}
			h.clock.Advance(time.Millisecond)
			h.g.Approvals.ExpireDue(context.Background())
			if a := h.approval(e.approvalID); a.State != "expired" || a.Decision == nil || str(a.Decision.Code) != "APPROVAL_TIMEOUT" {
				t.Fatalf("after timeout: %+v", a)
			}
			st, d, _ := h.wait(e.agent, e.approvalID, 0)
			if st != 403 || str(d.Code) != "APPROVAL_TIMEOUT" {
				t.Fatalf("wait: %d %+v", st, d)
			}
			var eb errBody
			if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"reason": "late"}, &eb); st != 409 {
				t.Fatalf("late vote: %d %+v", st, eb)
			}
			if got := h.ledgerTypes(e.approvalID); !slices.Equal(got, []string{"approval.requested", "approval.expired"}) {
				t.Fatalf("ledger: %v", got)
			}
		})
	}
	t.Run("expire/lazily-on-read-without-ticker", func(t *testing.T) {
		h.t = t
		tok := h.tokenFor("to-lazy", nil)
		e := h.escalate("to-lazy", tok, 3)
		h.clock.Advance(61 * time.Second)
		st, d, _ := h.wait(e.agent, e.approvalID, 0)
		if st != 403 || str(d.Code) != "APPROVAL_TIMEOUT" {
			t.Fatalf("wait after expiry: %d %+v", st, d)
		}
	})
	t.Run("recheck/token-expired-before-approval", func(t *testing.T) {
		h.t = t
		tok := h.tokenFor("to-tokexp", func(c *tokens.Claims) { c.ExpiresAt = h.clock.Now().UnixMilli() + 30_000 })
		e := h.escalate("to-tokexp", tok, 3)
		h.clock.Advance(40 * time.Second)
		var a approvalView
		if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, &a); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if a.State != "denied" || a.Decision == nil || str(a.Decision.Code) != "TOKEN_EXPIRED" {
			t.Fatalf("approval of an expired token: %+v", a)
		}
	})
}

func TestApprovalsCancelledByTrip(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("c-agent", nil)

	check := func(t *testing.T, es []escalation) {
		for _, e := range es {
			a := h.approval(e.approvalID)
			if a.State != "cancelled" || a.Decision == nil || str(a.Decision.Code) != "APPROVAL_CANCELLED" {
				t.Fatalf("after trip: %+v", a)
			}
			st, d, _ := h.wait(e.agent, e.approvalID, 0)
			if st != 403 || str(d.Code) != "APPROVAL_CANCELLED" {
				t.Fatalf("wait: %d %+v", st, d)
			}
			if got := h.ledgerTypes(e.approvalID); !slices.Equal(got, []string{"approval.requested", "approval.cancelled"}) {
				t.Fatalf("ledger: %v", got)
			}
		}
	}
	reset := func(t *testing.T) {
		if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
	}
	t.Run("cancel/api-trip", func(t *testing.T) {
		h.t = t
		es := []escalation{h.escalate("c-agent", tok, 3), h.escalate("c-agent", tok, 5)}
		if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		check(t, es)
		var eb errBody
		if st := h.as(alice, "POST", "/v1/approvals/"+es[0].approvalID+"/approve", map[string]any{}, &eb); st != 409 {
			t.Fatalf("vote after cancel: %d", st)
		}
		reset(t)
	})
	t.Run("cancel/hardware-trip-not-through-the-api", func(t *testing.T) {
		h.t = t
		es := []escalation{h.escalate("c-agent", tok, 3), h.escalate("c-agent", tok, 4)}
		if _, err := h.g.Breaker.Trip(context.Background(), estop.Source{ID: "pin7", Kind: estop.KindAnomaly}, "simulated"); err != nil {
			t.Fatal(err)
		}
		// The watcher cancels asynchronously; wait for it (not a timing assertion).
		deadline := time.Now().Add(10 * time.Second)
		for _, e := range es {
			for h.approval(e.approvalID).State == "pending" && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
		}
		check(t, es)
		reset(t)
	})
	t.Run("cancel/vote-while-tripped", func(t *testing.T) {
		h.t = t
		e := h.escalate("c-agent", tok, 3)
		// Trip the breaker without the watcher having run yet is racy to set up; a
		// vote during a trip must never allow: it cancels.
		if _, err := h.g.Breaker.Trip(context.Background(), estop.Source{ID: "x", Kind: estop.KindAnomaly}, "simulated"); err != nil {
			t.Fatal(err)
		}
		var raw json.RawMessage
		st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, &raw)
		if st != 409 {
			t.Fatalf("vote while tripped: %d %s", st, raw)
		}
		check(t, []escalation{e})
		reset(t)
	})
}

func TestStandingApprovals(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("s-agent", nil)
	e := h.escalate("s-agent", tok, 3)
	var a approvalView
	if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"reason": "for the shift", "standingForMs": 120_000}, &a); st != 200 || a.State != "approved" {
		t.Fatalf("approve standing: %d %+v", st, a)
	}
	send := func(resource string) (int, api.Decision) {
		m := h.interceptBody("s-agent", func(m map[string]any) {
			m["tokenId"], m["resource"], m["params"] = tok.Claims.TokenID, resource, map[string]any{"n": h.n()}
		})
		return h.intercept("s-agent", m)
	}
	t.Run("allow/covered-tier-3", func(t *testing.T) {
		h.t = t
		st, d := send(e.resource)
		if st != 200 || d.Decision != "allow" || d.Attestation == nil || d.Tier != 3 {
			t.Fatalf("covered: %d %+v", st, d)
		}
	})
	t.Run("escalate/other-resource-not-covered", func(t *testing.T) {
		h.t = t
		if st, d := send("ros:///arm/gripper"); st != 202 {
			t.Fatalf("other resource: %d %+v", st, d)
		}
	})
	t.Run("escalate/other-token-not-covered", func(t *testing.T) {
		h.t = t
		tok2 := h.tokenFor("s-agent", nil)
		m := h.interceptBody("s-agent", func(m map[string]any) { m["tokenId"], m["resource"] = tok2.Claims.TokenID, e.resource })
		if st, d := h.intercept("s-agent", m); st != 202 {
			t.Fatalf("other token: %d %+v", st, d)
		}
	})
	t.Run("list/shows-it", func(t *testing.T) {
		h.t = t
		var out struct {
			Standing []struct {
				ApprovalID string   `json:"approvalId"`
				Until      int64    `json:"until"`
				Operators  []string `json:"operators"`
			} `json:"standing"`
		}
		if st := h.as(alice, "GET", "/v1/approvals/standing", nil, &out); st != 200 || len(out.Standing) != 1 || out.Standing[0].ApprovalID != e.approvalID || out.Standing[0].Operators[0] != "alice" {
			t.Fatalf("list: %d %+v", st, out)
		}
	})
	t.Run("escalate/after-revocation", func(t *testing.T) {
		h.t = t
		if st := h.as(alice, "DELETE", "/v1/approvals/standing/"+e.approvalID, nil, nil); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		if st := h.as(alice, "DELETE", "/v1/approvals/standing/"+e.approvalID, nil, nil); st != 200 {
			t.Fatalf("revoke again (idempotent): %d", st)
		}
		if st, d := send(e.resource); st != 202 {
			t.Fatalf("after revocation: %d %+v", st, d)
		}
		if got := h.ledgerTypes(e.approvalID); !slices.Contains(got, "approval.standing.revoked") {
			t.Fatalf("ledger: %v", got)
		}
	})
	t.Run("escalate/after-the-window", func(t *testing.T) {
		h.t = t
		e2 := h.escalate("s-agent", tok, 3)
		if st := h.as(alice, "POST", "/v1/approvals/"+e2.approvalID+"/approve", map[string]any{"standingForMs": 10_000}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if st, _ := send(e.resource); st != 200 {
			t.Fatalf("inside the window: %d", st)
		}
		h.clock.Advance(10 * time.Second)
		if st, _ := send(e.resource); st != 202 {
			t.Fatalf("after the window: %d", st)
		}
	})
	t.Run("escalate/tier-4-never-standing", func(t *testing.T) {
		h.t = t
		if st, _ := send(resourceOfTier(4)); st != 202 {
			t.Fatalf("tier 4: %d", st)
		}
	})
}

// TestApprovalsSurviveRestart builds the gateway twice on one data directory.
func TestApprovalsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	h1, stop1 := serveAt(t, dir, ck, res.AdminAPIKey)
	h1.trustRoot("root")
	alice := h1.operatorKey("alice", "approve", "read")
	bob := h1.operatorKey("bob", "approve", "read")
	tok := h1.tokenFor("r-agent", nil)
	pendingOne := h1.escalate("r-agent", tok, 3)
	half := h1.escalate("r-agent", tok, 5)
	willExpire := h1.escalate("r-agent", tok, 3)
	standingFrom := h1.escalate("r-agent", tok, 3)
	if st := h1.as(alice, "POST", "/v1/approvals/"+half.approvalID+"/approve", map[string]any{"reason": "first"}, nil); st != 200 {
		t.Fatalf("first vote: %d", st)
	}
	if st := h1.as(alice, "POST", "/v1/approvals/"+standingFrom.approvalID+"/approve", map[string]any{"standingForMs": 600_000}, nil); st != 200 {
		t.Fatalf("standing: %d", st)
	}
	stop1()

	ck.Advance(30 * time.Second)
	h2, _ := serveAt(t, dir, ck, res.AdminAPIKey)
	h2.nextN = 5000
	if a := h2.approval(pendingOne.approvalID); a.State != "pending" {
		t.Fatalf("pending after restart: %s", a.State)
	}
	if a := h2.approval(half.approvalID); a.State != "pending" || len(a.Votes) != 1 {
		t.Fatalf("half-voted after restart: %+v", a)
	}
	// Same operator again: still one person. A second one completes it.
	if st := h2.as(alice, "POST", "/v1/approvals/"+half.approvalID+"/approve", map[string]any{"reason": "first"}, nil); st != 200 {
		t.Fatalf("dup vote: %d", st)
	}
	var a approvalView
	if st := h2.as(bob, "POST", "/v1/approvals/"+half.approvalID+"/approve", map[string]any{"reason": "second"}, &a); st != 200 || a.State != "approved" {
		t.Fatalf("second vote after restart: %d %+v", st, a)
	}
	st, d, _ := h2.wait("r-agent", half.approvalID, 0)
	if st != 200 {
		t.Fatalf("wait: %d", st)
	}
	h2.checkAllow(half, d)
	// The standing approval survived.
	m := h2.interceptBody("r-agent", func(m map[string]any) {
		m["tokenId"], m["resource"], m["params"] = tok.Claims.TokenID, standingFrom.resource, map[string]any{"n": 1}
	})
	if st, d := h2.intercept("r-agent", m); st != 200 {
		t.Fatalf("standing after restart: %d %+v", st, d)
	}
	// The timer resumes: 30 s before the restart + 31 s after.
	ck.Advance(31 * time.Second)
	h2.g.Approvals.ExpireDue(context.Background())
	if a := h2.approval(willExpire.approvalID); a.State != "expired" {
		t.Fatalf("expiry after restart: %s", a.State)
	}
	// Outcomes stay readable.
	if a := h2.approval(standingFrom.approvalID); a.State != "approved" || a.Decision == nil || a.Decision.Attestation == nil {
		t.Fatalf("resolved outcome after restart: %+v", a)
	}
}

// serveAt builds and serves a gateway on an existing data directory; stop
// shuts it down (idempotent, also run at cleanup).
func serveAt(t *testing.T, dir string, ck *clock, adminKey string) (*harness, func()) {
	t.Helper()
	g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", Clock: ck.Now})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
			_ = g.Close()
		})
	}
	t.Cleanup(stop)
	return &harness{t: t, g: g, url: "http://" + ln.Addr().String(), adminKey: adminKey, clock: ck, http: defaultClient(), nextN: 1000}, stop
}

// TestRevocationOverHTTPIsKept revokes a token with DELETE /v1/tokens/{id}
// and checks that the revocation still holds after more requests.
// It guards against a string backed by fasthttp's reusable request buffer
// (c.Params) being kept as the revocation set's key: later requests would
// overwrite the bytes and the revocation would silently disappear. The
// server runs fiber with Immutable so that every such value is a copy.
func TestRevocationOverHTTPIsKept(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	tok := h.tokenFor("rv-agent", nil)
	tok2 := h.tokenFor("rv-agent2", nil)
	if st := h.admin("DELETE", "/v1/tokens/"+tok.Claims.TokenID, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	for i := 0; i < 50; i++ {
		e := h.escalate("rv-agent2", tok2, 3)
		h.admin("POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, nil)
	}
	if !h.g.Pipeline.State().Revocations.IsRevoked(tok.Claims.TokenID) {
		t.Fatal("the revocation was lost")
	}
}

// TestApprovalAbandoned: an escalation whose ledger batch failed is closed
// in the store as cancelled with LEDGER_UNAVAILABLE (no further ledger
// event: there is nothing in the ledger to close), cannot be approved, and
// answers the agent's wait with that deny.
func TestApprovalAbandoned(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("ab-agent", nil)
	e := h.escalate("ab-agent", tok, 3)
	before := h.ledgerTypes(e.approvalID)
	h.g.Approvals.Abandon(context.Background(), gateway.Escalation{ApprovalID: e.approvalID, Created: true}, "the ledger could not record the escalation")
	a := h.approval(e.approvalID)
	if a.State != "cancelled" || a.Decision == nil || str(a.Decision.Code) != "LEDGER_UNAVAILABLE" {
		t.Fatalf("after abandon: %+v", a)
	}
	if got := h.ledgerTypes(e.approvalID); !slices.Equal(got, before) {
		t.Fatalf("ledger events %v, want unchanged %v", got, before)
	}
	var raw json.RawMessage
	st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{}, &raw)
	if a := h.approval(e.approvalID); a.State != "cancelled" {
		t.Fatalf("vote on an abandoned approval: %d %s, state %s", st, raw, a.State)
	}
	if st, d, _ := h.wait(e.agent, e.approvalID, 0); st != 403 || str(d.Code) != "LEDGER_UNAVAILABLE" {
		t.Fatalf("wait: %d %+v", st, d)
	}
}
