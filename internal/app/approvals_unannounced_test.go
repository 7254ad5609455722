package app

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// unannounced stores a pending tier-3 approval exactly as an escalation
// does, without its ledger batch: what a crash between the two leaves. It
// returns the approval id and the signed intercept body it was made from
// (never sent), whose timestamp is the harness clock's now.
func (h *harness) unannounced(agent string, tok *tokens.Token, createdAgo, expiresIn time.Duration) (string, map[string]any) {
	h.t.Helper()
	m := h.interceptBody(agent, func(m map[string]any) {
		m["tokenId"], m["resource"], m["params"] = tok.Claims.TokenID, resourceOfTier(3), map[string]any{"step": h.n()}
	})
	body, _ := json.Marshal(m)
	params, _ := json.Marshal(m["params"])
	id := uuid.Must(uuid.NewV7()).String()
	extra, _ := json.Marshal(map[string]any{"policyHash": h.g.Pipeline.State().Policy.Hash(), "envelope": map[string]any{}, "body": json.RawMessage(body), "requestedEventId": approvals.RequestedEventID(id)})
	now := h.clock.Now()
	_, err := h.g.Approvals.Store.CreateApproval(context.Background(), store.Approval{
		ApprovalID: id, State: approvals.Pending, RequestID: m["requestId"].(string), AgentID: tokentest.Pub(agent),
		TokenID: tok.Claims.TokenID, Resource: resourceOfTier(3), Action: "publish", Params: params, Tier: 3, RequiredApprovals: 1,
		Votes: []store.ApprovalVote{}, CreatedAt: now.Add(-createdAgo).UnixMilli(), ExpiresAt: now.Add(expiresIn).UnixMilli(), Extra: extra,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return id, m
}

// TestApprovalUnannounced: a pending approval whose approval.requested
// event the ledger does not hold (a crash between the store write and the
// ledger batch) can never be granted. While young it may still be being
// committed: an approving vote is refused with CONFLICT. Once older than
// approvals.AnnounceBound, the reconciler (or the next approving vote)
// cancels it with LEDGER_UNAVAILABLE and an approval.cancelled event. The
// same request sent again announces it and answers the agent with its id.
func TestApprovalUnannounced(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("un-agent", nil)
	ctx := context.Background()

	t.Run("young-vote-refused-then-reconciled", func(t *testing.T) {
		h.t = t
		young, _ := h.unannounced("un-agent", tok, 0, 10*time.Minute)
		announced := h.escalate("un-agent", tok, 4) // 300 s timeout
		var e errBody
		if st := h.as(alice, "POST", "/v1/approvals/"+young+"/approve", map[string]any{}, &e); st != 409 || e.Error.Code != "CONFLICT" {
			t.Fatalf("vote on a young unannounced approval: %d %+v", st, e)
		}
		h.g.Approvals.ExpireDue(ctx)
		if a := h.approval(young); a.State != "pending" {
			t.Fatalf("young approval reconciled too early: %s", a.State)
		}
		if got := h.ledgerTypes(young); len(got) != 0 {
			t.Fatalf("ledger events for the young approval: %v", got)
		}
		h.clock.Advance(approvals.AnnounceBound + time.Second)
		h.g.Approvals.ExpireDue(ctx)
		a := h.approval(young)
		if a.State != "cancelled" || a.Decision == nil || str(a.Decision.Code) != "LEDGER_UNAVAILABLE" || a.Decision.Ledger == nil {
			t.Fatalf("after the bound: %+v", a)
		}
		if got := h.ledgerTypes(young); !slices.Equal(got, []string{"approval.cancelled"}) {
			t.Fatalf("ledger events %v, want [approval.cancelled]", got)
		}
		if a := h.approval(announced.approvalID); a.State != "pending" {
			t.Fatalf("an announced approval was reconciled: %s", a.State)
		}
		if st := h.as(alice, "POST", "/v1/approvals/"+young+"/approve", map[string]any{}, nil); st != 409 {
			t.Fatalf("vote on the cancelled approval: %d", st)
		}
	})

	t.Run("old-vote-cancels", func(t *testing.T) {
		h.t = t
		old, _ := h.unannounced("un-agent", tok, approvals.AnnounceBound+time.Second, 10*time.Minute)
		var e errBody
		if st := h.as(alice, "POST", "/v1/approvals/"+old+"/approve", map[string]any{}, &e); st != 409 {
			t.Fatalf("vote on an old unannounced approval: %d %+v", st, e)
		}
		if a := h.approval(old); a.State != "cancelled" || str(a.Decision.Code) != "LEDGER_UNAVAILABLE" {
			t.Fatalf("after the vote: %+v", a)
		}
		if got := h.ledgerTypes(old); !slices.Equal(got, []string{"approval.cancelled"}) {
			t.Fatalf("ledger events %v, want [approval.cancelled]", got)
		}
	})

	t.Run("retry-announces", func(t *testing.T) {
		h.t = t
		id, m := h.unannounced("un-agent", tok, 0, 10*time.Minute)
		st, d := h.intercept("un-agent", m)
		if st != 202 || d.Decision != "escalate" || str(d.ApprovalID) != id {
			t.Fatalf("the same request again: %d %+v, want escalate with %s", st, d, id)
		}
		if got := h.ledgerTypes(id); !slices.Equal(got, []string{"approval.requested"}) {
			t.Fatalf("ledger events %v, want [approval.requested]", got)
		}
		var a approvalView
		if st := h.as(alice, "POST", "/v1/approvals/"+id+"/approve", map[string]any{}, &a); st != 200 || a.State != "approved" {
			t.Fatalf("vote after the announcement: %d %+v %s %s", st, a, str(a.Decision.Code), str(a.Decision.Reason))
		}
	})
}
