package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/store"
)

// Operator scopes (PROTOCOL.md §4).
var Scopes = []string{"read", "tokens:write", "approve", "estop:trip", "estop:reset", "agents:write", "economy:write", "admin"}

// Operator is the authenticated caller of an operator endpoint.
type Operator struct {
	KeyID      string
	OperatorID string
	Scopes     []string
	secretHash []byte // of the key that authenticated, re-checked by streams
}

// Has reports whether the operator holds scope (admin implies all).
func (o *Operator) Has(scope string) bool {
	return slices.Contains(o.Scopes, "admin") || slices.Contains(o.Scopes, scope)
}

const operatorLocal = "sint.operator"

// NewAPIKey returns a fresh key record and the secret string shown once.
func NewAPIKey(operatorID string, scopes []string) (store.APIKey, string, error) {
	var id [8]byte
	var secret [32]byte
	if _, err := rand.Read(id[:]); err != nil {
		return store.APIKey{}, "", err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return store.APIKey{}, "", err
	}
	idHex, secHex := hex.EncodeToString(id[:]), hex.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(secHex))
	return store.APIKey{ID: idHex, SecretHash: sum[:], OperatorID: operatorID, Scopes: scopes}, "sk_" + idHex + "_" + secHex, nil
}

// ParseAPIKey splits "sk_<keyId>_<secret>".
func ParseAPIKey(k string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(k, "sk_")
	if !found {
		return "", "", false
	}
	id, secret, found = strings.Cut(rest, "_")
	if !found || id == "" || secret == "" || len(id) > 64 || len(secret) > 256 {
		return "", "", false
	}
	return id, secret, true
}

// authenticateKey checks an API key string against the store.
func (s *Server) authenticateKey(c *fiber.Ctx, key string) (*Operator, error) {
	id, secret, ok := ParseAPIKey(key)
	if !ok {
		return nil, apiErr(401, codes.Unauthenticated, "malformed API key")
	}
	rec, err := s.Store.GetAPIKey(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, apiErr(401, codes.Unauthenticated, "unknown API key")
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], rec.SecretHash) != 1 {
		return nil, apiErr(401, codes.Unauthenticated, "unknown API key")
	}
	return &Operator{KeyID: rec.ID, OperatorID: rec.OperatorID, Scopes: rec.Scopes, secretHash: rec.SecretHash}, nil
}

// bearer extracts the API key from the Authorization header, or from the
// bearer.<key> WebSocket subprotocol offered by browsers.
func bearer(c *fiber.Ctx) string {
	if h := c.Get("Authorization"); h != "" {
		if k, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
		return ""
	}
	for _, p := range strings.Split(c.Get("Sec-WebSocket-Protocol"), ",") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(p), "bearer."); ok {
			return k
		}
	}
	return ""
}

// wsOffersSubprotocol reports whether a WebSocket upgrade offers what
// PROTOCOL.md §4 asks: a client that cannot set headers (a browser) sends
// its key as the bearer.<key> subprotocol and must offer sint.v1 with it,
// which the server selects (it never echoes the key); a client that sends
// Authorization need not offer any subprotocol. (A client with no key at
// all passes here and is answered 401 by the key check.)
func wsOffersSubprotocol(c *fiber.Ctx) bool {
	if c.Get("Authorization") != "" {
		return true
	}
	keyInProtocol := false
	for _, p := range strings.Split(c.Get("Sec-WebSocket-Protocol"), ",") {
		switch p = strings.TrimSpace(p); {
		case p == Subprotocol:
			return true
		case strings.HasPrefix(p, "bearer."):
			keyInProtocol = true
		}
	}
	return !keyInProtocol
}

// op is middleware requiring an API key with scope.
func (s *Server) op(scope string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if _, err := s.requireOp(c, scope); err != nil {
			return err
		}
		return c.Next()
	}
}

// requireOp authenticates the caller's API key and checks scope.
func (s *Server) requireOp(c *fiber.Ctx, scope string) (*Operator, error) {
	key := bearer(c)
	if key == "" {
		return nil, apiErr(401, codes.Unauthenticated, "an API key is required (Authorization: Bearer sk_…)")
	}
	o, err := s.authenticateKey(c, key)
	if err != nil {
		return nil, err
	}
	if !o.Has(scope) {
		return nil, apiErr(403, codes.Forbidden, "the API key lacks scope "+scope)
	}
	c.Locals(operatorLocal, o)
	return o, nil
}

func operatorOf(c *fiber.Ctx) *Operator {
	o, _ := c.Locals(operatorLocal).(*Operator)
	return o
}
