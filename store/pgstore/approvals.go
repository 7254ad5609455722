package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

const approvalCols = `approval_id, agent_id, request_id, state, token_id, resource, action, params, tier,
	required_approvals, votes, created_at, expires_at, resolved_at, decision, extra, version`

func scanApproval(row pgx.Row) (store.Approval, error) {
	var a store.Approval
	var votes []byte
	if err := row.Scan(&a.ApprovalID, &a.AgentID, &a.RequestID, &a.State, &a.TokenID, &a.Resource, &a.Action,
		&a.Params, &a.Tier, &a.RequiredApprovals, &votes, &a.CreatedAt, &a.ExpiresAt, &a.ResolvedAt,
		&a.Decision, &a.Extra, &a.Version); err != nil {
		return store.Approval{}, err
	}
	if err := json.Unmarshal(votes, &a.Votes); err != nil {
		return store.Approval{}, fmt.Errorf("decode votes of %s: %w", a.ApprovalID, err)
	}
	return normApproval(a), nil
}

func normApproval(a store.Approval) store.Approval {
	if a.Votes == nil {
		a.Votes = []store.ApprovalVote{}
	}
	a.Params = nilIfEmpty(a.Params)
	a.Decision = nilIfEmpty(a.Decision)
	a.Extra = nilIfEmpty(a.Extra)
	return a
}

func votesJSON(a store.Approval) (string, error) {
	js, err := json.Marshal(a.Votes) // normalised: never nil
	return string(js), err
}

// CreateApproval stores a new approval with Version 1 (the given Version is
// ignored) and returns it as stored. If an approval exists for (AgentID,
// RequestID) it returns that one and ErrExists; if only the ApprovalID is
// taken it returns the zero Approval and an error wrapping ErrExists.
func (s *Store) CreateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	if err := check.Approval(a); err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	a = normApproval(a)
	a.Version = 1
	votes, err := votesJSON(a)
	if err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO approvals (`+approvalCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 1)
		ON CONFLICT DO NOTHING`,
		a.ApprovalID, a.AgentID, a.RequestID, a.State, a.TokenID, a.Resource, a.Action, a.Params, a.Tier,
		a.RequiredApprovals, votes, a.CreatedAt, a.ExpiresAt, a.ResolvedAt, a.Decision, a.Extra)
	if err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	if tag.RowsAffected() == 1 {
		return a, nil
	}
	existing, err := scanApproval(s.pool.QueryRow(ctx,
		"SELECT "+approvalCols+" FROM approvals WHERE agent_id = $1 AND request_id = $2", a.AgentID, a.RequestID))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Approval{}, wrap("create approval",
			fmt.Errorf("approval id %q is taken by another request: %w", a.ApprovalID, store.ErrExists))
	}
	if err != nil {
		return store.Approval{}, wrap("create approval", err)
	}
	return existing, store.ErrExists
}

// GetApproval returns the approval with the given id, or ErrNotFound.
func (s *Store) GetApproval(ctx context.Context, id string) (store.Approval, error) {
	if !findable(id) {
		return store.Approval{}, wrap("get approval", store.ErrNotFound)
	}
	a, err := scanApproval(s.pool.QueryRow(ctx, "SELECT "+approvalCols+" FROM approvals WHERE approval_id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Approval{}, wrap("get approval", err)
	}
	return a, nil
}

// UpdateApproval replaces the approval if its stored Version equals
// a.Version and returns it with Version a.Version+1; ErrConflict otherwise,
// ErrNotFound if it does not exist. AgentID and RequestID are the
// approval's identity and cannot change (a plain error).
func (s *Store) UpdateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	if err := check.Approval(a); err != nil {
		return store.Approval{}, wrap("update approval", err)
	}
	a = normApproval(a)
	votes, err := votesJSON(a)
	if err != nil {
		return store.Approval{}, wrap("update approval", err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE approvals SET state = $4, token_id = $5, resource = $6, action = $7,
			params = $8, tier = $9, required_approvals = $10, votes = $11, created_at = $12, expires_at = $13,
			resolved_at = $14, decision = $15, extra = $16, version = version + 1
		WHERE approval_id = $1 AND agent_id = $2 AND request_id = $3 AND version = $17`,
		a.ApprovalID, a.AgentID, a.RequestID, a.State, a.TokenID, a.Resource, a.Action, a.Params, a.Tier,
		a.RequiredApprovals, votes, a.CreatedAt, a.ExpiresAt, a.ResolvedAt, a.Decision, a.Extra, a.Version)
	if err != nil {
		return store.Approval{}, wrap("update approval", err)
	}
	if tag.RowsAffected() == 1 {
		a.Version++
		return a, nil
	}
	var version int64
	var agentID, requestID string
	err = s.pool.QueryRow(ctx, "SELECT version, agent_id, request_id FROM approvals WHERE approval_id = $1",
		a.ApprovalID).Scan(&version, &agentID, &requestID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = store.ErrNotFound
	case err != nil:
	case version != a.Version:
		err = store.ErrConflict
	case agentID != a.AgentID || requestID != a.RequestID:
		err = errors.New("agentId and requestId of an approval cannot change")
	default:
		// Matched by now: updated and read between our two statements.
		err = store.ErrConflict
	}
	return store.Approval{}, wrap("update approval", err)
}

// ListApprovals returns approvals in state ("" = every state), newest
// CreatedAt first, ties by approval id descending; at most limit when
// limit > 0.
func (s *Store) ListApprovals(ctx context.Context, state string, limit int) ([]store.Approval, error) {
	var lim any // nil: LIMIT NULL is no limit
	if limit > 0 {
		lim = limit
	}
	var rows pgx.Rows
	var err error
	if state == "" {
		rows, err = s.pool.Query(ctx, "SELECT "+approvalCols+
			" FROM approvals ORDER BY created_at DESC, approval_id DESC LIMIT $1", lim)
	} else {
		rows, err = s.pool.Query(ctx, "SELECT "+approvalCols+
			" FROM approvals WHERE state = $1 ORDER BY created_at DESC, approval_id DESC LIMIT $2", state, lim)
	}
	if err != nil {
		return nil, wrap("list approvals", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Approval, error) { return scanApproval(row) })
	if err != nil {
		return nil, wrap("list approvals", err)
	}
	if out == nil {
		out = []store.Approval{}
	}
	return out, nil
}
