package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// Registry keeps the trusted roots, registered tokens and revocations in
// memory for the decision core (tokens.Roots, tokens.Lookup,
// tokens.Revocations), writing through to the store first so that what the
// core sees is always durable. Safe for concurrent use.
type Registry struct {
	st store.Store

	mu     sync.RWMutex
	roots  map[string]store.Root
	tokens map[string]string // tokenId → raw JWS
	rev    *tokens.RevocationSet
}

// LoadRegistry reads roots, tokens and revocations from st.
func LoadRegistry(ctx context.Context, st store.Store) (*Registry, error) {
	r := &Registry{st: st, roots: map[string]store.Root{}, tokens: map[string]string{}, rev: tokens.NewRevocationSet()}
	roots, err := st.ListRoots(ctx)
	if err != nil {
		return nil, fmt.Errorf("load roots: %w", err)
	}
	for _, x := range roots {
		r.roots[x.PublicKey] = x
	}
	toks, err := st.ListTokens(ctx, store.TokenFilter{})
	if err != nil {
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	for _, t := range toks {
		r.tokens[t.TokenID] = t.Raw
		r.rev.Register(t.TokenID, t.ParentTokenID)
	}
	for _, t := range toks {
		if t.RevokedAt != nil {
			r.rev.Revoke(t.TokenID)
		}
	}
	// Every revoked id, including those never registered (tokens only
	// presented inline): their chains must stay denied after a restart.
	revoked, err := st.RevokedTokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("load revocations: %w", err)
	}
	for _, id := range revoked {
		r.rev.Revoke(id)
	}
	return r, nil
}

// IsTrustedRoot implements tokens.Roots.
func (r *Registry) IsTrustedRoot(pub string) bool {
	r.mu.RLock()
	_, ok := r.roots[pub]
	r.mu.RUnlock()
	return ok
}

// TokenByID implements tokens.Lookup.
func (r *Registry) TokenByID(id string) (string, bool) {
	r.mu.RLock()
	raw, ok := r.tokens[id]
	r.mu.RUnlock()
	return raw, ok
}

// IsRevoked implements tokens.Revocations.
func (r *Registry) IsRevoked(id string) bool { return r.rev.IsRevoked(id) }

// Roots lists the trusted roots.
func (r *Registry) Roots() []store.Root {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]store.Root, 0, len(r.roots))
	for _, x := range r.roots {
		out = append(out, x)
	}
	return out
}

// AddRoot trusts a root key.
func (r *Registry) AddRoot(ctx context.Context, root store.Root) error {
	if err := r.st.PutRoot(ctx, root); err != nil {
		return err
	}
	r.mu.Lock()
	r.roots[root.PublicKey] = root
	r.mu.Unlock()
	return nil
}

// RemoveRoot stops trusting a root key.
func (r *Registry) RemoveRoot(ctx context.Context, pub string) error {
	if err := r.st.DeleteRoot(ctx, pub); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.roots, pub)
	r.mu.Unlock()
	return nil
}

// AddToken registers a verified token.
func (r *Registry) AddToken(ctx context.Context, t *tokens.Token, now time.Time) error {
	rec := store.TokenRecord{TokenID: t.Claims.TokenID, Raw: t.Raw, Issuer: t.Claims.Issuer, Subject: t.Claims.Subject, RegisteredAt: now}
	if t.Claims.ParentTokenID != nil {
		rec.ParentTokenID = *t.Claims.ParentTokenID
	}
	if err := r.st.PutToken(ctx, rec); err != nil {
		return err
	}
	r.mu.Lock()
	r.tokens[rec.TokenID] = rec.Raw
	r.mu.Unlock()
	r.rev.Register(rec.TokenID, rec.ParentTokenID)
	return nil
}

// Revoke revokes id and its descendants, durably first, and returns the ids
// newly revoked. id need not be registered: the revocation of a token only
// ever presented inline is recorded all the same, and every chain holding it
// (checked link by link) is denied from then on.
func (r *Registry) Revoke(ctx context.Context, id string, now time.Time) ([]string, error) {
	id = strings.Clone(id) // kept as a map key: never alias a request buffer
	ids, err := r.st.RevokeToken(ctx, id, now)
	if err != nil {
		return nil, err
	}
	r.rev.Revoke(id)
	for _, x := range ids {
		r.rev.Revoke(x)
	}
	return ids, nil
}

// ApplyRevocations marks ids revoked in memory (used when another replica
// revoked them).
func (r *Registry) ApplyRevocations(ids []string) {
	for _, x := range ids {
		r.rev.Revoke(x)
	}
}
