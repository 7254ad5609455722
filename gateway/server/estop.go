package server

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/store"
)

func estopView(st estop.State) store.EstopState { return estop.ToStore(st) }

func (s *Server) getEstop(c *fiber.Ctx) error {
	return c.JSON(estopView(s.Breaker.Snapshot()))
}

// tripEstop is never blocked by the breaker, the pipeline or a rate limit:
// an operator with estop:trip, or any agent holding a registered, unrevoked
// token (signed body).
func (s *Server) tripEstop(c *fiber.Ctx) error {
	var src estop.Source
	var reason string
	if bearer(c) != "" {
		o, err := s.requireOp(c, "estop:trip")
		if err != nil {
			return err
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if err := decodeBody(c, &in); err != nil {
			return err
		}
		src, reason = estop.Source{ID: "operator:" + o.OperatorID, Kind: estop.KindAPI}, in.Reason
	} else {
		var in struct {
			signedFields
			Reason string `json:"reason"`
		}
		agent, err := s.agentAuthTrip(c, &in, func() signedFields { return in.signedFields })
		if err != nil {
			return err
		}
		if !s.holdsToken(c, agent) {
			return apiErr(403, codes.Forbidden, errNoToken.Error())
		}
		src, reason = estop.Source{ID: "agent:" + agent, Kind: estop.KindAPI}, in.Reason
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	st, err := s.Breaker.Trip(c.UserContext(), src, reason)
	if err != nil && !st.Tripped {
		return err
	}
	if err != nil {
		// Tripped in memory (decisions already deny) but not fully recorded.
		s.Log.Error("e-stop trip not fully recorded", "err", err)
	}
	if s.Approvals != nil {
		s.Approvals.CancelAll(c.UserContext(), "e-stop tripped")
	}
	return c.JSON(estopView(st))
}

func (s *Server) holdsToken(c *fiber.Ctx, agent string) bool {
	recs, err := s.Store.ListTokens(c.UserContext(), store.TokenFilter{Subject: agent})
	if err != nil {
		return false
	}
	for _, r := range recs {
		if r.RevokedAt == nil && !s.Registry.IsRevoked(r.TokenID) {
			return true
		}
	}
	return false
}

func (s *Server) resetEstop(c *fiber.Ctx) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	st, err := s.Breaker.Reset(c.UserContext(), "operator:"+operatorOf(c).OperatorID, in.Reason)
	var le *estop.LatchedError
	if errors.As(err, &le) {
		names := make([]string, 0, len(le.Sources))
		for _, x := range le.Sources {
			names = append(names, x.Kind+":"+x.ID)
		}
		return c.Status(409).JSON(fiber.Map{"error": fiber.Map{"code": string(codes.Conflict), "message": "latched sources must clear before reset", "sources": names}})
	}
	if err != nil {
		return err
	}
	return c.JSON(estopView(st))
}
