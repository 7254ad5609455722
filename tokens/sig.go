package tokens

import (
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// verifyOpts is the one Ed25519 verification rule of sintgate (see
// docs/tokens.md, "Signature rule"): curve25519-voi's default rule, that is
// RFC 8032 cofactored verification with canonical encodings of A, R and S
// required and small-order public keys rejected (strongly binding).
var verifyOpts = &voi.Options{Verify: voi.VerifyOptionsDefault}

// VerifySig reports whether sig is a valid Ed25519 signature of msg by the
// 32-byte public key pub, under sintgate's single verification rule. The
// gateway uses it for tokens, agent request signatures and attestations so
// that every component accepts exactly the same signatures. It never panics:
// malformed keys or signatures yield false.
func VerifySig(pub, msg, sig []byte) bool {
	if len(pub) != voi.PublicKeySize || len(sig) != voi.SignatureSize {
		return false
	}
	return sigImpl(pub, msg, sig)
}

// sigImpl is the implementation behind VerifySig; only the benchmarks swap
// it (to compare implementations inside a whole chain verification). It
// verifies with the precomputed (expanded) form of the key, kept for the
// keys seen recently: the same agents and issuers sign call after call, and
// the expanded form verifies about a quarter faster. The rule is the same
// (voi caches the decoding checks of A in the expanded key; the equivalence
// is tested against the plain verifier).
var sigImpl = func(pub, msg, sig []byte) bool {
	k := expandedKeys.get(pub)
	if k == nil {
		return false // A does not decode: the plain verifier refuses it too
	}
	return voi.VerifyExpandedWithOptions(k, msg, sig, verifyOpts)
}

// plainSig verifies without the expanded-key cache.
func plainSig(pub, msg, sig []byte) bool {
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, verifyOpts)
}

// maxExpandedKeys bounds the cache (about 1.5 KiB per key). When it is full
// it starts over: a flood of new keys costs each one expansion (cheaper than
// the decoding a plain verification does anyway), never memory.
const maxExpandedKeys = 4096

var expandedKeys = &keyCache{m: map[[32]byte]*voi.ExpandedPublicKey{}}

type keyCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*voi.ExpandedPublicKey
}

// get returns the expanded form of the 32-byte key pub, or nil when pub is
// not a point encoding.
func (c *keyCache) get(pub []byte) *voi.ExpandedPublicKey {
	var id [32]byte
	copy(id[:], pub)
	c.mu.RLock()
	k, ok := c.m[id]
	c.mu.RUnlock()
	if ok {
		return k
	}
	k, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		k = nil
	}
	c.mu.Lock()
	if len(c.m) >= maxExpandedKeys {
		clear(c.m)
	}
	c.m[id] = k
	c.mu.Unlock()
	return k
}
