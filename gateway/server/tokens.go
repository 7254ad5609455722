package server

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// register verifies raw at registration time (PROTOCOL.md §3.1) and stores it.
func (s *Server) register(c *fiber.Ctx, raw, actor string, delegatedOnly bool, mustIssuer string) error {
	if len(raw) == 0 || len(raw) > gateway.MaxTokenBytes {
		return apiErr(422, codes.MalformedToken, "token missing or larger than 8 KiB")
	}
	now := s.now()
	chain, err := s.Verifier.VerifyChain(now.UnixMilli(), raw, nil, s.Registry, s.Registry, s.Registry, true)
	if err != nil {
		return &APIError{Status: 422, Code: codes.Of(err), Message: errMessage(err)}
	}
	t := chain[len(chain)-1]
	if delegatedOnly && t.Depth() == 0 {
		return apiErr(422, codes.InvalidChain, "only delegated tokens are accepted here")
	}
	if mustIssuer != "" && t.Claims.Issuer != mustIssuer {
		return apiErr(403, codes.Forbidden, "a delegated token must be signed by the parent's subject, the calling agent")
	}
	// An open circuit suspends the agent's authority: no delegation below a
	// token it holds is accepted, whoever presents it (PROTOCOL.md §4).
	for _, a := range chain[:len(chain)-1] {
		if s.Pipeline.Circuits.IsOpen(a.Claims.Subject) {
			return apiErr(403, codes.CircuitOpen, "the circuit of agent "+a.Claims.Subject+", holder of ancestor token "+a.Claims.TokenID+", is open")
		}
	}
	if err := s.Registry.AddToken(c.UserContext(), t, now); err != nil {
		return storeErr(err, "token")
	}
	typ := "token.registered"
	if t.Depth() > 0 {
		typ = "token.delegated"
	}
	if _, err := s.Ledger.Append(c.UserContext(), ledger.Event{EventType: typ, AgentID: actor, TokenID: t.Claims.TokenID, Payload: map[string]any{
		"tokenId": t.Claims.TokenID, "issuer": t.Claims.Issuer, "subject": t.Claims.Subject,
		"resource": t.Claims.Resource, "actions": t.Claims.Actions, "tier": t.Claims.Tier,
		"depth": t.Depth(), "parentTokenId": t.Claims.ParentTokenID, "tokenHash": t.HashHex(),
	}}); err != nil {
		return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "the ledger could not record the registration", Cause: err}
	}
	return c.Status(201).JSON(fiber.Map{"tokenId": t.Claims.TokenID, "token": t.Raw, "claims": t.Claims})
}

func errMessage(err error) string {
	if ce, ok := err.(*codes.Error); ok {
		return ce.Message
	}
	return "token rejected"
}

func (s *Server) registerToken(c *fiber.Ctx) error {
	var in struct {
		Token string `json:"token"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	return s.register(c, in.Token, "operator:"+operatorOf(c).OperatorID, false, "")
}

// delegateToken accepts an operator (Bearer, tokens:write) or the parent's
// subject agent (signed body).
func (s *Server) delegateToken(c *fiber.Ctx) error {
	if bearer(c) != "" {
		o, err := s.requireOp(c, "tokens:write")
		if err != nil {
			return err
		}
		var in struct {
			Token string `json:"token"`
		}
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		return s.register(c, in.Token, "operator:"+o.OperatorID, true, "")
	}
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

type tokenView struct {
	store.TokenRecord
	Claims  *tokens.Claims `json:"claims,omitempty"`
	Revoked bool           `json:"revoked"`
}

func (s *Server) view(r store.TokenRecord) tokenView {
	v := tokenView{TokenRecord: r, Revoked: r.RevokedAt != nil || s.Registry.IsRevoked(r.TokenID)}
	if t, err := tokens.Parse(r.Raw); err == nil {
		v.Claims = &t.Claims
	}
	return v
}

func (s *Server) listTokens(c *fiber.Ctx) error {
	limit, _ := strconv.Atoi(c.Query("limit", "100"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	recs, err := s.Store.ListTokens(c.UserContext(), store.TokenFilter{Subject: c.Query("subject"), Issuer: c.Query("issuer"), ParentTokenID: c.Query("parent"), Limit: limit})
	if err != nil {
		return err
	}
	out := make([]tokenView, 0, len(recs))
	for _, r := range recs {
		out = append(out, s.view(r))
	}
	return c.JSON(fiber.Map{"tokens": out})
}

func (s *Server) getToken(c *fiber.Ctx) error {
	r, err := s.Store.GetToken(c.UserContext(), c.Params("id"))
	if err != nil {
		return storeErr(err, "token")
	}
	return c.JSON(s.view(r))
}

// revokeToken is DELETE /v1/tokens/{id}. Any token id can be revoked,
// registered or not (PROTOCOL.md §3.3): a token only ever presented inline
// is revoked by recording its id, durably and fleet-wide like any other
// revocation, and every chain containing it is denied TOKEN_REVOKED from
// then on. The answer is 200 {"revoked":[ids newly revoked],"registered"};
// revoking an id again answers an empty list.
func (s *Server) revokeToken(c *fiber.Ctx) error {
	id := c.Params("id")
	if !gateway.ValidUUIDv7(id) {
		return apiErr(400, codes.MalformedRequest, "a token id is a lowercase UUIDv7")
	}
	actor := "operator:" + operatorOf(c).OperatorID
	ctx := c.UserContext()
	registered := true
	if _, ok := s.Registry.TokenByID(id); !ok {
		_, err := s.Store.GetToken(ctx, id) // registered on another replica?
		registered = err == nil
	}
	ids, err := s.Registry.Revoke(ctx, id, s.now())
	if err != nil {
		return storeErr(err, "token")
	}
	for _, x := range ids {
		payload := map[string]any{"tokenId": x, "cause": id}
		if x == id && !registered {
			payload["registered"] = false
		}
		if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "token.revoked", AgentID: actor, TokenID: x, Payload: payload}); err != nil {
			return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "revoked, but the ledger could not record it", Cause: err}
		}
	}
	return c.JSON(fiber.Map{"revoked": ids, "registered": registered})
}
