package server

import (
	"bufio"
	"context"
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

func (s *Server) ledgerRoutes() {
	a := s.App
	a.Get("/v1/ledger", s.op("read"), s.listLedger)
	a.Get("/v1/ledger/checkpoint", s.op("read"), s.latestCheckpoint)
	a.Get("/v1/ledger/consistency", s.op("read"), s.consistency)
	a.Get("/v1/ledger/export", s.op("read"), s.exportLedger)
	a.Post("/v1/ledger/verify", s.op("read"), s.verifyLedger)
	a.Get("/v1/ledger/proof/:id", s.op("read"), s.proof)
	a.Get("/v1/ledger/:id", s.op("read"), s.getEntry)
}

func ledgerErr(err error) error {
	if errors.Is(err, ledger.ErrNotFound) {
		return apiErr(404, codes.NotFound, "no such ledger entry")
	}
	return &APIError{Status: 503, Code: codes.LedgerUnavailable, Message: "the ledger is unavailable", Cause: err}
}

func queryUint(c *fiber.Ctx, name string) (uint64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, apiErr(400, codes.MalformedRequest, name+" must be a non-negative integer")
	}
	return n, nil
}

func (s *Server) listLedger(c *fiber.Ctx) error {
	after, err := queryUint(c, "after")
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit")
	if err != nil {
		return err
	}
	if limit > ledger.MaxListLimit {
		return apiErr(400, codes.MalformedRequest, "limit must be ≤ 1000")
	}
	entries, next, err := s.Ledger.List(c.UserContext(), ledger.ListQuery{After: after, Limit: int(limit), EventType: c.Query("eventType"), AgentID: c.Query("agentId")})
	if err != nil {
		return ledgerErr(err)
	}
	if entries == nil {
		entries = []ledger.Entry{}
	}
	return c.JSON(fiber.Map{"events": entries, "next": next})
}

func (s *Server) getEntry(c *fiber.Ctx) error {
	e, err := s.Ledger.GetByEventID(c.UserContext(), c.Params("id"))
	if err != nil {
		return ledgerErr(err)
	}
	return c.JSON(e)
}

// checkpointSigner signs with the active gateway key.
func (s *Server) checkpointSigner() (ledger.CheckpointSigner, error) {
	k := s.Keys.Active()
	return ledger.NewEd25519Signer(s.GatewayID, k.KID, k.Private)
}

// Checkpoint signs and records a checkpoint of the current tree head.
func (s *Server) Checkpoint(ctx context.Context) (ledger.Checkpoint, error) {
	signer, err := s.checkpointSigner()
	if err != nil {
		return ledger.Checkpoint{}, err
	}
	l := ledger.Ledger{Store: s.Ledger, Now: s.Clock}
	return l.Checkpoint(ctx, signer)
}

func (s *Server) latestCheckpoint(c *fiber.Ctx) error {
	l := ledger.Ledger{Store: s.Ledger, Now: s.Clock}
	cp, err := l.LatestCheckpoint(c.UserContext())
	if errors.Is(err, ledger.ErrNotFound) {
		cp, err = s.Checkpoint(c.UserContext())
	}
	if err != nil {
		return ledgerErr(err)
	}
	return c.JSON(cp)
}

// proof answers an inclusion proof against a signed checkpoint that covers
// the entry, signing a fresh checkpoint when the latest one does not.
func (s *Server) proof(c *fiber.Ctx) error {
	ctx := c.UserContext()
	e, err := s.Ledger.GetByEventID(ctx, c.Params("id"))
	if err != nil {
		return ledgerErr(err)
	}
	l := ledger.Ledger{Store: s.Ledger, Now: s.Clock}
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil && !errors.Is(err, ledger.ErrNotFound) {
		return ledgerErr(err)
	}
	if err != nil || cp.TreeSize < e.SequenceNumber {
		signer, serr := s.checkpointSigner()
		if serr != nil {
			return ledgerErr(serr)
		}
		if cp, err = l.CheckpointCovering(ctx, signer, e.SequenceNumber); err != nil {
			return ledgerErr(err)
		}
	}
	p, err := s.Ledger.InclusionProof(ctx, e.SequenceNumber-1, cp.TreeSize)
	if err != nil {
		return ledgerErr(err)
	}
	return c.JSON(fiber.Map{"entry": e, "leafIndex": e.SequenceNumber - 1, "treeSize": cp.TreeSize, "inclusionProof": ledger.HexHashes(p), "checkpoint": cp})
}

func (s *Server) consistency(c *fiber.Ctx) error {
	from, err := queryUint(c, "from")
	if err != nil {
		return err
	}
	to, err := queryUint(c, "to")
	if err != nil {
		return err
	}
	size, err := s.Ledger.Size(c.UserContext())
	if err != nil {
		return ledgerErr(err)
	}
	if from == 0 || to < from || to > size {
		return apiErr(400, codes.MalformedRequest, "need 1 ≤ from ≤ to ≤ tree size")
	}
	p, err := s.Ledger.ConsistencyProof(c.UserContext(), from, to)
	if err != nil {
		return ledgerErr(err)
	}
	return c.JSON(fiber.Map{"from": from, "to": to, "proof": ledger.HexHashes(p)})
}

func (s *Server) verifyLedger(c *fiber.Ctx) error {
	var in struct {
		From *uint64 `json:"from"`
		To   *uint64 `json:"to"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	size, err := s.Ledger.Size(c.UserContext())
	if err != nil {
		return ledgerErr(err)
	}
	from, to := uint64(1), size
	if in.From != nil {
		from = *in.From
	}
	if in.To != nil {
		to = *in.To
	}
	if size == 0 {
		return c.JSON(ledger.VerifyResult{Valid: true})
	}
	if from == 0 || to < from || to > size {
		return apiErr(400, codes.MalformedRequest, "need 1 ≤ from ≤ to ≤ tree size")
	}
	res, err := s.Ledger.Verify(c.UserContext(), from, to)
	if err != nil {
		return ledgerErr(err)
	}
	return c.JSON(res)
}

// exportLedger streams NDJSON in constant memory.
func (s *Server) exportLedger(c *fiber.Ctx) error {
	ctx := context.WithoutCancel(c.UserContext())
	size, err := s.Ledger.Size(ctx)
	if err != nil {
		return ledgerErr(err)
	}
	c.Set("Content-Type", "application/x-ndjson")
	c.Set("X-Ledger-Size", strconv.FormatUint(size, 10))
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		if size == 0 {
			return
		}
		if err := s.Ledger.Export(ctx, w, 1, size, nil); err != nil {
			s.Log.Error("ledger export", "err", err)
		}
		_ = w.Flush()
	})
	return nil
}
