// Package tokentest provides deterministic keys, ids and claim builders for
// tests of code that handles capability tokens (package tokens). Nothing here
// is random: the same names give the same keys, the same numbers the same ids,
// so signed tokens are byte-for-byte reproducible.
package tokentest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"

	"github.com/sintgate/sintgate/tokens"
)

// Seed returns the 32-byte Ed25519 seed of the named test key:
// sha256("sintgate-test-key:" + name).
func Seed(name string) []byte {
	s := sha256.Sum256([]byte("sintgate-test-key:" + name))
	return s[:]
}

// keys memoizes derived keys: load tests sign thousands of requests per
// second with a handful of names, and deriving costs a scalar multiplication.
var keys sync.Map // name → ed25519.PrivateKey

// Key returns the named test private key (a fresh copy each call).
func Key(name string) ed25519.PrivateKey {
	if k, ok := keys.Load(name); ok {
		return slices.Clone(k.(ed25519.PrivateKey))
	}
	k := ed25519.NewKeyFromSeed(Seed(name))
	keys.Store(name, slices.Clone(k))
	return k
}

// Pub returns the named test key's public key as 64 lowercase hex (its agentId).
func Pub(name string) string { return hex.EncodeToString(Key(name).Public().(ed25519.PublicKey)) }

// TokenID returns a deterministic UUIDv7 numbered n.
func TokenID(n int) string { return fmt.Sprintf("01900000-0000-7000-8000-%012x", n) }

// Nonce returns a deterministic UUIDv4 numbered n.
func Nonce(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

// Hour and Day in milliseconds.
const (
	Hour = int64(3600 * 1000)
	Day  = 24 * Hour
)

// Root returns valid root claims issued by the named issuer key for the named
// subject key, numbered n (tokenId and nonce), valid from nowMs for 24 h:
// resource "ros:///**", actions publish and subscribe, tier 3, revocable.
func Root(issuer, subject string, n int, nowMs int64) tokens.Claims {
	return tokens.Claims{
		TokenID:         TokenID(n),
		Issuer:          Pub(issuer),
		Subject:         Pub(subject),
		Resource:        "ros:///**",
		Actions:         []string{"publish", "subscribe"},
		Tier:            3,
		IssuedAt:        nowMs,
		ExpiresAt:       nowMs + Day,
		DelegationChain: []string{Pub(issuer)},
		Nonce:           Nonce(n),
		Revocable:       true,
	}
}

// Child returns claims delegating parent to the named subject key, numbered
// n: same resource, actions, tier, constraints and expiry as the parent (the
// widest valid child), issued by the parent's subject.
func Child(parent *tokens.Token, subject string, n int) tokens.Claims {
	p := parent.Claims
	pid := p.TokenID
	c := p
	c.TokenID = TokenID(n)
	c.Nonce = Nonce(n)
	c.Issuer = p.Subject
	c.Subject = Pub(subject)
	c.ParentTokenID = &pid
	c.DelegationChain = append(append([]string(nil), p.DelegationChain...), p.Subject)
	c.Actions = append([]string(nil), p.Actions...)
	c.Revocable = true
	return c
}

// Sign signs c with the named key and panics on error (test setup only).
func Sign(key string, c tokens.Claims) *tokens.Token {
	t, err := tokens.Sign(Key(key), c)
	if err != nil {
		panic(err)
	}
	return t
}
