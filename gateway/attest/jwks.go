package attest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on a JWKS document.
const (
	MaxJWKSLen  = 1 << 20
	MaxJWKSKeys = 256
)

// JWK is one RFC 7517 JSON Web Key of type OKP/Ed25519.
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // base64url of the 32-byte public key
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "EdDSA"
}

// JWKSet is an RFC 7517 JWK Set.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// EncodeJWKS returns the JWK Set of the public parts of keys, in order.
func EncodeJWKS(keys []Key) []byte {
	set := JWKSet{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		set.Keys = append(set.Keys, JWK{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Public),
			Kid: k.KID, Use: "sig", Alg: "EdDSA",
		})
	}
	out, err := json.Marshal(set)
	if err != nil { // cannot happen: only strings
		panic(err)
	}
	return out
}

// ParseJWKS parses a JWK Set and returns its Ed25519 signing keys (public
// parts only). Keys of other types (kty other than OKP, or crv other than
// Ed25519) are skipped as RFC 7517 §5 recommends; a key with use other than
// "sig" or alg other than "EdDSA" is skipped too. A malformed Ed25519 key, a
// duplicate kid, or a set without any usable key is an error.
func ParseJWKS(doc []byte) ([]Key, error) {
	if len(doc) > MaxJWKSLen {
		return nil, errors.New("attest: JWKS document too large")
	}
	var set struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("attest: JWKS: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`attest: JWKS: no "keys" array`)
	}
	if len(set.Keys) > MaxJWKSKeys {
		return nil, errors.New("attest: JWKS: too many keys")
	}
	var out []Key
	seen := map[string]bool{}
	for i, raw := range set.Keys {
		var j JWK
		for name, dst := range map[string]*string{"kty": &j.Kty, "crv": &j.Crv, "x": &j.X, "kid": &j.Kid, "use": &j.Use, "alg": &j.Alg} {
			if v, ok := raw[name]; ok {
				if err := json.Unmarshal(v, dst); err != nil {
					return nil, fmt.Errorf("attest: JWKS keys[%d].%s: %w", i, name, err)
				}
			}
		}
		if j.Kty != "OKP" || j.Crv != "Ed25519" {
			continue
		}
		if (j.Use != "" && j.Use != "sig") || (j.Alg != "" && j.Alg != "EdDSA") {
			continue
		}
		pub, err := base64.RawURLEncoding.Strict().DecodeString(j.X)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("attest: JWKS keys[%d]: x is not a base64url 32-byte key", i)
		}
		if j.Kid == "" {
			return nil, fmt.Errorf("attest: JWKS keys[%d]: empty kid", i)
		}
		if seen[j.Kid] {
			return nil, fmt.Errorf("attest: JWKS keys[%d]: duplicate kid %q", i, j.Kid)
		}
		seen[j.Kid] = true
		out = append(out, Key{KID: j.Kid, Public: ed25519.PublicKey(pub)})
	}
	if len(out) == 0 {
		return nil, errors.New("attest: JWKS: no Ed25519 signing key")
	}
	return out, nil
}

// NewVerifierFromJWKS returns a verifier trusting the Ed25519 keys of a JWK
// Set document (GET /.well-known/jwks.json).
func NewVerifierFromJWKS(doc []byte) (*Verifier, error) {
	keys, err := ParseJWKS(doc)
	if err != nil {
		return nil, err
	}
	return NewVerifier(keys...), nil
}
