package tokens

import (
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
// it (to compare implementations inside a whole chain verification).
var sigImpl = func(pub, msg, sig []byte) bool {
	return voi.VerifyWithOptions(voi.PublicKey(pub), msg, sig, verifyOpts)
}
