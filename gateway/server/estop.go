package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/store"
)

func estopView(st estop.State) store.EstopState { return estop.ToStore(st) }

// estopRead is the body of GET /v1/estop: the breaker state, the server
// instance's boot id and, in a replicated fleet, the fleet's id.
type estopRead struct {
	store.EstopState
	BootID  string `json:"bootId"`
	FleetID string `json:"fleetId,omitempty"`
}

func (s *Server) getEstop(c *fiber.Ctx) error {
	return c.JSON(estopRead{EstopState: estopView(s.Breaker.Snapshot()), BootID: s.bootID, FleetID: s.FleetID})
}

// newBootID returns a random id for one server instance (16 hex digits).
func newBootID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// tripEstop is never blocked by the breaker, the pipeline, a rate limit or
// an unavailable store (PROTOCOL.md §8): an operator with estop:trip, or any
// agent holding a registered, unrevoked token (signed body). When the store
// cannot answer, authority is checked without it (estop_auth.go); the
// breaker trips at once and the journal records the trip when the ledger
// can take it.
func (s *Server) tripEstop(c *fiber.Ctx) error {
	var src estop.Source
	var reason, auth string
	var storeDown bool // the store did not answer the authorization
	if bearer(c) != "" {
		var err error
		if src, auth, err = s.tripOperator(c); err != nil {
			return err
		}
		storeDown = auth != ""
		var in struct {
			Reason string `json:"reason"`
		}
		if err := decodeBody(c, &in); err != nil {
			// The operator is authenticated: a sloppy body (an unknown
			// field, trailing bytes) must not keep them from stopping the
			// robot, as for an agent's trip. The trip names why the reason
			// is missing.
			s.Log.Warn("e-stop trip: body not understood; tripping without its reason", "source", src.ID, "err", err)
			in.Reason = "(trip body not understood)"
		}
		reason = in.Reason
	} else {
		var in struct {
			signedFields
			Reason string `json:"reason"`
		}
		agent, replayChecked, err := s.agentAuthBody(c, &in, func() signedFields { return in.signedFields }, false, true)
		if err != nil {
			return err
		}
		if auth, err = s.tripAgentAuthority(c, agent); err != nil {
			return err
		}
		storeDown = auth != ""
		if !replayChecked {
			auth += authReplayUnknown
		}
		src, reason = estop.Source{ID: "agent:" + agent, Kind: estop.KindAPI}, in.Reason
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	ctx := c.UserContext()
	if auth != "" {
		ctx = estop.WithAuthorization(ctx, auth)
	}
	if storeDown {
		// The store just did not answer: the trip is journaled (fsynced)
		// and answered without waiting for it again; the journal records
		// it and the approvals' trip watcher cancels the pending approvals
		// when it answers.
		ctx = estop.WithStoreUnavailable(ctx)
	}
	st, err := s.Breaker.Trip(ctx, src, reason)
	if err != nil && !st.Tripped {
		return err
	}
	if err != nil {
		// Tripped (decisions already deny; the journal records the trip
		// when the ledger can take it).
		s.Log.Error("e-stop trip not fully recorded yet", "err", err)
	}
	if s.Approvals != nil && !storeDown {
		// Also done for every trip by the approvals' trip watcher; here so
		// that the answer follows the cancellation when the store is up,
		// and bounded so that an unavailable store does not delay it, even
		// one that does not answer at all.
		_, _ = askBounded(c.UserContext(), tripStoreTimeout, func(ctx context.Context) (struct{}, error) {
			s.Approvals.CancelAll(ctx, "e-stop tripped")
			return struct{}{}, nil
		})
	}
	return c.JSON(estopView(st))
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
