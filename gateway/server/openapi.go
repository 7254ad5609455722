package server

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var openapiDoc []byte

func (s *Server) openapi(c *fiber.Ctx) error {
	c.Set("Content-Type", "application/json")
	return c.Send(openapiDoc)
}

// endpointList is advertised in /.well-known/sint.json.
var endpointList = []string{
	"GET /health", "GET /health/ready", "GET /health/live",
	"POST /v1/intercept", "POST /v1/intercept/batch",
	"POST /v1/tokens", "GET /v1/tokens", "GET /v1/tokens/{id}", "POST /v1/tokens/delegate", "DELETE /v1/tokens/{id}",
	"GET /v1/ledger", "GET /v1/ledger/{eventId}", "GET /v1/ledger/proof/{eventId}", "GET /v1/ledger/consistency",
	"POST /v1/ledger/verify", "GET /v1/ledger/export", "GET /v1/ledger/checkpoint",
	"GET /v1/approvals", "GET /v1/approvals/{id}", "POST /v1/approvals/{id}/approve", "POST /v1/approvals/{id}/deny",
	"POST /v1/approvals/{id}/wait", "GET /v1/approvals/stream", "GET /v1/approvals/ws",
	"GET /v1/standing-approvals", "DELETE /v1/standing-approvals/{id}",
	"GET /v1/estop", "POST /v1/estop/trip", "POST /v1/estop/reset",
	"GET /v1/discovery/agents/{id}/circuit", "POST /v1/discovery/agents/{id}/circuit/close",
	"GET /v1/roots", "POST /v1/roots", "DELETE /v1/roots/{publicKey}",
	"GET /v1/apikeys", "POST /v1/apikeys", "DELETE /v1/apikeys/{id}", "POST /v1/policy/reload",
	"GET /.well-known/jwks.json", "GET /.well-known/sint.json", "GET /metrics", "GET /v1/openapi.json",
}
