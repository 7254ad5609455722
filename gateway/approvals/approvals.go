// Package approvals keeps escalated requests as durable approvals
// (PROTOCOL.md §7): creation at escalation (idempotent per agent and
// request), operator votes with the token's quorum, the written reason at
// tier 4 and above and the two-person rule at tier 5, the allow issued on
// approval (re-checked against the e-stop, revocation and expiry, appended
// under the breaker's guard and attested), expiry, cancellation when the
// e-stop trips, standing approvals, the agent's long-poll, and the event
// hub behind the SSE and WebSocket streams. Every step is a ledger event.
package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/attest"
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

// Votes.
const (
	VoteApprove = "approve"
	VoteDeny    = "deny"
)

// Limits.
const (
	// MaxStandingMs bounds standingForMs (PROTOCOL.md §7: ≤ 1 h).
	MaxStandingMs = int64(time.Hour / time.Millisecond)
	// MaxReasonBytes bounds a vote's reason.
	MaxReasonBytes = 1024
	// MaxWait bounds the agent's long-poll.
	MaxWait = 30 * time.Second
)

// Ledger is what approvals need of the ledger: appends, and the look-up
// by event id that tells whether an escalation was announced.
type Ledger interface {
	Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error)
	GetByEventID(ctx context.Context, eventID string) (ledger.Entry, error)
}

// AnnounceBound is how old a pending approval must be before Reconcile
// cancels it for want of its approval.requested event: far longer than any
// escalation in flight (its store write and its ledger batch happen within
// one request, seconds at most), so that an escalation still being
// committed is never cancelled. Like economy.DefaultBound.
const AnnounceBound = 60 * time.Second

// approvalsNS is the UUIDv5 namespace of the approvals' derived event ids.
var approvalsNS = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://sintgate/approvals"))

// RequestedEventID is the event id of approval id's approval.requested
// event: derived from the id (UUIDv5), so that whether the ledger announced
// the approval is one GetByEventID, and the event is recorded at most once
// whoever appends it.
func RequestedEventID(approvalID string) string {
	return uuid.NewSHA1(approvalsNS, []byte("requested\x00"+approvalID)).String()
}

// Breaker is what approvals need of the e-stop breaker.
type Breaker interface {
	Tripped() bool
	// Guard is nil while armed; it runs at the ledger's serialisation point.
	Guard() error
}

// Facts gives the current facts state (the pipeline implements it).
type Facts interface {
	State() *gateway.State
}

// Service manages approvals. Safe for concurrent use. Store, Ledger,
// Timeout, Clock and Log are needed for escalation; Breaker, Signer, Facts
// and GatewayID for granting.
type Service struct {
	Store     store.Approvals
	Ledger    Ledger
	Timeout   func(tier int) time.Duration
	Clock     func() time.Time
	Log       *slog.Logger
	GatewayID string
	Breaker   Breaker
	Signer    gateway.AttestSigner
	Facts     Facts
	Hub       *Hub // may be nil (no streams)
	// Charger, if set, charges a granted action like the pipeline charges
	// an allow (same price, key intercept:<requestId>): pending, its
	// economy.charged event in the approval.granted batch, refunded if the
	// allow is not released.
	Charger gateway.Charger

	// mu serialises state transitions (votes, grants, expiry, cancellation)
	// so that each transition is recorded once in the ledger.
	mu sync.Mutex

	wmu     sync.Mutex
	changed chan struct{} // closed and replaced when an approval resolves

	standingOnce sync.Once
	standing     *Standing

	amu       sync.Mutex
	announced map[string]struct{} // pending approvals seen announced in the ledger
}

// extra is the service's own data kept with an approval (store.Approval.Extra).
type extra struct {
	PolicyHash        string          `json:"policyHash"`
	Envelope          map[string]any  `json:"envelope"`
	Body              json.RawMessage `json:"body"`
	Authorized        []string        `json:"authorized,omitempty"`
	StandingUntil     int64           `json:"standingUntil,omitempty"`
	StandingRevokedAt int64           `json:"standingRevokedAt,omitempty"`
	StandingRevokedBy string          `json:"standingRevokedBy,omitempty"`
	// RequestedEventID is the derived id of the approval.requested event
	// (RequestedEventID); empty for approvals created before it was
	// derived, which Reconcile leaves alone.
	RequestedEventID string `json:"requestedEventId,omitempty"`
}

func extraOf(a store.Approval) extra {
	var x extra
	_ = json.Unmarshal(a.Extra, &x)
	return x
}

func (x extra) bytes() []byte {
	b, _ := json.Marshal(x)
	return b
}

// Escalate implements gateway.Escalator: it stores a pending approval and
// returns its approval.requested event, which the pipeline records in one
// batch with the decision.
func (s *Service) Escalate(ctx context.Context, r *gateway.Request, o *gateway.Outcome, policyHash string, now time.Time) (gateway.Escalation, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return gateway.Escalation{}, err
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
	x := extra{PolicyHash: policyHash, Envelope: o.Envelope, Body: json.RawMessage(r.Body), RequestedEventID: RequestedEventID(id.String())}
	if q := leaf.Claims.Constraints.Quorum; q != nil {
		x.Authorized = slices.Clone(q.Authorized)
	}
	a.Extra = x.bytes()
	got, err := s.Store.CreateApproval(ctx, a)
	if errors.Is(err, store.ErrExists) {
		esc := gateway.Escalation{ApprovalID: got.ApprovalID, ExpiresAtMs: got.ExpiresAt}
		// The same request again. If a crash kept the approval but not its
		// ledger batch, this escalation announces it: the agent is now
		// answered with its id.
		if got.State == Pending {
			ok, err := s.isAnnounced(ctx, got)
			if err != nil {
				return gateway.Escalation{}, err
			}
			if !ok {
				esc.Events = []ledger.Event{requestedEvent(got)}
			}
		}
		return esc, nil
	}
	if err != nil {
		return gateway.Escalation{}, err
	}
	return gateway.Escalation{ApprovalID: a.ApprovalID, ExpiresAtMs: a.ExpiresAt, Created: true, Events: []ledger.Event{requestedEvent(a)}}, nil
}

// requestedEvent is a's approval.requested event.
func requestedEvent(a store.Approval) ledger.Event {
	return ledger.Event{
		EventID: extraOf(a).RequestedEventID, EventType: "approval.requested", AgentID: a.AgentID, TokenID: a.TokenID, Payload: map[string]any{
			"approvalId": a.ApprovalID, "requestId": a.RequestID, "agentId": a.AgentID, "resource": a.Resource, "action": a.Action,
			"tier": a.Tier, "requiredApprovals": a.RequiredApprovals, "expiresAt": a.ExpiresAt,
		}}
}

// isAnnounced reports whether the ledger holds a's approval.requested event.
// Approvals without a derived event id (created before it was derived)
// count as announced. A positive answer is remembered.
func (s *Service) isAnnounced(ctx context.Context, a store.Approval) (bool, error) {
	evID := extraOf(a).RequestedEventID
	if evID == "" {
		return true, nil
	}
	s.amu.Lock()
	_, ok := s.announced[a.ApprovalID]
	s.amu.Unlock()
	if ok {
		return true, nil
	}
	_, err := s.Ledger.GetByEventID(ctx, evID)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	s.amu.Lock()
	if s.announced == nil {
		s.announced = map[string]struct{}{}
	}
	s.announced[a.ApprovalID] = struct{}{}
	s.amu.Unlock()
	return true, nil
}

// reasonUnannounced is the reason of an approval cancelled because the
// ledger never announced it.
const reasonUnannounced = "the ledger never recorded the escalation"

// cancelUnannounced re-reads approval id and, if it is still pending,
// cancels it with LEDGER_UNAVAILABLE.
func (s *Service) cancelUnannounced(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.Store.GetApproval(ctx, id)
	if err != nil || a.State != Pending {
		return err
	}
	_, err = s.resolve(ctx, a, Cancelled, codes.LedgerUnavailable, reasonUnannounced)
	return err
}

// checkAnnounced refuses an approving vote on an approval the ledger has
// not announced: one younger than AnnounceBound may still be being committed
// (CONFLICT, retry), an older one is cancelled with LEDGER_UNAVAILABLE. No
// operator can grant what the ledger never showed. Called with s.mu held.
func (s *Service) checkAnnounced(ctx context.Context, a store.Approval, now time.Time) (store.Approval, error) {
	ok, err := s.isAnnounced(ctx, a)
	if err != nil || ok {
		return a, err
	}
	if now.Sub(time.UnixMilli(a.CreatedAt)) < AnnounceBound {
		return a, codes.New(codes.Conflict, "the escalation is not in the ledger yet; retry")
	}
	a, err = s.resolve(ctx, a, Cancelled, codes.LedgerUnavailable, reasonUnannounced)
	if err != nil {
		return a, err
	}
	return a, codes.New(codes.Conflict, "the approval is already cancelled ("+reasonUnannounced+")")
}

// reconcile cancels, with LEDGER_UNAVAILABLE and an approval.cancelled
// event, each pending approval older than AnnounceBound whose
// approval.requested event the ledger does not hold: a crash between the
// approval's store write and its ledger batch leaves one behind, and its
// agent was never answered. pending is the current pending list; the
// remembered announcements are trimmed to it.
func (s *Service) reconcile(ctx context.Context, pending []store.Approval, now time.Time) {
	keep := make(map[string]struct{}, len(pending))
	for _, a := range pending {
		keep[a.ApprovalID] = struct{}{}
		if now.Sub(time.UnixMilli(a.CreatedAt)) < AnnounceBound || a.ExpiresAt <= now.UnixMilli() {
			continue
		}
		if ok, err := s.isAnnounced(ctx, a); err != nil || ok {
			if err != nil {
				s.Log.Error("reconcile approval", "approvalId", a.ApprovalID, "err", err)
			}
			continue
		}
		if err := s.cancelUnannounced(ctx, a.ApprovalID); err != nil {
			s.Log.Error("reconcile approval", "approvalId", a.ApprovalID, "err", err)
			continue
		}
		s.Log.Warn("reconcile: cancelled an approval the ledger never announced", "approvalId", a.ApprovalID, "requestId", a.RequestID)
	}
	s.amu.Lock()
	for id := range s.announced {
		if _, ok := keep[id]; !ok {
			delete(s.announced, id)
		}
	}
	s.amu.Unlock()
}

// Abandon implements gateway.Escalator: the escalation's events could not
// be recorded, so its approval is closed as cancelled in the store alone
// (the ledger never announced it, and the agent was answered with a deny).
// No ledger event is written: the ledger has nothing to close.
func (s *Service) Abandon(ctx context.Context, e gateway.Escalation, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 5 {
		a, err := s.Store.GetApproval(ctx, e.ApprovalID)
		if err != nil || a.State != Pending {
			if err != nil {
				s.Log.Error("abandon approval", "approvalId", e.ApprovalID, "err", err)
			}
			return
		}
		now := s.Clock().UnixMilli()
		c, r, rid, aid := string(codes.LedgerUnavailable), reason, a.RequestID, a.ApprovalID
		body, _ := json.Marshal(api.Decision{RequestID: &rid, Decision: api.Deny, Tier: a.Tier, Code: &c, Reason: &r, ApprovalID: &aid})
		a.State, a.ResolvedAt, a.Decision = Cancelled, &now, body
		_, err = s.Store.UpdateApproval(ctx, a)
		if err == nil {
			s.notify()
			return
		}
		if !errors.Is(err, store.ErrConflict) {
			s.Log.Error("abandon approval", "approvalId", e.ApprovalID, "err", err)
			return
		}
	}
}

// Get returns an approval. A pending approval past its expiry is resolved
// expired first, so a reader never sees a stale pending state.
func (s *Service) Get(ctx context.Context, id string) (store.Approval, error) {
	a, err := s.Store.GetApproval(ctx, id)
	if err != nil {
		return a, err
	}
	if a.State == Pending && a.ExpiresAt <= s.Clock().UnixMilli() {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.expireLocked(ctx, id)
	}
	return a, nil
}

// List lists approvals in state ("" = all), newest first.
func (s *Service) List(ctx context.Context, state string, limit int) ([]store.Approval, error) {
	return s.Store.ListApprovals(ctx, state, limit)
}

// CancelAll resolves every pending approval as cancelled (an e-stop trip).
// Failures are logged; CancelPending reports them.
func (s *Service) CancelAll(ctx context.Context, reason string) {
	if err := s.CancelPending(ctx, reason); err != nil {
		s.Log.Error("cancel approvals", "err", err)
	}
}

// CancelPending is CancelAll that reports whether every pending approval
// was cancelled, so that the trip watcher can retry while the store is
// unavailable.
//
// It gives up when ctx ends, also while waiting for another resolution
// that holds the service's lock (a vote or an expiry waiting on a store
// that does not answer): a trip bounds how long it waits here.
func (s *Service) CancelPending(ctx context.Context, reason string) error {
	if err := s.lockCtx(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	pending, err := s.Store.ListApprovals(ctx, Pending, 0)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range pending {
		if _, err := s.resolve(ctx, a, Cancelled, codes.ApprovalCancelled, reason); err != nil {
			errs = append(errs, fmt.Errorf("approval %s: %w", a.ApprovalID, err))
		}
	}
	return errors.Join(errs...)
}

// lockCtx takes s.mu unless ctx ends first (then it returns ctx's cause
// and does not hold the lock).
func (s *Service) lockCtx(ctx context.Context) error {
	if s.mu.TryLock() {
		return nil
	}
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("approvals busy: %w", context.Cause(ctx))
		case <-t.C:
			if s.mu.TryLock() {
				return nil
			}
		}
	}
}

// predatesArming reports whether a was created before the breaker last
// re-armed: it was pending during a trip, which cancels every pending
// approval, so it must not be granted even if that cancellation never
// reached the store (the store was down at the trip).
func (s *Service) predatesArming(a store.Approval) bool {
	sb, ok := s.Breaker.(interface{ Snapshot() estop.State })
	if !ok {
		return false
	}
	st := sb.Snapshot()
	return !st.Tripped && st.Epoch > 0 && a.CreatedAt < st.Since.UnixMilli()
}

// ExpireDue resolves every pending approval past its expiry as expired
// (fail closed), and cancels those the ledger never announced (reconcile).
// The gateway calls it on a ticker; expiry times are stored, so timers
// resume after a restart.
func (s *Service) ExpireDue(ctx context.Context) {
	now := s.Clock().UnixMilli()
	pending, err := s.Store.ListApprovals(ctx, Pending, 0)
	if err != nil {
		s.Log.Error("expire approvals", "err", err)
		return
	}
	for _, a := range pending {
		if a.ExpiresAt <= now {
			s.mu.Lock()
			_, err := s.expireLocked(ctx, a.ApprovalID)
			s.mu.Unlock()
			if err != nil {
				s.Log.Error("expire approval", "approvalId", a.ApprovalID, "err", err)
			}
		}
	}
	s.reconcile(ctx, pending, time.UnixMilli(now))
}

// expireLocked re-reads id and expires it if it is still pending and due.
func (s *Service) expireLocked(ctx context.Context, id string) (store.Approval, error) {
	a, err := s.Store.GetApproval(ctx, id)
	if err != nil || a.State != Pending || a.ExpiresAt > s.Clock().UnixMilli() {
		return a, err
	}
	return s.resolve(ctx, a, Expired, codes.ApprovalTimeout, "no decision before the approval expired")
}

// Vote is one operator's vote.
type Vote struct {
	OperatorID    string
	Vote          string // VoteApprove or VoteDeny
	Reason        string
	StandingForMs int64 // approve only, tier 3 only; 0 = none
}

// Validate checks a vote's fields that do not depend on the approval.
func (v Vote) Validate() error {
	switch {
	case v.OperatorID == "":
		return codes.New(codes.Unauthenticated, "the vote has no operator")
	case v.Vote != VoteApprove && v.Vote != VoteDeny:
		return codes.New(codes.MalformedRequest, `vote must be "approve" or "deny"`)
	case len(v.Reason) > MaxReasonBytes:
		return codes.New(codes.MalformedRequest, fmt.Sprintf("reason exceeds %d bytes", MaxReasonBytes))
	case v.StandingForMs < 0 || v.StandingForMs > MaxStandingMs:
		return codes.New(codes.MalformedRequest, fmt.Sprintf("standingForMs must be between 0 and %d", MaxStandingMs))
	case v.StandingForMs > 0 && v.Vote != VoteApprove:
		return codes.New(codes.MalformedRequest, "standingForMs applies to approvals only")
	}
	return nil
}

// Errors of Vote (test with errors.Is; codes.Of gives the wire code).
var (
	ErrNotInQuorum = codes.New(codes.Forbidden, "the operator is not in the token's quorum")
	ErrResolved    = codes.New(codes.Conflict, "the approval is already resolved")
	ErrNotFound    = codes.New(codes.NotFound, "approval not found")
)

// Vote records an operator's vote and resolves the approval when the vote
// decides it. It returns the approval as it stands after the vote. A
// repeated identical vote is a no-op that returns the current approval.
func (s *Service) Vote(ctx context.Context, id string, v Vote) (store.Approval, error) {
	if err := v.Validate(); err != nil {
		return store.Approval{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.Store.GetApproval(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, err
	}
	x := extraOf(a)
	if len(x.Authorized) > 0 && !slices.Contains(x.Authorized, v.OperatorID) {
		return a, ErrNotInQuorum
	}
	for _, old := range a.Votes {
		if old.OperatorID == v.OperatorID && old.Vote == v.Vote {
			return a, nil // duplicate: idempotent
		}
	}
	if a.State != Pending {
		return a, codes.New(codes.Conflict, "the approval is already "+a.State)
	}
	now := s.Clock()
	nowMs := now.UnixMilli()
	if a.ExpiresAt <= nowMs {
		a, err = s.resolve(ctx, a, Expired, codes.ApprovalTimeout, "no decision before the approval expired")
		if err != nil {
			return a, err
		}
		return a, codes.New(codes.Conflict, "the approval is already expired")
	}
	if v.Vote == VoteApprove {
		if a.Tier >= 4 && v.Reason == "" {
			return a, codes.New(codes.MalformedRequest, fmt.Sprintf("an approval at tier %d needs a written reason", a.Tier))
		}
		if v.StandingForMs > 0 && a.Tier != 3 {
			return a, codes.New(codes.MalformedRequest, "standing approvals are for tier 3 only")
		}
		if a, err = s.checkAnnounced(ctx, a, now); err != nil {
			return a, err
		}
	}
	if s.Breaker != nil && (s.Breaker.Tripped() || s.predatesArming(a)) {
		a, err = s.resolve(ctx, a, Cancelled, codes.ApprovalCancelled, "e-stop tripped")
		if err != nil {
			return a, err
		}
		return a, codes.New(codes.Conflict, "the approval is already cancelled (the e-stop is engaged)")
	}
	a.Votes = append(slices.Clone(a.Votes), store.ApprovalVote{OperatorID: v.OperatorID, Vote: v.Vote, Reason: v.Reason, At: nowMs})
	if v.Vote == VoteDeny {
		reason := "denied by operator " + v.OperatorID
		if v.Reason != "" {
			reason += ": " + v.Reason
		}
		return s.resolve(ctx, a, Denied, codes.ApprovalDenied, reason)
	}
	if approvers(a) < a.RequiredApprovals {
		if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "approval.voted", AgentID: a.AgentID, TokenID: a.TokenID, Payload: map[string]any{
			"approvalId": a.ApprovalID, "requestId": a.RequestID, "operatorId": v.OperatorID, "vote": v.Vote,
			"reason": v.Reason, "approvals": approvers(a), "requiredApprovals": a.RequiredApprovals,
		}}); err != nil {
			return a, err
		}
		return s.Store.UpdateApproval(ctx, a)
	}
	return s.grant(ctx, a, x, v.StandingForMs, now)
}

// approvers counts the distinct operators who voted approve.
func approvers(a store.Approval) int {
	seen := map[string]bool{}
	for _, v := range a.Votes {
		if v.Vote == VoteApprove {
			seen[v.OperatorID] = true
		}
	}
	return len(seen)
}

// grant issues the allow for an approval whose quorum is met: it re-checks
// the token chain (revocation, expiry) against the current facts, appends
// the allow entry under the breaker's guard and signs the attestation.
func (s *Service) grant(ctx context.Context, a store.Approval, x extra, standingForMs int64, now time.Time) (store.Approval, error) {
	req, perr := gateway.ParseRequest(x.Body)
	if perr != nil {
		return s.resolve(ctx, a, Denied, codes.InternalError, "the escalated request could not be re-read")
	}
	st := s.Facts.State()
	var sus gateway.Suspensions
	if f, ok := s.Facts.(interface{ Suspensions() gateway.Suspensions }); ok {
		sus = f.Suspensions()
	}
	if code, reason := recheck(req, st, sus, now.UnixMilli()); code != "" {
		return s.resolve(ctx, a, Denied, code, reason)
	}
	paramsHash := req.ParamsHash
	voters := make([]string, 0, len(a.Votes))
	for _, v := range a.Votes {
		voters = append(voters, v.OperatorID)
	}
	payload := map[string]any{
		"approvalId": a.ApprovalID, "requestId": a.RequestID, "agentId": a.AgentID, "resource": a.Resource,
		"action": a.Action, "decision": api.Allow, "tier": a.Tier, "code": nil, "paramsHash": paramsHash,
		"policyHash": x.PolicyHash, "operators": voters, "state": Approved,
	}
	if standingForMs > 0 {
		payload["standingUntil"] = now.UnixMilli() + standingForMs
	}
	// Charge the action now that it is to be allowed (after the re-check,
	// before the allow commits), as the pipeline charges an allow.
	var charged gateway.Charge
	if s.Charger != nil {
		c, err := s.Charger.Charge(ctx, req, a.Tier, now)
		if err != nil {
			if codes.Of(err) == codes.InsufficientBalance {
				var ce *codes.Error
				msg := "the agent's balance does not cover the action"
				if errors.As(err, &ce) {
					msg = ce.Message
				}
				return s.resolve(ctx, a, Denied, codes.InsufficientBalance, msg)
			}
			return a, err // nothing changed: the approval stays pending
		}
		charged = c
	}
	refund := func() {
		if charged.Amount > 0 {
			if err := gateway.RefundCharge(ctx, s.Charger, s.Ledger, charged, "the approval's allow was not released", now); err != nil {
				s.Log.Error("economy refund (the reconciler will retry)", "agentId", charged.AgentID, "key", charged.Key, "err", err)
			}
		}
	}
	ev := ledger.Event{EventType: "approval.granted", AgentID: a.AgentID, TokenID: a.TokenID, Payload: payload}
	if s.Breaker != nil {
		ev.Guard = s.Breaker.Guard
	}
	var entry ledger.Entry
	var err error
	if charged.Amount > 0 {
		payload["charged"] = charged.Amount
		entry, err = gateway.AppendCharged(ctx, s.Ledger, ev, gateway.ChargedEvent(charged, a.RequestID, a.TokenID, map[string]any{"approvalId": a.ApprovalID}), s.Log)
	} else {
		entry, err = s.Ledger.Append(ctx, ev)
	}
	if err != nil {
		refund()
		if errors.Is(err, estop.ErrTripped) {
			return s.resolve(ctx, a, Cancelled, codes.ApprovalCancelled, "e-stop tripped before the approval committed")
		}
		return a, err
	}
	if s.Breaker != nil && s.Breaker.Tripped() {
		// Committed before the trip entry, but the e-stop is now engaged:
		// the allow is not released.
		s.record(ctx, "policy.superseded", a, map[string]any{"requestId": a.RequestID, "approvalId": a.ApprovalID, "sequence": entry.SequenceNumber, "code": string(codes.EstopEngaged)})
		refund()
		return s.resolve(ctx, a, Cancelled, codes.ApprovalCancelled, "e-stop tripped while the approval committed")
	}
	leafTier, tokenID := a.Tier, a.TokenID
	att, err := s.Signer.SignAttestation(attest.Claims{
		Issuer: s.GatewayID, Subject: a.AgentID, Audience: a.Resource, Action: a.Action, JTI: a.RequestID,
		IssuedAt: now.Unix(), ExpiresAt: now.Unix() + gateway.AttestationTTLSeconds, TokenID: tokenID,
		Tier: leafTier, ParamsHash: paramsHash, Envelope: envelopeJSON(x.Envelope), PolicyHash: x.PolicyHash,
		LedgerSeq: entry.SequenceNumber,
	})
	if err != nil {
		s.Log.Error("attestation", "err", err)
		s.record(ctx, "policy.superseded", a, map[string]any{"requestId": a.RequestID, "approvalId": a.ApprovalID, "sequence": entry.SequenceNumber, "code": string(codes.InternalError)})
		refund()
		return s.resolve(ctx, a, Denied, codes.InternalError, "attestation could not be signed")
	}
	if charged.Amount > 0 {
		// The allow is released (its economy.charged event committed with
		// approval.granted). A failed store update below does not undo it:
		// a concurrent grant on another replica may be the one delivered.
		if err := s.Charger.Settle(context.WithoutCancel(ctx), charged); err != nil {
			s.Log.Warn("economy settle (the reconciler will)", "agentId", charged.AgentID, "key", charged.Key, "err", err)
		}
	}
	rid, aid := a.RequestID, a.ApprovalID
	d := api.Decision{
		RequestID: &rid, Decision: api.Allow, Tier: a.Tier, ApprovalID: &aid, Attestation: &att,
		Envelope: envelopeJSON(x.Envelope), Ledger: &api.LedgerRef{EventID: entry.EventID, Sequence: entry.SequenceNumber, Hash: entry.Hash},
	}
	if x.PolicyHash != "" {
		ph := x.PolicyHash
		d.PolicyHash = &ph
	}
	body, _ := json.Marshal(d)
	nowMs := now.UnixMilli()
	a.State, a.ResolvedAt, a.Decision = Approved, &nowMs, body
	if standingForMs > 0 {
		x.StandingUntil = nowMs + standingForMs
		a.Extra = x.bytes()
	}
	got, err := s.Store.UpdateApproval(ctx, a)
	if err != nil {
		return a, err
	}
	if standingForMs > 0 {
		s.Standing().add(standingOf(got))
	}
	s.notify()
	return got, nil
}

// recheck verifies the escalated request's token chain again at nowMs:
// revocations and expiry since the escalation deny the approval, and so does
// an open circuit of any agent holding a token of the chain (sus may be nil).
func recheck(req *gateway.Request, st *gateway.State, sus gateway.Suspensions, nowMs int64) (codes.Code, string) {
	leafRaw := req.Token
	var inline []string
	if leafRaw == "" {
		raw, ok := st.Tokens.TokenByID(req.TokenID)
		if !ok {
			return codes.TokenNotFound, "token " + req.TokenID + " is no longer registered"
		}
		leafRaw = raw
	} else {
		inline = req.Chain
	}
	chain, err := st.Verifier.VerifyChain(nowMs, leafRaw, inline, st.Roots, st.Revocations, st.Tokens, false)
	if err != nil {
		msg := "token verification failed at approval time"
		var ce *codes.Error
		if errors.As(err, &ce) {
			msg = ce.Message + " (at approval time)"
		}
		return codes.Of(err), msg
	}
	if chain[len(chain)-1].Claims.Subject != req.AgentID {
		return codes.TokenSubjectMismatch, "token subject is not the requesting agent"
	}
	if sus != nil {
		for _, t := range chain {
			if sus.IsOpen(t.Claims.Subject) {
				return codes.CircuitOpen, "the circuit of agent " + t.Claims.Subject + " in the token chain is open (at approval time)"
			}
		}
	}
	return "", ""
}

// resolve moves a pending approval to a final deny state with its decision
// body. The caller holds s.mu.
func (s *Service) resolve(ctx context.Context, a store.Approval, state string, code codes.Code, reason string) (store.Approval, error) {
	for range 5 {
		if a.State != Pending {
			return a, nil
		}
		now := s.Clock().UnixMilli()
		entry, err := s.Ledger.Append(context.WithoutCancel(ctx), ledger.Event{EventType: "approval." + state, AgentID: a.AgentID, TokenID: a.TokenID, Payload: map[string]any{
			"approvalId": a.ApprovalID, "requestId": a.RequestID, "agentId": a.AgentID, "state": state,
			"decision": api.Deny, "code": string(code), "reason": reason, "tier": a.Tier,
		}})
		if err != nil {
			return a, err
		}
		c, r, rid, aid := string(code), reason, a.RequestID, a.ApprovalID
		d := api.Decision{
			RequestID: &rid, Decision: api.Deny, Tier: a.Tier, Code: &c, Reason: &r, ApprovalID: &aid,
			Ledger: &api.LedgerRef{EventID: entry.EventID, Sequence: entry.SequenceNumber, Hash: entry.Hash},
		}
		if ph := extraOf(a).PolicyHash; ph != "" {
			d.PolicyHash = &ph
		}
		body, _ := json.Marshal(d)
		a.State, a.ResolvedAt, a.Decision = state, &now, body
		got, err := s.Store.UpdateApproval(context.WithoutCancel(ctx), a)
		if err == nil {
			s.notify()
			return got, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return a, err
		}
		if a, err = s.Store.GetApproval(ctx, a.ApprovalID); err != nil {
			return a, err
		}
	}
	return a, errors.New("approval: too many concurrent updates")
}

func (s *Service) record(ctx context.Context, typ string, a store.Approval, payload map[string]any) {
	if _, err := s.Ledger.Append(context.WithoutCancel(ctx), ledger.Event{EventType: typ, AgentID: a.AgentID, TokenID: a.TokenID, Payload: payload}); err != nil {
		s.Log.Error("ledger append", "eventType", typ, "err", err)
	}
}

func envelopeJSON(v map[string]any) json.RawMessage {
	if v == nil {
		return json.RawMessage("{}")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// changedCh returns the channel closed at the next resolution.
func (s *Service) changedCh() <-chan struct{} {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.changed == nil {
		s.changed = make(chan struct{})
	}
	return s.changed
}

func (s *Service) notify() {
	s.wmu.Lock()
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
	s.wmu.Unlock()
}

// Wait is the agent's long-poll: it returns the approval once it is
// resolved, or as it stands (pending) when max (capped at MaxWait) passes
// or ctx ends. Only the approval's own agent may wait on it.
func (s *Service) Wait(ctx context.Context, id, agentID string, max time.Duration) (store.Approval, error) {
	if max <= 0 || max > MaxWait {
		max = MaxWait
	}
	deadline := time.NewTimer(max)
	defer deadline.Stop()
	poll := time.NewTicker(250 * time.Millisecond) // the clock may be settable: re-check expiry
	defer poll.Stop()
	for {
		ch := s.changedCh()
		a, err := s.Get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return a, ErrNotFound
		}
		if err != nil {
			return a, err
		}
		if a.AgentID != agentID {
			return store.Approval{}, codes.New(codes.Forbidden, "only the approval's own agent may wait on it")
		}
		if a.State != Pending {
			return a, nil
		}
		select {
		case <-ch:
		case <-poll.C:
		case <-deadline.C:
			return a, nil
		case <-ctx.Done():
			return a, nil
		}
	}
}

// DecisionBody is the §5.2 decision body for the approval's original
// request and its HTTP status: the final decision once resolved, else 202
// escalate.
func DecisionBody(a store.Approval) (int, json.RawMessage) {
	if a.State != Pending && len(a.Decision) > 0 {
		if a.State == Approved {
			return 200, a.Decision
		}
		return 403, a.Decision
	}
	rid, aid, n, exp := a.RequestID, a.ApprovalID, a.RequiredApprovals, a.ExpiresAt
	reason := "waiting for operator approval"
	d := api.Decision{RequestID: &rid, Decision: api.Escalate, Tier: a.Tier, Reason: &reason, ApprovalID: &aid, RequiredApprovals: &n, ExpiresAt: &exp}
	if ph := extraOf(a).PolicyHash; ph != "" {
		d.PolicyHash = &ph
	}
	b, _ := json.Marshal(d)
	return 202, b
}

// Events returns the hub behind the approval streams (nil if none).
func (s *Service) Events() *Hub { return s.Hub }
