package server

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/store"
)

// Approvals is what the server needs of the approvals service.
type Approvals interface {
	Get(ctx context.Context, id string) (store.Approval, error)
	List(ctx context.Context, state string, limit int) ([]store.Approval, error)
	CancelAll(ctx context.Context, reason string)
}

func (s *Server) approvalRoutes() {
	s.App.Get("/v1/approvals", s.op("read"), s.listApprovals)
	s.App.Get("/v1/approvals/:id", s.op("read"), s.getApproval)
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
	a, err := s.Approvals.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return storeErr(err, "approval")
	}
	return c.JSON(approvalView(a))
}
