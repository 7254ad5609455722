package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

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
	agent, _, err := s.agentAuthBody(c, v, sf, true, false)
	return agent, err
}

// agentAuthBody authenticates an agent-signed body. strict adds the
// unambiguous-JSON check. An agent's e-stop trip passes strict = false (a
// trip is the safe direction: a sloppy body, a repeated key or a stray byte
// in the reason, must not keep an authenticated agent from stopping the
// robot) and replayOptional = true: when the replay cache cannot answer
// (Redis down) the trip goes ahead with replayChecked false (a replayed
// trip can only trip again; freshness still bounds it to ±30 s).
func (s *Server) agentAuthBody(c *fiber.Ctx, v any, sf func() signedFields, strict, replayOptional bool) (agent string, replayChecked bool, err error) {
	body := bytes.Clone(c.Body())
	if !gateway.JSONDepthOK(body, gateway.MaxJSONDepth) {
		return "", false, apiErr(400, codes.MalformedRequest, "JSON nesting too deep")
	}
	if strict {
		if err := checkStrictJSON(body); err != nil {
			return "", false, apiErr(400, codes.MalformedRequest, "invalid body: "+err.Error())
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return "", false, apiErr(400, codes.MalformedRequest, "invalid body: "+err.Error())
	}
	f := sf()
	if !gateway.ValidKeyHex(f.AgentID) || !gateway.ValidUUIDv7(f.RequestID) || f.Timestamp <= 0 {
		return "", false, apiErr(400, codes.MalformedRequest, "agentId, requestId (UUIDv7) and timestamp are required")
	}
	now := s.now()
	if e := gateway.Authenticate(agentHeaders(c), body, gateway.SignedBody{AgentID: f.AgentID, RequestID: f.RequestID, Timestamp: f.Timestamp}, now.UnixMilli(), verifySig); e != nil {
		return "", false, apiErr(401, e.Code, e.Message)
	}
	var first bool
	if replayOptional {
		first, err = s.replayBounded(c.UserContext(), f.AgentID, f.RequestID, now)
	} else {
		first, err = s.Pipeline.Replay.FirstSeen(c.UserContext(), f.AgentID, f.RequestID, now)
	}
	if err != nil {
		if replayOptional {
			s.Log.Warn("agent call: replay cache unavailable; going ahead unchecked", "agentId", f.AgentID, "err", err)
			return f.AgentID, false, nil
		}
		return "", false, err
	}
	if !first {
		return "", false, apiErr(401, codes.ReplayDetected, "requestId already used within 120 s")
	}
	return f.AgentID, true, nil
}

// replayBounded asks the replay cache for at most tripReplayTimeout, even
// when its client does not honour the context (a Redis client redialling a
// dead server); an answer that comes later is dropped.
func (s *Server) replayBounded(ctx context.Context, agentID, requestID string, now time.Time) (bool, error) {
	type answer struct {
		first bool
		err   error
	}
	ctx, cancel := context.WithTimeout(ctx, tripReplayTimeout)
	ch := make(chan answer, 1)
	go func() {
		defer cancel()
		first, err := s.Pipeline.Replay.FirstSeen(ctx, agentID, requestID, now)
		ch <- answer{first, err}
	}()
	t := time.NewTimer(tripReplayTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		return a.first, a.err
	case <-t.C:
		return false, context.DeadlineExceeded
	}
}

var errNoToken = errors.New("agent holds no registered, unrevoked token")
