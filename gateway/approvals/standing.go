package approvals

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

// StandingApproval approves later tier-3 requests of one agent, token,
// resource and action until Until (unix ms), unless revoked.
type StandingApproval struct {
	ApprovalID string   `json:"approvalId"`
	AgentID    string   `json:"agentId"`
	TokenID    string   `json:"tokenId"`
	Resource   string   `json:"resource"`
	Action     string   `json:"action"`
	Operators  []string `json:"operators"`
	CreatedAt  int64    `json:"createdAt"`
	Until      int64    `json:"until"`
	RevokedAt  *int64   `json:"revokedAt"`
	RevokedBy  string   `json:"revokedBy,omitempty"`
}

type standingKey struct{ agent, token, resource, action string }

// Standing is the in-memory set of standing approvals. It implements
// gateway.StandingApprovals: Covers is a read-locked map lookup. Safe for
// concurrent use.
type Standing struct {
	mu   sync.RWMutex
	byK  map[standingKey][]*StandingApproval
	byID map[string]*StandingApproval
	// revoked holds the ids of standing approvals revoked (here or on
	// another replica) until their Until has passed: a stale read of the
	// shared store that still shows one in force never brings it back.
	revoked map[string]int64
}

// NewStanding returns an empty set.
func NewStanding() *Standing {
	return &Standing{byK: map[standingKey][]*StandingApproval{}, byID: map[string]*StandingApproval{}, revoked: map[string]int64{}}
}

// Covers reports whether an unrevoked standing approval for exactly this
// agent, token, resource and action is in force at nowMs.
func (s *Standing) Covers(agentID, tokenID, resource, action string, nowMs int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sa := range s.byK[standingKey{agentID, tokenID, resource, action}] {
		if sa.RevokedAt == nil && nowMs < sa.Until {
			return true
		}
	}
	return false
}

func (s *Standing) add(sa StandingApproval) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byID[sa.ApprovalID]; ok {
		return
	}
	if _, ok := s.revoked[sa.ApprovalID]; ok || sa.RevokedAt != nil {
		return
	}
	p := &sa
	k := standingKey{sa.AgentID, sa.TokenID, sa.Resource, sa.Action}
	s.byK[k] = append(s.byK[k], p)
	s.byID[sa.ApprovalID] = p
}

// remove drops a standing approval and returns whether it was present.
func (s *Standing) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byID[id]
	if !ok {
		return false
	}
	delete(s.byID, id)
	k := standingKey{p.AgentID, p.TokenID, p.Resource, p.Action}
	s.byK[k] = slices.DeleteFunc(s.byK[k], func(q *StandingApproval) bool { return q == p })
	if len(s.byK[k]) == 0 {
		delete(s.byK, k)
	}
	return true
}

// Active lists the standing approvals in force at nowMs, newest first, and
// forgets the ones that lapsed.
func (s *Standing) Active(nowMs int64) []StandingApproval {
	s.mu.Lock()
	var out []StandingApproval
	var lapsed []string
	for id, p := range s.byID {
		if nowMs >= p.Until {
			lapsed = append(lapsed, id)
			continue
		}
		out = append(out, *p)
	}
	for id, until := range s.revoked {
		if nowMs >= until {
			delete(s.revoked, id)
		}
	}
	s.mu.Unlock()
	for _, id := range lapsed {
		s.remove(id)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt > out[j].CreatedAt || (out[i].CreatedAt == out[j].CreatedAt && out[i].ApprovalID > out[j].ApprovalID)
	})
	return out
}

func standingOf(a store.Approval) StandingApproval {
	x := extraOf(a)
	ops := []string{}
	for _, v := range a.Votes {
		if v.Vote == VoteApprove {
			ops = append(ops, v.OperatorID)
		}
	}
	created := a.CreatedAt
	if a.ResolvedAt != nil {
		created = *a.ResolvedAt
	}
	sa := StandingApproval{ApprovalID: a.ApprovalID, AgentID: a.AgentID, TokenID: a.TokenID, Resource: a.Resource,
		Action: a.Action, Operators: ops, CreatedAt: created, Until: x.StandingUntil, RevokedBy: x.StandingRevokedBy}
	if x.StandingRevokedAt != 0 {
		r := x.StandingRevokedAt
		sa.RevokedAt = &r
	}
	return sa
}

// Standing returns the service's standing approvals (put it in
// gateway.State.Standing).
func (s *Service) Standing() *Standing {
	s.standingOnce.Do(func() { s.standing = NewStanding() })
	return s.standing
}

// LoadStanding restores the standing approvals still in force from the
// store (call it once at start).
func (s *Service) LoadStanding(ctx context.Context) error {
	as, err := s.Store.ListApprovals(ctx, Approved, 0)
	if err != nil {
		return err
	}
	now := s.Clock().UnixMilli()
	for _, a := range as {
		x := extraOf(a)
		if x.StandingUntil > now && x.StandingRevokedAt == 0 {
			s.Standing().add(standingOf(a))
		}
	}
	return nil
}

// ListStanding lists the standing approvals in force.
func (s *Service) ListStanding() []StandingApproval {
	return s.Standing().Active(s.Clock().UnixMilli())
}

// RevokeStanding ends the standing approval granted with approval id. It
// is idempotent: revoking an already revoked or lapsed one returns it.
func (s *Service) RevokeStanding(ctx context.Context, id, operatorID string) (StandingApproval, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.Store.GetApproval(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return StandingApproval{}, ErrNotFound
	}
	if err != nil {
		return StandingApproval{}, err
	}
	x := extraOf(a)
	if a.State != Approved || x.StandingUntil == 0 {
		return StandingApproval{}, codes.New(codes.NotFound, "approval "+id+" granted no standing approval")
	}
	if x.StandingRevokedAt != 0 {
		s.Standing().revoke(id, x.StandingUntil)
		return standingOf(a), nil
	}
	now := s.Clock().UnixMilli()
	if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "approval.standing.revoked", AgentID: a.AgentID, TokenID: a.TokenID, Payload: map[string]any{
		"approvalId": a.ApprovalID, "operatorId": operatorID, "resource": a.Resource, "action": a.Action, "until": x.StandingUntil,
	}}); err != nil {
		return StandingApproval{}, err
	}
	// Forget it in memory first: once the revocation is in the ledger no
	// later request may be covered, even if the store update fails.
	s.Standing().revoke(id, x.StandingUntil)
	x.StandingRevokedAt, x.StandingRevokedBy = now, operatorID
	a.Extra = x.bytes()
	got, err := s.Store.UpdateApproval(ctx, a)
	if err != nil {
		return StandingApproval{}, err
	}
	return standingOf(got), nil
}

// revoke drops a standing approval for good: a later add of the same id (a
// stale read of the shared store) is ignored until until (unix ms) has
// passed, after which it could not cover anything anyway.
func (s *Standing) revoke(id string, until int64) {
	s.remove(id)
	s.mu.Lock()
	if until <= 0 {
		until = math.MaxInt64
	}
	s.revoked[id] = until
	s.mu.Unlock()
}

// ForgetStanding drops the standing approval granted with approval id,
// for good: its revocation was recorded (on any replica).
func (s *Service) ForgetStanding(id string, until int64) { s.Standing().revoke(id, until) }

// SyncStanding re-reads approval id from the shared store and makes this
// replica's standing approvals match it: a standing approval granted on
// another replica is added, one revoked (or no longer in force) is dropped.
// A replicated gateway calls it when a replica announces a change and when
// it catches up on the ledger. It reports whether the approval granted a
// standing approval whose row is complete (false for a grant whose store
// update has not happened yet: the caller retries).
func (s *Service) SyncStanding(ctx context.Context, id string) (bool, error) {
	a, err := s.Store.GetApproval(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	x := extraOf(a)
	switch {
	case a.State != Approved || x.StandingUntil == 0:
		s.Standing().remove(id)
		return false, nil
	case x.StandingRevokedAt != 0:
		s.Standing().revoke(id, x.StandingUntil)
	case x.StandingUntil > s.Clock().UnixMilli():
		s.Standing().add(standingOf(a))
	default:
		s.Standing().remove(id)
	}
	return true, nil
}

// RepairStandingRevocation makes the stored approval id show its standing
// approval revoked at atMs by operatorID, as a recorded
// approval.standing.revoked ledger event says, when the store does not
// show it yet (the revocation is appended to the ledger before the store
// is updated, and that update can fail or never happen). It reports
// whether it wrote. An approval the store does not hold, or that granted
// no standing approval, is left alone. The gateway calls it at start,
// before the standing approvals in force are loaded from the store.
func RepairStandingRevocation(ctx context.Context, st store.Approvals, id, operatorID string, atMs int64) (bool, error) {
	for try := 0; ; try++ {
		a, err := st.GetApproval(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		x := extraOf(a)
		if a.State != Approved || x.StandingUntil == 0 || x.StandingRevokedAt != 0 {
			return false, nil
		}
		if atMs <= 0 {
			atMs = 1
		}
		x.StandingRevokedAt, x.StandingRevokedBy = atMs, operatorID
		a.Extra = x.bytes()
		_, err = st.UpdateApproval(ctx, a)
		if errors.Is(err, store.ErrConflict) && try < 10 {
			continue // changed meanwhile: read it again
		}
		return err == nil, err
	}
}
