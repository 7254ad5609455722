package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/store"
)

// A trip never waits for, nor fails because of, the store (PROTOCOL.md §8).
// The trip endpoint asks the store for at most tripStoreTimeout
// (tripCachedTimeout when this replica already knows the requester), and
// stops waiting then even if the store's client does not; when it
// cannot answer, the requester's authority is checked against what this
// replica knows without it, and where even that cannot tell, the trip
// happens anyway (tripping is the safe direction) and is recorded with how
// its authority was checked (the journal's "authorization").
const tripStoreTimeout = 300 * time.Millisecond

// tripCachedTimeout is how long a trip waits for the store when this
// replica's cache or registry already knows the requester: the store is
// still the authority when it answers at once, but a store that does not
// answer (a black-holed network) delays the breaker by no more than this.
const tripCachedTimeout = 100 * time.Millisecond

// askBounded calls f with a context bounded by d and waits for it at most
// d (plus a little for f to observe the context), even when f does not
// honour its context (a client waiting on a server that does not answer);
// an answer that comes later is dropped.
func askBounded[T any](ctx context.Context, d time.Duration, f func(context.Context) (T, error)) (T, error) {
	type answer struct {
		v   T
		err error
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d)
	ch := make(chan answer, 1)
	go func() {
		defer cancel()
		v, err := f(ctx)
		ch <- answer{v, err}
	}()
	t := time.NewTimer(d + d/5)
	defer t.Stop()
	select {
	case a := <-ch:
		return a.v, a.err
	case <-t.C:
		var zero T
		return zero, context.DeadlineExceeded
	}
}

// tripReplayTimeout bounds a trip's replay check (a replayed trip can only
// trip again, so it is the first thing to give up).
const tripReplayTimeout = 100 * time.Millisecond

// Authorization notes recorded with a trip whose requester could not be
// checked against the store.
const (
	authKeyCached      = "api key checked against this replica's cache: store unavailable"
	authKeyUnverified  = "unverified: store unavailable and the api key unknown to this replica"
	authTokenRegistry  = "token registration checked against this replica's registry: store unavailable"
	authTokenUnchecked = "signature verified; token registration unverified: store unavailable"
	authReplayUnknown  = "; replay not checked: replay cache unavailable"
)

// tripKeyCache holds the API keys the trip endpoint can check without the
// store: all keys at start (WarmTripKeys) and every key the store returned
// to a trip since. A key the store says is gone, or that was deleted through
// this replica, is dropped and remembered as deleted, so that during an
// outage it is refused rather than tripping as unverified (what is known to
// be wrong is refused, docs/decisions.md 38). Deletions are operator acts, so
// the set of deleted ids stays small.
type tripKeyCache struct {
	mu   sync.RWMutex
	m    map[string]store.APIKey
	gone map[string]bool
}

func (k *tripKeyCache) get(id string) (store.APIKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	r, ok := k.m[id]
	return r, ok
}

// deleted reports whether id was dropped as gone.
func (k *tripKeyCache) deleted(id string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.gone[id]
}

func (k *tripKeyCache) put(r store.APIKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]store.APIKey{}
	}
	k.m[r.ID] = r
	delete(k.gone, r.ID)
}

func (k *tripKeyCache) drop(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, id)
	if k.gone == nil {
		k.gone = map[string]bool{}
	}
	k.gone[id] = true
}

// WarmTripKeys loads every API key into the trip endpoint's cache, so that
// an operator's trip is authenticated even while the store is down.
func (s *Server) WarmTripKeys(ctx context.Context) error {
	keys, err := s.Store.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		s.tripKeys.put(k)
	}
	return nil
}

// tripOperator authenticates an operator's trip (scope estop:trip) and
// returns its source and, when the store could not answer, how the key was
// checked. A malformed key, a key the store or the cache knows with another
// secret, or without the scope, is refused; a well-formed key that neither
// knows while the store is down trips, recorded as unverified.
func (s *Server) tripOperator(c *fiber.Ctx) (estop.Source, string, error) {
	o, auth, err := s.operatorWithoutStore(c, "estop:trip", true)
	if err != nil {
		return estop.Source{}, "", err
	}
	if o == nil {
		id, _, _ := ParseAPIKey(bearer(c))
		return estop.Source{ID: "apikey:" + id, Kind: estop.KindAPI}, auth, nil
	}
	return estop.Source{ID: "operator:" + o.OperatorID, Kind: estop.KindAPI}, auth, nil
}

// estopReader is the middleware of GET /v1/estop (scope read): checked like
// a trip's key, so that bridges keep seeing the e-stop state while the store
// is down; a key unknown to this replica is then refused (503).
func (s *Server) estopReader(c *fiber.Ctx) error {
	o, _, err := s.operatorWithoutStore(c, "read", false)
	if err != nil {
		return err
	}
	if o == nil {
		return apiErr(503, codes.InternalError, "the key store is unavailable and this key is not known to this replica")
	}
	return c.Next()
}

// operatorWithoutStore authenticates the caller's API key with scope,
// asking the store for at most tripStoreTimeout and the cache when the
// store cannot answer (auth says so). With unverifiedOK, a well-formed key
// that the cache does not know while the store is down yields a nil
// operator and no error.
func (s *Server) operatorWithoutStore(c *fiber.Ctx, scope string, unverifiedOK bool) (*Operator, string, error) {
	key := bearer(c)
	if key == "" {
		return nil, "", apiErr(401, codes.Unauthenticated, "an API key is required (Authorization: Bearer sk_…)")
	}
	id, secret, ok := ParseAPIKey(key)
	if !ok {
		return nil, "", apiErr(401, codes.Unauthenticated, "malformed API key")
	}
	wait := tripStoreTimeout
	if _, ok := s.tripKeys.get(id); ok {
		wait = tripCachedTimeout
	}
	rec, err := askBounded(c.UserContext(), wait, func(ctx context.Context) (store.APIKey, error) {
		return s.Store.GetAPIKey(ctx, id)
	})
	auth := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.tripKeys.drop(id)
		return nil, "", apiErr(401, codes.Unauthenticated, "unknown API key")
	case err == nil:
		s.tripKeys.put(rec)
	default:
		s.Log.Warn("e-stop: API key store unavailable; checking the key without it", "keyId", id, "err", err)
		if s.tripKeys.deleted(id) {
			return nil, "", apiErr(401, codes.Unauthenticated, "unknown API key")
		}
		cached, ok := s.tripKeys.get(id)
		if !ok {
			if unverifiedOK {
				return nil, authKeyUnverified, nil
			}
			return nil, "", nil
		}
		rec, auth = cached, authKeyCached
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], rec.SecretHash) != 1 {
		return nil, "", apiErr(401, codes.Unauthenticated, "unknown API key")
	}
	o := &Operator{KeyID: rec.ID, OperatorID: rec.OperatorID, Scopes: rec.Scopes}
	if !o.Has(scope) {
		return nil, "", apiErr(403, codes.Forbidden, "the API key lacks scope "+scope)
	}
	c.Locals(operatorLocal, o)
	return o, auth, nil
}

// tripAgentAuthority checks that an agent whose signature verified holds a
// registered, unrevoked token. The store answers when it can; otherwise this
// replica's registry does (an agent it knows only with revoked tokens is
// refused), and an agent it does not know trips, recorded as unverified.
func (s *Server) tripAgentAuthority(c *fiber.Ctx, agent string) (string, error) {
	known, holds := s.Registry.HoldsToken(agent)
	wait := tripStoreTimeout
	if holds {
		wait = tripCachedTimeout
	}
	recs, err := askBounded(c.UserContext(), wait, func(ctx context.Context) ([]store.TokenRecord, error) {
		return s.Store.ListTokens(ctx, store.TokenFilter{Subject: agent})
	})
	if err == nil {
		for _, r := range recs {
			if r.RevokedAt == nil && !s.Registry.IsRevoked(r.TokenID) {
				return "", nil
			}
		}
		return "", apiErr(403, codes.Forbidden, errNoToken.Error())
	}
	s.Log.Warn("e-stop trip: token store unavailable; checking the agent without it", "agentId", agent, "err", err)
	switch {
	case holds:
		return authTokenRegistry, nil
	case known:
		return "", apiErr(403, codes.Forbidden, errNoToken.Error())
	}
	return authTokenUnchecked, nil
}
