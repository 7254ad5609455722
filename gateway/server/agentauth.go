package server

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
)

// signedFields is embedded by every agent-signed body other than intercept.
type signedFields struct {
	AgentID   string `json:"agentId"`
	RequestID string `json:"requestId"`
	Timestamp int64  `json:"timestamp"`
}

// agentAuth authenticates an agent-signed call whose body decodes strictly
// into v (a struct embedding signedFields' three fields) and returns the
// agent id. It applies freshness and replay like an intercept.
// The body must also be unambiguous JSON (checkStrictJSON).
func (s *Server) agentAuth(c *fiber.Ctx, v any, sf func() signedFields) (string, error) {
	return s.agentAuthBody(c, v, sf, true)
}

// agentAuthTrip is agentAuth for an agent's e-stop trip, without the
// strictness check: a trip is the safe direction, and a sloppy body (a
// repeated key, a stray byte in the reason) must not keep an authenticated
// agent from stopping the robot.
func (s *Server) agentAuthTrip(c *fiber.Ctx, v any, sf func() signedFields) (string, error) {
	return s.agentAuthBody(c, v, sf, false)
}

func (s *Server) agentAuthBody(c *fiber.Ctx, v any, sf func() signedFields, strict bool) (string, error) {
	body := bytes.Clone(c.Body())
	if !gateway.JSONDepthOK(body, gateway.MaxJSONDepth) {
		return "", apiErr(400, codes.MalformedRequest, "JSON nesting too deep")
	}
	if strict {
		if err := checkStrictJSON(body); err != nil {
			return "", apiErr(400, codes.MalformedRequest, "invalid body: "+err.Error())
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return "", apiErr(400, codes.MalformedRequest, "invalid body: "+err.Error())
	}
	f := sf()
	if !gateway.ValidKeyHex(f.AgentID) || !gateway.ValidUUIDv7(f.RequestID) || f.Timestamp <= 0 {
		return "", apiErr(400, codes.MalformedRequest, "agentId, requestId (UUIDv7) and timestamp are required")
	}
	now := s.now()
	if e := gateway.Authenticate(agentHeaders(c), body, gateway.SignedBody{AgentID: f.AgentID, RequestID: f.RequestID, Timestamp: f.Timestamp}, now.UnixMilli(), verifySig); e != nil {
		return "", apiErr(401, e.Code, e.Message)
	}
	first, err := s.Pipeline.Replay.FirstSeen(c.UserContext(), f.AgentID, f.RequestID, now)
	if err != nil {
		return "", err
	}
	if !first {
		return "", apiErr(401, codes.ReplayDetected, "requestId already used within 120 s")
	}
	return f.AgentID, nil
}

var errNoToken = errors.New("agent holds no registered, unrevoked token")
