package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
)

func (s *Server) circuitRoutes() {
	s.App.Get("/v1/discovery/agents/:id/circuit", s.op("read"), s.getCircuit)
	s.App.Post("/v1/discovery/agents/:id/circuit/close", s.op("agents:write"), s.closeCircuit)
}

func circuitView(agentID string, c gateway.Circuit) fiber.Map {
	m := fiber.Map{"agentId": agentID, "open": c.Open, "since": nil, "cause": nil}
	if c.Open {
		m["since"], m["cause"] = c.Since.UnixMilli(), c.Cause
	}
	return m
}

func (s *Server) getCircuit(c *fiber.Ctx) error {
	id := c.Params("id")
	if !gateway.ValidKeyHex(id) {
		return apiErr(400, codes.MalformedRequest, "agent id must be 64 lowercase hex characters")
	}
	return c.JSON(circuitView(id, s.Pipeline.Circuits.Get(id)))
}

// closeCircuit lets an operator close a circuit opened by a severe
// violation; the closing is a ledger event.
func (s *Server) closeCircuit(c *fiber.Ctx) error {
	id := c.Params("id")
	if !gateway.ValidKeyHex(id) {
		return apiErr(400, codes.MalformedRequest, "agent id must be 64 lowercase hex characters")
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if !s.Pipeline.Circuits.Close(id) {
		return apiErr(409, codes.Conflict, "the agent's circuit is not open")
	}
	s.record(c, "agent.circuit.closed", map[string]any{"agentId": id, "reason": in.Reason})
	return c.JSON(circuitView(id, gateway.Circuit{}))
}
