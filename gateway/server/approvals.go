package server

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/store"
)

// Approvals is what the server needs of the approvals service
// (*approvals.Service implements it).
type Approvals interface {
	Get(ctx context.Context, id string) (store.Approval, error)
	List(ctx context.Context, state string, limit int) ([]store.Approval, error)
	CancelAll(ctx context.Context, reason string)
}

// ApprovalVoter is the voting, waiting and streaming side of the approvals
// service; the routes that need it answer 503 when Deps.Approvals lacks it.
type ApprovalVoter interface {
	Vote(ctx context.Context, id string, v approvals.Vote) (store.Approval, error)
	Wait(ctx context.Context, id, agentID string, max time.Duration) (store.Approval, error)
	ListStanding() []approvals.StandingApproval
	RevokeStanding(ctx context.Context, id, operatorID string) (approvals.StandingApproval, error)
	Events() *approvals.Hub
}

func (s *Server) approvalRoutes() {
	s.App.Get("/v1/approvals", s.op("read"), s.listApprovals)
	s.App.Get("/v1/approvals/stream", s.op("read"), s.approvalStream)
	s.App.Get("/v1/approvals/ws", s.approvalWSAuth, s.approvalWS())
	s.App.Get("/v1/standing-approvals", s.op("read"), s.listStanding)
	s.App.Delete("/v1/standing-approvals/:id", s.op("approve"), s.revokeStanding)
	// The first paths of standing approvals, kept for the clients that use
	// them; deprecated because /v1/approvals/standing/{id} is ambiguous
	// with /v1/approvals/{id}/... for a code generator (docs/protocol.md).
	s.App.Get("/v1/approvals/standing", s.op("read"), s.listStanding)
	s.App.Delete("/v1/approvals/standing/:id", s.op("approve"), s.revokeStanding)
	s.App.Get("/v1/approvals/:id", s.op("read"), s.getApproval)
	s.App.Post("/v1/approvals/:id/approve", s.op("approve"), s.vote(approvals.VoteApprove))
	s.App.Post("/v1/approvals/:id/deny", s.op("approve"), s.vote(approvals.VoteDeny))
	s.App.Post("/v1/approvals/:id/wait", s.waitApproval)
}

func (s *Server) voter() (ApprovalVoter, error) {
	v, ok := s.Approvals.(ApprovalVoter)
	if !ok {
		return nil, &APIError{Status: 503, Code: codes.InternalError, Message: "approvals are not configured"}
	}
	return v, nil
}

// approvalView renders an approval as PROTOCOL.md §7 describes it.
func approvalView(a store.Approval) fiber.Map {
	var decision any
	if len(a.Decision) > 0 {
		decision = json.RawMessage(a.Decision)
	}
	params := json.RawMessage(a.Params)
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	votes := a.Votes
	if votes == nil {
		votes = []store.ApprovalVote{}
	}
	return fiber.Map{
		"approvalId": a.ApprovalID, "state": a.State, "requestId": a.RequestID, "agentId": a.AgentID,
		"tokenId": a.TokenID, "resource": a.Resource, "action": a.Action, "params": params, "tier": a.Tier,
		"requiredApprovals": a.RequiredApprovals, "votes": votes, "createdAt": a.CreatedAt,
		"expiresAt": a.ExpiresAt, "resolvedAt": a.ResolvedAt, "decision": decision,
	}
}

func (s *Server) listApprovals(c *fiber.Ctx) error {
	if s.Approvals == nil {
		return apiErr(503, codes.InternalError, "approvals are not available")
	}
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	as, err := s.Approvals.List(c.UserContext(), c.Query("state"), limit)
	if err != nil {
		return err
	}
	out := make([]fiber.Map, 0, len(as))
	for _, a := range as {
		out = append(out, approvalView(a))
	}
	return c.JSON(fiber.Map{"approvals": out})
}

func (s *Server) getApproval(c *fiber.Ctx) error {
	if s.Approvals == nil {
		return apiErr(503, codes.InternalError, "approvals are not available")
	}
	a, err := s.Approvals.Get(c.UserContext(), strings.Clone(c.Params("id")))
	if err != nil {
		return storeErr(err, "approval")
	}
	return c.JSON(approvalView(a))
}

// vote handles POST /v1/approvals/{id}/approve|deny {"reason","standingForMs"?}.
func (s *Server) vote(kind string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		v, err := s.voter()
		if err != nil {
			return err
		}
		var in struct {
			Reason        string `json:"reason"`
			StandingForMs int64  `json:"standingForMs"`
		}
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		if kind == approvals.VoteDeny && in.StandingForMs != 0 {
			return apiErr(400, codes.MalformedRequest, "standingForMs applies to approvals only")
		}
		a, err := v.Vote(c.UserContext(), strings.Clone(c.Params("id")), approvals.Vote{
			OperatorID: operatorOf(c).OperatorID, Vote: kind, Reason: in.Reason, StandingForMs: in.StandingForMs,
		})
		if err != nil {
			return storeErr(err, "approval")
		}
		return c.JSON(approvalView(a))
	}
}

// Path parameters are cloned: fiber returns strings backed by fasthttp's
// request buffer, which is reused after the handler returns.

// waitApproval is the agent's long-poll (agent-signed body). It answers the
// §5.2 decision body of the ORIGINAL request. ?timeoutMs= shortens the
// wait (≤ 30 s).
func (s *Server) waitApproval(c *fiber.Ctx) error {
	v, err := s.voter()
	if err != nil {
		return err
	}
	var in signedFields
	agent, err := s.agentAuth(c, &in, func() signedFields { return in })
	if err != nil {
		return err
	}
	max := approvals.MaxWait
	if ms, err := strconv.ParseInt(c.Query("timeoutMs"), 10, 64); err == nil && ms >= 0 && time.Duration(ms)*time.Millisecond < max {
		max = time.Duration(ms) * time.Millisecond
		if max == 0 {
			max = time.Nanosecond
		}
	}
	a, err := v.Wait(c.UserContext(), strings.Clone(c.Params("id")), agent, max)
	if err != nil {
		return storeErr(err, "approval")
	}
	status, body := approvals.DecisionBody(a)
	c.Set("Content-Type", "application/json")
	return c.Status(status).Send(body)
}

func (s *Server) listStanding(c *fiber.Ctx) error {
	v, err := s.voter()
	if err != nil {
		return err
	}
	list := v.ListStanding()
	if list == nil {
		list = []approvals.StandingApproval{}
	}
	return c.JSON(fiber.Map{"standing": list})
}

func (s *Server) revokeStanding(c *fiber.Ctx) error {
	v, err := s.voter()
	if err != nil {
		return err
	}
	sa, err := v.RevokeStanding(c.UserContext(), strings.Clone(c.Params("id")), operatorOf(c).OperatorID)
	if err != nil {
		return storeErr(err, "standing approval")
	}
	return c.JSON(sa)
}
