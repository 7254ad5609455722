// Package approvals keeps escalated requests as durable approvals
// (PROTOCOL.md §7): creation at escalation (idempotent per agent and
// request), reading, and cancellation of every pending approval when the
// e-stop trips. Every step is a ledger event.
package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

// States of an approval.
const (
	Pending   = "pending"
	Approved  = "approved"
	Denied    = "denied"
	Expired   = "expired"
	Cancelled = "cancelled"
)

// Ledger is the append side of the ledger.
type Ledger interface {
	Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error)
}

// Service manages approvals. Safe for concurrent use.
type Service struct {
	Store   store.Approvals
	Ledger  Ledger
	Timeout func(tier int) time.Duration
	Clock   func() time.Time
	Log     *slog.Logger
}

// Escalate implements gateway.Escalator: it stores a pending approval and
// records approval.requested.
func (s *Service) Escalate(ctx context.Context, r *gateway.Request, o *gateway.Outcome, policyHash string, now time.Time) (string, int64, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", 0, err
	}
	leaf := o.Leaf()
	params := []byte(r.InterceptRequest.Params)
	if len(params) == 0 {
		params = []byte("{}")
	}
	a := store.Approval{
		ApprovalID: id.String(), State: Pending, RequestID: r.RequestID, AgentID: r.AgentID,
		TokenID: leaf.Claims.TokenID, Resource: r.Resource, Action: r.Action, Params: params,
		Tier: o.Tier, RequiredApprovals: o.RequiredApprovals, Votes: []store.ApprovalVote{},
		CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(s.Timeout(o.Tier)).UnixMilli(),
	}
	extra, _ := json.Marshal(map[string]any{"policyHash": policyHash, "envelope": o.Envelope, "body": json.RawMessage(r.Body)})
	a.Extra = extra
	got, err := s.Store.CreateApproval(ctx, a)
	if errors.Is(err, store.ErrExists) {
		return got.ApprovalID, got.ExpiresAt, nil
	}
	if err != nil {
		return "", 0, err
	}
	if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "approval.requested", AgentID: r.AgentID, TokenID: a.TokenID, Payload: map[string]any{
		"approvalId": a.ApprovalID, "requestId": a.RequestID, "resource": a.Resource, "action": a.Action,
		"tier": a.Tier, "requiredApprovals": a.RequiredApprovals, "expiresAt": a.ExpiresAt,
	}}); err != nil {
		return "", 0, err
	}
	return a.ApprovalID, a.ExpiresAt, nil
}

// Get returns an approval.
func (s *Service) Get(ctx context.Context, id string) (store.Approval, error) {
	return s.Store.GetApproval(ctx, id)
}

// List lists approvals in state ("" = all), newest first.
func (s *Service) List(ctx context.Context, state string, limit int) ([]store.Approval, error) {
	return s.Store.ListApprovals(ctx, state, limit)
}

// CancelAll resolves every pending approval as cancelled (an e-stop trip).
func (s *Service) CancelAll(ctx context.Context, reason string) {
	pending, err := s.Store.ListApprovals(ctx, Pending, 0)
	if err != nil {
		s.Log.Error("cancel approvals", "err", err)
		return
	}
	for _, a := range pending {
		if err := s.resolve(ctx, a, Cancelled, codes.ApprovalCancelled, reason); err != nil {
			s.Log.Error("cancel approval", "approvalId", a.ApprovalID, "err", err)
		}
	}
}

// ExpireDue resolves every pending approval past its expiry as expired
// (fail closed). The gateway calls it on a ticker, so timers survive restarts.
func (s *Service) ExpireDue(ctx context.Context) {
	now := s.Clock().UnixMilli()
	pending, err := s.Store.ListApprovals(ctx, Pending, 0)
	if err != nil {
		s.Log.Error("expire approvals", "err", err)
		return
	}
	for _, a := range pending {
		if a.ExpiresAt <= now {
			if err := s.resolve(ctx, a, Expired, codes.ApprovalTimeout, "no decision before the approval expired"); err != nil {
				s.Log.Error("expire approval", "approvalId", a.ApprovalID, "err", err)
			}
		}
	}
}

// resolve moves a pending approval to a final deny state with its decision
// body, retrying on a concurrent update.
func (s *Service) resolve(ctx context.Context, a store.Approval, state string, code codes.Code, reason string) error {
	for range 5 {
		if a.State != Pending {
			return nil
		}
		now := s.Clock().UnixMilli()
		entry, err := s.Ledger.Append(ctx, ledger.Event{EventType: "approval." + state, AgentID: "system", TokenID: a.TokenID, Payload: map[string]any{
			"approvalId": a.ApprovalID, "requestId": a.RequestID, "reason": reason,
		}})
		if err != nil {
			return err
		}
		c, r := string(code), reason
		body, _ := json.Marshal(map[string]any{
			"requestId": a.RequestID, "decision": "deny", "tier": a.Tier, "code": c, "reason": r,
			"approvalId": a.ApprovalID, "attestation": nil, "envelope": nil,
			"ledger":     map[string]any{"eventId": entry.EventID, "sequence": entry.SequenceNumber, "hash": entry.Hash},
			"policyHash": policyHashOf(a),
		})
		a.State, a.ResolvedAt, a.Decision = state, &now, body
		_, err = s.Store.UpdateApproval(ctx, a)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		if a, err = s.Store.GetApproval(ctx, a.ApprovalID); err != nil {
			return err
		}
	}
	return errors.New("approval: too many concurrent updates")
}

func policyHashOf(a store.Approval) any {
	var x struct {
		PolicyHash string `json:"policyHash"`
	}
	if json.Unmarshal(a.Extra, &x) != nil || x.PolicyHash == "" {
		return nil
	}
	return x.PolicyHash
}
