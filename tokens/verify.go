package tokens

import (
	"container/list"
	"sync"

	"github.com/sintgate/sintgate/codes"
)

// Roots is the trusted-root registry (PROTOCOL.md §3.1 step 3).
type Roots interface {
	IsTrustedRoot(pubHex string) bool
}

// Revocations answers whether a token (or, for a cascading implementation
// such as RevocationSet, any of its ancestors) is revoked.
type Revocations interface {
	IsRevoked(tokenID string) bool
}

// Lookup finds registered tokens by id, returning their exact bytes.
type Lookup interface {
	TokenByID(id string) (raw string, ok bool)
}

// RootSet is a fixed Roots: a set of trusted root public keys (64 hex).
type RootSet map[string]bool

// IsTrustedRoot implements Roots.
func (r RootSet) IsTrustedRoot(pubHex string) bool { return r[pubHex] }

// MapLookup is a Lookup over a map from tokenId to compact JWS.
type MapLookup map[string]string

// TokenByID implements Lookup.
func (m MapLookup) TokenByID(id string) (string, bool) { raw, ok := m[id]; return raw, ok }

// maxChainWalk bounds how many tokens VerifyChain collects (leaf included);
// a longer ancestry is DELEGATION_DEPTH_EXCEEDED without further lookups.
const maxChainWalk = 8

// Verifier verifies tokens and chains (PROTOCOL.md §3.1). It keeps a bounded
// LRU cache of parsed, signature-verified tokens keyed by sha256 of their
// exact bytes, so a repeated token costs neither an Ed25519 verification nor
// a JSON parse. Only steps 1–2 (and the pure attenuation result of a given
// parent/child byte pair) are cached: issuer, chain, depth, time and
// revocation checks run on every call. A Verifier is safe for concurrent use.
type Verifier struct {
	// AllowNonRevocableRoots lets root tokens carry "revocable": false
	// (a policy choice, PROTOCOL.md §3). When false such a root is denied
	// CONSTRAINT_VIOLATION. Set it before first use.
	AllowNonRevocableRoots bool

	mu    sync.Mutex
	size  int
	m     map[string]*list.Element // by the token's exact bytes (no hashing per lookup)
	lru   *list.List               // of *cacheEntry, most recent first
	stats CacheStats
}

// CacheStats counts cache hits and misses of ParseVerified and VerifyChain.
type CacheStats struct{ Hits, Misses, Evictions uint64 }

type cacheEntry struct {
	tok       *Token
	attParent [32]byte // hash of the parent this token's attenuation passed against
	attOK     bool
}

// NewVerifier returns a Verifier caching up to cacheSize verified tokens
// (0 disables the cache).
func NewVerifier(cacheSize int) *Verifier {
	if cacheSize < 0 {
		cacheSize = 0
	}
	return &Verifier{size: cacheSize, m: make(map[string]*list.Element), lru: list.New()}
}

// Stats returns the cache counters.
func (v *Verifier) Stats() CacheStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stats
}

func (v *Verifier) get(raw string) *cacheEntry {
	if v.size == 0 {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[raw]; ok {
		v.lru.MoveToFront(e)
		v.stats.Hits++
		return e.Value.(*cacheEntry)
	}
	v.stats.Misses++
	return nil
}

func (v *Verifier) put(t *Token) {
	if v.size == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.m[t.Raw]; ok {
		return
	}
	v.m[t.Raw] = v.lru.PushFront(&cacheEntry{tok: t})
	for v.lru.Len() > v.size {
		old := v.lru.Back()
		v.lru.Remove(old)
		delete(v.m, old.Value.(*cacheEntry).tok.Raw)
		v.stats.Evictions++
	}
}

func (v *Verifier) attenuationCached(child, parent *Token) bool {
	if v.size == 0 {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[child.Raw]; ok {
		ce := e.Value.(*cacheEntry)
		return ce.attOK && ce.attParent == parent.hash
	}
	return false
}

func (v *Verifier) rememberAttenuation(child, parent *Token) {
	if v.size == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.m[child.Raw]; ok {
		ce := e.Value.(*cacheEntry)
		ce.attParent, ce.attOK = parent.hash, true
	}
}

// parse returns the token and whether its signature is already verified (a
// cache hit), without checking the signature otherwise.
func (v *Verifier) parse(raw string) (*Token, bool, error) {
	if len(raw) > MaxTokenBytes {
		return nil, false, malformed("token longer than %d bytes", MaxTokenBytes)
	}
	if e := v.get(raw); e != nil {
		return e.tok, true, nil
	}
	t, err := Parse(raw)
	return t, false, err
}

// ParseVerified parses raw and checks its signature by its issuer
// (PROTOCOL.md §3.1 steps 1–2), using the cache. Errors are *codes.Error
// with MALFORMED_TOKEN or INVALID_SIGNATURE.
func (v *Verifier) ParseVerified(raw string) (*Token, error) {
	t, ok, err := v.parse(raw)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := t.VerifySignature(); err != nil {
			return nil, err
		}
		v.put(t)
	}
	return t, nil
}

type chainLink struct {
	tok      *Token
	verified bool
}

// VerifyChain runs §3.1 for leaf and all its ancestors (root first) at time
// nowMs and returns the chain root-first, leaf last. Ancestors come from
// inline (JWS strings, root first, parent last; may be nil) or else from
// lookup by parentTokenId: the parent of the leaf is the last inline entry,
// the parent of inline[i] is inline[i-1], and the parent of inline[0] (when
// it has one) is looked up. registration=true skips the not-yet-valid check
// (for every link). roots, rev and lookup may be nil (no trusted roots,
// nothing revoked, nothing registered). The first failure, in root-first
// link order and step order within a link, is returned as a *codes.Error.
func (v *Verifier) VerifyChain(nowMs int64, leaf string, inline []string, roots Roots, rev Revocations,
	lookup Lookup, registration bool) ([]*Token, error) {
	t, ok, err := v.parse(leaf)
	if err != nil {
		return nil, err
	}
	links := []chainLink{{t, ok}} // leaf first while collecting
	parentMissing := false
	for cur := t; cur.Claims.ParentTokenID != nil; {
		if len(links) >= maxChainWalk {
			return nil, codes.New(codes.DelegationDepthExceeded, "delegation chain deeper than 3")
		}
		var raw string
		found := false
		if len(inline) > 0 {
			raw, inline, found = inline[len(inline)-1], inline[:len(inline)-1], true
		} else if lookup != nil {
			raw, found = lookup.TokenByID(*cur.Claims.ParentTokenID)
		}
		if !found {
			parentMissing = true
			break
		}
		p, ok, err := v.parse(raw)
		if err != nil {
			return nil, err
		}
		links = append(links, chainLink{p, ok})
		cur = p
	}
	if len(inline) > 0 {
		return nil, codes.New(codes.InvalidChain, "inline chain has entries above the root")
	}
	// Root first.
	for i, j := 0, len(links)-1; i < j; i, j = i+1, j-1 {
		links[i], links[j] = links[j], links[i]
	}
	out := make([]*Token, len(links))
	for i, l := range links {
		var parent *Token
		if i > 0 {
			parent = links[i-1].tok
		}
		if err := v.verifyLink(nowMs, l, parent, i == 0 && parentMissing, roots, rev, registration); err != nil {
			return nil, err
		}
		out[i] = l.tok
	}
	return out, nil
}

// verifyLink runs steps 2–7 of §3.1 for one link (step 1 is done).
func (v *Verifier) verifyLink(nowMs int64, l chainLink, parent *Token, parentMissing bool, roots Roots,
	rev Revocations, registration bool) error {
	t := l.tok
	c := &t.Claims
	// 2. signature
	if !l.verified {
		if err := t.VerifySignature(); err != nil {
			return err
		}
		v.put(t)
	}
	// 3. issuer / parent / chain consistency
	chain := c.DelegationChain
	if chain[len(chain)-1] != c.Issuer {
		return codes.New(codes.InvalidChain, "delegationChain does not end with the issuer")
	}
	if c.ParentTokenID == nil {
		if len(chain) != 1 {
			return codes.New(codes.InvalidChain, "a token without parentTokenId must have depth 0")
		}
		if roots == nil || !roots.IsTrustedRoot(c.Issuer) {
			return codes.New(codes.UnknownIssuer, "root token issuer is not a trusted root")
		}
	} else {
		if len(chain) < 2 {
			return codes.New(codes.InvalidChain, "a token with parentTokenId must have depth ≥ 1")
		}
		if parentMissing || parent == nil {
			return codes.New(codes.TokenNotFound, "parent token "+*c.ParentTokenID+" not found")
		}
		pc := &parent.Claims
		if pc.TokenID != *c.ParentTokenID {
			return codes.New(codes.InvalidChain, "parent token id does not match parentTokenId")
		}
		if c.Issuer != pc.Subject {
			return codes.New(codes.InvalidChain, "issuer is not the parent's subject")
		}
		if len(chain) != len(pc.DelegationChain)+1 {
			return codes.New(codes.InvalidChain, "delegationChain is not the parent's chain plus the issuer")
		}
		for k, key := range pc.DelegationChain {
			if chain[k] != key {
				return codes.New(codes.InvalidChain, "delegationChain is not the parent's chain plus the issuer")
			}
		}
	}
	// 4. depth
	if len(chain)-1 > MaxDelegationDepth {
		return codes.New(codes.DelegationDepthExceeded, "delegation depth exceeds 3")
	}
	// 5. time
	if nowMs >= c.ExpiresAt {
		return codes.New(codes.TokenExpired, "token expired")
	}
	if !registration {
		if nowMs < c.IssuedAt-ClockSkewMs || c.NotBefore != nil && nowMs < *c.NotBefore {
			return codes.New(codes.TokenNotYetValid, "token not yet valid")
		}
	}
	// 6. revocation
	if rev != nil && rev.IsRevoked(c.TokenID) {
		return codes.New(codes.TokenRevoked, "token revoked")
	}
	// 7. attenuation
	if parent == nil {
		if !c.Revocable && !v.AllowNonRevocableRoots {
			return codes.New(codes.ConstraintViolation, "non-revocable root tokens are not allowed")
		}
		return nil
	}
	if v.attenuationCached(t, parent) {
		return nil
	}
	if err := CheckAttenuation(&parent.Claims, c); err != nil {
		return err
	}
	v.rememberAttenuation(t, parent)
	return nil
}
