package server

import (
	"context"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// MaxTrustChain bounds the links walked by trust-chain (the protocol's
// delegation depth limit is far below it).
const MaxTrustChain = 16

func (s *Server) a2aRoutes() {
	s.App.Post("/v1/a2a/delegate", s.a2aDelegate)
	s.App.Get("/v1/a2a/trust-chain/:tokenId", s.trustChain)
	s.App.Post("/v1/a2a/revoke", s.a2aRevoke)
}

// a2aDelegate is POST /v1/a2a/delegate: an agent registers a child of a
// token it holds, signed by itself (the registration path of
// /v1/tokens/delegate, agent side: the child's issuer must be the caller).
func (s *Server) a2aDelegate(c *fiber.Ctx) error {
	var in struct {
		signedFields
		Token string `json:"token"`
	}
	agent, err := s.agentAuth(c, &in, func() signedFields { return in.signedFields })
	if err != nil {
		return err
	}
	if s.Pipeline.Circuits.IsOpen(agent) {
		return apiErr(403, codes.CircuitOpen, "the agent's circuit is open")
	}
	return s.register(c, in.Token, agent, true, agent)
}

// callerAgentOrOperator authenticates a read that an agent (signed body
// {agentId, requestId, timestamp}) or an operator (API key, scope read)
// may make. It returns the agent id, or "" for an operator.
func (s *Server) callerAgentOrOperator(c *fiber.Ctx) (string, error) {
	if bearer(c) != "" {
		_, err := s.requireOp(c, "read")
		return "", err
	}
	var in signedFields
	return s.agentAuth(c, &in, func() signedFields { return in })
}

type chainLink struct {
	TokenID       string         `json:"tokenId"`
	Depth         int            `json:"depth"`
	Issuer        string         `json:"issuer"`
	Subject       string         `json:"subject"`
	ParentTokenID string         `json:"parentTokenId,omitempty"`
	Limits        *tokens.Claims `json:"limits"` // resource, actions, constraints, tier, validity
	RegisteredAt  int64          `json:"registeredAt"`
	Revoked       bool           `json:"revoked"`
	RevokedAt     *int64         `json:"revokedAt,omitempty"`
}

// chain walks from id up to its root, returning the links root first.
func (s *Server) chain(ctx context.Context, id string) ([]chainLink, error) {
	var links []chainLink
	for cur := id; cur != "" && len(links) < MaxTrustChain; {
		r, err := s.Store.GetToken(ctx, cur)
		if err != nil {
			return nil, storeErr(err, "token")
		}
		l := chainLink{TokenID: r.TokenID, Issuer: r.Issuer, Subject: r.Subject, ParentTokenID: r.ParentTokenID,
			RegisteredAt: r.RegisteredAt.UnixMilli(), Revoked: r.RevokedAt != nil || s.Registry.IsRevoked(r.TokenID)}
		if r.RevokedAt != nil {
			ms := r.RevokedAt.UnixMilli()
			l.RevokedAt = &ms
		}
		if t, err := tokens.Parse(r.Raw); err == nil {
			l.Limits = &t.Claims
			l.Depth = t.Claims.Depth()
		}
		links = append(links, l)
		cur = r.ParentTokenID
	}
	slices.Reverse(links)
	return links, nil
}

// trustChain is GET /v1/a2a/trust-chain/{tokenId}: every link from the
// root to the token, with its issuer, limits and revocation state. An
// agent may read a chain it appears in (as issuer or subject of a link).
func (s *Server) trustChain(c *fiber.Ctx) error {
	agent, err := s.callerAgentOrOperator(c)
	if err != nil {
		return err
	}
	links, err := s.chain(c.UserContext(), c.Params("tokenId"))
	if err != nil {
		return err
	}
	if agent != "" && !slices.ContainsFunc(links, func(l chainLink) bool { return l.Issuer == agent || l.Subject == agent }) {
		return apiErr(403, codes.Forbidden, "the agent is not part of this trust chain")
	}
	revoked := slices.ContainsFunc(links, func(l chainLink) bool { return l.Revoked })
	return c.JSON(fiber.Map{"tokenId": c.Params("tokenId"), "links": links, "valid": !revoked})
}

// a2aRevoke is POST /v1/a2a/revoke: an agent revokes a token it issued
// (a delegation), cascading to that token's descendants.
func (s *Server) a2aRevoke(c *fiber.Ctx) error {
	var in struct {
		signedFields
		TokenID string `json:"tokenId"`
		Reason  string `json:"reason"`
	}
	agent, err := s.agentAuth(c, &in, func() signedFields { return in.signedFields })
	if err != nil {
		return err
	}
	if in.TokenID == "" || len(in.TokenID) > store.MaxIDBytes || len(in.Reason) > 256 {
		return apiErr(400, codes.MalformedRequest, "tokenId is required; reason at most 256 bytes")
	}
	ctx := c.UserContext()
	r, err := s.Store.GetToken(ctx, in.TokenID)
	if err != nil {
		return storeErr(err, "token")
	}
	if r.Issuer != agent {
		return apiErr(403, codes.Forbidden, "an agent may revoke only the tokens it issued")
	}
	ids, err := s.revokeCascade(ctx, in.TokenID, agent, "revoked by its issuing agent: "+in.Reason)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"revoked": ids})
}
