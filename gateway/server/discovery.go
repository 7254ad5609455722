package server

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/economy"
	"github.com/sintgate/sintgate/gateway/risk"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

// OperatorDeps are the operator plane's parts (issue 11): the risk monitor
// fed by the pipeline's Observer and the economy service that is also the
// pipeline's Charger. Either may be nil: their routes then answer 503.
type OperatorDeps struct {
	Risk    *risk.Monitor
	Economy *economy.Service
}

// operatorRoutes registers discovery, risk, dashboard, a2a and economy.
func (s *Server) operatorRoutes() {
	a := s.App
	a.Get("/v1/discovery/agents", s.op("read"), s.listAgents)
	a.Post("/v1/discovery/agents/register", s.op("agents:write"), s.registerAgent)
	a.Get("/v1/discovery/agents/:id", s.op("read"), s.getAgent)
	a.Delete("/v1/discovery/agents/:id", s.op("agents:write"), s.deregisterAgent)
	s.riskRoutes()
	s.dashboardAPIRoutes()
	s.a2aRoutes()
	s.economyRoutes()
}

// Limits of an agent registration.
const (
	MaxAgentName       = 128
	MaxAgentOwner      = 128
	MaxAgentLabels     = 32
	MaxLabelKey        = 64
	MaxLabelValue      = 256
	MaxCapabilities    = 64
	MaxCapabilityBytes = 128
)

type agentRegistration struct {
	PublicKey    string            `json:"publicKey"`
	Name         string            `json:"name"`
	Owner        string            `json:"owner"`
	Labels       map[string]string `json:"labels"`
	Capabilities []string          `json:"capabilities"`
}

func textOK(s string, max int) bool {
	return len(s) <= max && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

func (r *agentRegistration) validate() error {
	switch {
	case !gateway.ValidKeyHex(r.PublicKey):
		return apiErr(400, codes.MalformedRequest, "publicKey must be 64 lowercase hex characters")
	case r.Name == "" || !textOK(r.Name, MaxAgentName):
		return apiErr(400, codes.MalformedRequest, "name is required (at most 128 bytes of UTF-8)")
	case !textOK(r.Owner, MaxAgentOwner):
		return apiErr(400, codes.MalformedRequest, "owner is at most 128 bytes of UTF-8")
	case len(r.Labels) > MaxAgentLabels:
		return apiErr(400, codes.MalformedRequest, "at most 32 labels")
	case len(r.Capabilities) > MaxCapabilities:
		return apiErr(400, codes.MalformedRequest, "at most 64 capabilities")
	}
	for k, v := range r.Labels {
		if k == "" || !textOK(k, MaxLabelKey) || !textOK(v, MaxLabelValue) {
			return apiErr(400, codes.MalformedRequest, "label keys are 1–64 bytes, values at most 256 bytes of UTF-8")
		}
	}
	for _, c := range r.Capabilities {
		if c == "" || !textOK(c, MaxCapabilityBytes) {
			return apiErr(400, codes.MalformedRequest, "capabilities are 1–128 bytes of UTF-8")
		}
	}
	return nil
}

// agentView is an agent with its live circuit and risk.
type agentView struct {
	store.Agent
	Circuit fiber.Map `json:"circuit"`
	Risk    *float64  `json:"risk,omitempty"`
}

func (s *Server) agentView(a store.Agent) agentView {
	if a.Labels == nil {
		a.Labels = map[string]string{}
	}
	if a.Capabilities == nil {
		a.Capabilities = []string{}
	}
	c := s.Pipeline.Circuits.Get(a.AgentID)
	a.CircuitOpen, a.CircuitCause, a.CircuitSince = c.Open, c.Cause, 0
	if c.Open {
		a.CircuitSince = c.Since.UnixMilli()
	}
	v := agentView{Agent: a, Circuit: circuitView(a.AgentID, c)}
	if s.Operator.Risk != nil {
		if r, ok := s.Operator.Risk.Tracker.Agent(a.AgentID, s.now()); ok {
			v.Risk = &r.Risk
		}
	}
	return v
}

// matchAgent applies the list filters: owner, name (substring),
// capability, and label=key=value (repeatable, all must match).
func matchAgent(a store.Agent, owner, name, capability string, labels map[string]string) bool {
	if owner != "" && a.Owner != owner {
		return false
	}
	if name != "" && !strings.Contains(a.Name, name) {
		return false
	}
	if capability != "" && !slices.Contains(a.Capabilities, capability) {
		return false
	}
	for k, v := range labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

func labelFilter(c *fiber.Ctx) (map[string]string, error) {
	out := map[string]string{}
	for _, raw := range c.Context().QueryArgs().PeekMulti("label") {
		k, v, ok := strings.Cut(string(raw), "=")
		if !ok || k == "" {
			return nil, apiErr(400, codes.MalformedRequest, "label filters are label=key=value")
		}
		out[k] = v
	}
	return out, nil
}

func (s *Server) listAgents(c *fiber.Ctx) error {
	labels, err := labelFilter(c)
	if err != nil {
		return err
	}
	all, err := s.Store.ListAgents(c.UserContext())
	if err != nil {
		return err
	}
	out := []agentView{}
	for _, a := range all {
		if matchAgent(a, c.Query("owner"), c.Query("name"), c.Query("capability"), labels) {
			out = append(out, s.agentView(a))
		}
	}
	return c.JSON(fiber.Map{"agents": out})
}

func (s *Server) getAgent(c *fiber.Ctx) error {
	id := c.Params("id")
	if !gateway.ValidKeyHex(id) {
		return apiErr(400, codes.MalformedRequest, "agent id must be 64 lowercase hex characters")
	}
	a, err := s.Store.GetAgent(c.UserContext(), id)
	if err != nil {
		return storeErr(err, "agent")
	}
	return c.JSON(s.agentView(a))
}

// registerAgent registers an agent, or updates its name, owner, labels and
// capabilities (201 when new, 200 when updated; the registration time and
// the circuit are kept).
func (s *Server) registerAgent(c *fiber.Ctx) error {
	var in agentRegistration
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if err := in.validate(); err != nil {
		return err
	}
	ctx := c.UserContext()
	a, err := s.Store.GetAgent(ctx, in.PublicKey)
	status := 200
	switch {
	case errors.Is(err, store.ErrNotFound):
		a, status = store.Agent{AgentID: in.PublicKey, RegisteredAt: s.now().UnixMilli()}, 201
	case err != nil:
		return err
	case a.Name == "":
		status = 201 // only its circuit was known
	}
	a.Name, a.Owner, a.Labels, a.Capabilities = in.Name, in.Owner, maps.Clone(in.Labels), slices.Clone(in.Capabilities)
	if err := s.Store.PutAgent(ctx, a); err != nil {
		return storeErr(err, "agent")
	}
	typ := "agent.registered"
	if status == 200 {
		typ = "agent.updated"
	}
	if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: typ, AgentID: "operator:" + operatorOf(c).OperatorID, Payload: map[string]any{
		"agentId": a.AgentID, "name": a.Name, "owner": a.Owner, "labels": a.Labels, "capabilities": a.Capabilities,
	}}); err != nil {
		return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "registered, but the ledger could not record it", Cause: err}
	}
	return c.Status(status).JSON(s.agentView(a))
}

// deregisterAgent revokes every token issued to the agent (cascading to
// what it delegated), then deletes its registration.
func (s *Server) deregisterAgent(c *fiber.Ctx) error {
	id := c.Params("id")
	if !gateway.ValidKeyHex(id) {
		return apiErr(400, codes.MalformedRequest, "agent id must be 64 lowercase hex characters")
	}
	ctx := c.UserContext()
	if _, err := s.Store.GetAgent(ctx, id); err != nil {
		return storeErr(err, "agent")
	}
	actor := "operator:" + operatorOf(c).OperatorID
	revoked, err := s.revokeSubject(ctx, id, actor, "agent deregistered")
	if err != nil {
		return err
	}
	if err := s.Store.DeleteAgent(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "agent.deregistered", AgentID: actor, Payload: map[string]any{
		"agentId": id, "revokedTokens": revoked,
	}}); err != nil {
		return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "deregistered, but the ledger could not record it", Cause: err}
	}
	return c.JSON(fiber.Map{"agentId": id, "revoked": revoked})
}

// revokeSubject revokes every unrevoked token whose subject is agentID,
// with its descendants, recording a token.revoked event for each.
func (s *Server) revokeSubject(ctx context.Context, agentID, actor, cause string) ([]string, error) {
	recs, err := s.Store.ListTokens(ctx, store.TokenFilter{Subject: agentID})
	if err != nil {
		return nil, err
	}
	revoked := []string{}
	for _, r := range recs {
		if r.RevokedAt != nil {
			continue
		}
		ids, err := s.revokeCascade(ctx, r.TokenID, actor, cause)
		if err != nil {
			return revoked, err
		}
		revoked = append(revoked, ids...)
	}
	return revoked, nil
}

// revokeCascade revokes id and its descendants through the registry and
// records each revocation.
func (s *Server) revokeCascade(ctx context.Context, id, actor, cause string) ([]string, error) {
	ids, err := s.Registry.Revoke(ctx, id, s.now())
	if err != nil {
		return nil, storeErr(err, "token")
	}
	for _, x := range ids {
		if _, err := s.Ledger.Append(ctx, ledger.Event{EventType: "token.revoked", AgentID: actor, TokenID: x, Payload: map[string]any{"tokenId": x, "cause": id, "reason": cause}}); err != nil {
			return ids, &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "revoked, but the ledger could not record it", Cause: err}
		}
	}
	return ids, nil
}

// The operator plane's endpoints, advertised in /.well-known/sint.json.
func init() {
	endpointList = append(endpointList,
		"GET /v1/discovery/agents", "GET /v1/discovery/agents/{id}", "POST /v1/discovery/agents/register", "DELETE /v1/discovery/agents/{id}",
		"GET /v1/risk/stream", "GET /v1/risk/snapshot",
		"GET /v1/dashboard/stats", "GET /v1/dashboard/agents", "GET /v1/dashboard/alerts",
		"POST /v1/a2a/delegate", "GET /v1/a2a/trust-chain/{tokenId}", "POST /v1/a2a/revoke",
		"GET /v1/economy/balance", "GET /v1/economy/transactions", "POST /v1/economy/charge",
		"GET /v1/economy/budgets", "PUT /v1/economy/budgets/{agentId}", "GET /v1/economy/prices", "PUT /v1/economy/prices",
	)
}
