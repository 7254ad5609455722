package server

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
)

func (s *Server) listRoots(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"roots": s.Registry.Roots()})
}

func (s *Server) addRoot(c *fiber.Ctx) error {
	var in struct {
		PublicKey string `json:"publicKey"`
		Name      string `json:"name"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if !gateway.ValidKeyHex(in.PublicKey) {
		return apiErr(400, codes.MalformedRequest, "publicKey must be 64 lowercase hex characters")
	}
	if len(in.Name) > 128 {
		return apiErr(400, codes.MalformedRequest, "name longer than 128 bytes")
	}
	r := store.Root{PublicKey: in.PublicKey, Name: in.Name, AddedAt: s.now()}
	if err := s.Registry.AddRoot(c.UserContext(), r); err != nil {
		return err
	}
	s.record(c, "root.added", map[string]any{"publicKey": r.PublicKey, "name": r.Name})
	return c.Status(201).JSON(r)
}

func (s *Server) deleteRoot(c *fiber.Ctx) error {
	key := c.Params("key")
	if err := s.Registry.RemoveRoot(c.UserContext(), key); err != nil {
		return storeErr(err, "root")
	}
	s.record(c, "root.removed", map[string]any{"publicKey": key})
	return c.SendStatus(204)
}

func (s *Server) listAPIKeys(c *fiber.Ctx) error {
	keys, err := s.Store.ListAPIKeys(c.UserContext())
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	return c.JSON(fiber.Map{"apiKeys": keys})
}

func (s *Server) createAPIKey(c *fiber.Ctx) error {
	var in struct {
		OperatorID string   `json:"operatorId"`
		Scopes     []string `json:"scopes"`
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if in.OperatorID == "" || len(in.OperatorID) > 128 {
		return apiErr(400, codes.MalformedRequest, "operatorId is required (≤ 128 bytes)")
	}
	if len(in.Scopes) == 0 {
		return apiErr(400, codes.MalformedRequest, "scopes must not be empty")
	}
	for _, sc := range in.Scopes {
		if !slices.Contains(Scopes, sc) {
			return apiErr(400, codes.MalformedRequest, "unknown scope "+sc)
		}
	}
	k, secret, err := NewAPIKey(in.OperatorID, in.Scopes)
	if err != nil {
		return err
	}
	k.CreatedAt = s.now()
	if err := s.Store.PutAPIKey(c.UserContext(), k); err != nil {
		return storeErr(err, "API key")
	}
	s.record(c, "apikey.created", map[string]any{"id": k.ID, "operatorId": k.OperatorID, "scopes": k.Scopes})
	return c.Status(201).JSON(fiber.Map{"id": k.ID, "key": secret, "operatorId": k.OperatorID, "scopes": k.Scopes})
}

func (s *Server) deleteAPIKey(c *fiber.Ctx) error {
	id := c.Params("id")
	if err := s.Store.DeleteAPIKey(c.UserContext(), id); err != nil {
		return storeErr(err, "API key")
	}
	s.tripKeys.drop(id) // the trip endpoint's outage cache must not keep it
	s.endKeyStreams(id) // other replicas' streams end at their next key re-check
	s.record(c, "apikey.deleted", map[string]any{"id": id})
	return c.SendStatus(204)
}

func (s *Server) reloadPolicy(c *fiber.Ctx) error {
	p, err := s.ReloadPolicy(c.UserContext())
	if err != nil {
		return apiErr(422, codes.MalformedRequest, err.Error())
	}
	return c.JSON(fiber.Map{"policyHash": p.Hash()})
}

// record appends an operator event; a failure is logged.
func (s *Server) record(c *fiber.Ctx, typ string, payload map[string]any) {
	actor := "system"
	if o := operatorOf(c); o != nil {
		actor = "operator:" + o.OperatorID
	}
	if _, err := s.Ledger.Append(c.UserContext(), ledger.Event{EventType: typ, AgentID: actor, Payload: payload}); err != nil {
		s.Log.Error("ledger append", "eventType", typ, "err", err)
	}
}
