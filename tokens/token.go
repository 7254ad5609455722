package tokens

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/sintgate/sintgate/codes"
)

// Header values of a capability token (PROTOCOL.md §3).
const (
	HeaderAlg = "EdDSA"
	HeaderTyp = "sint-cap+jwt"
)

// signedHeader is the header Sign emits, byte for byte.
const signedHeader = `{"alg":"EdDSA","typ":"sint-cap+jwt"}`

var b64 = base64.RawURLEncoding.Strict()

// Token is a parsed capability token. Raw holds the compact JWS exactly as
// received; it is what is stored and forwarded, never a re-serialisation.
// A *Token returned by this package is shared (it may sit in a Verifier's
// cache): callers must not modify it.
type Token struct {
	Raw    string
	Claims Claims

	signingInput string // Raw up to the last '.'
	sig          []byte
	hash         [32]byte // sha256(Raw)
	issuerKey    []byte
}

// Depth is the delegation depth: len(delegationChain) - 1 (0 for a root token).
func (t *Token) Depth() int { return t.Claims.Depth() }

// Hash is sha256 of the token's exact bytes.
func (t *Token) Hash() [32]byte { return t.hash }

// HashHex is the lowercase hex of Hash.
func (t *Token) HashHex() string { return hex.EncodeToString(t.hash[:]) }

// Allows reports whether the token's resource pattern matches resource and
// action is one of its actions. It checks scope only, not validity.
func (t *Token) Allows(resource, action string) bool {
	if !Match(t.Claims.Resource, resource) {
		return false
	}
	for _, a := range t.Claims.Actions {
		if a == action {
			return true
		}
	}
	return false
}

type header struct {
	Alg string  `json:"alg"`
	Typ string  `json:"typ"`
	Kid *string `json:"kid"`
}

// Parse decodes a compact JWS capability token and checks its header and
// payload schema (PROTOCOL.md §3.1 step 1). It does not check the signature
// (see Verifier.ParseVerified and VerifySignature). Size and depth limits are
// checked before any JSON is decoded. Every failure is a *codes.Error with
// code MALFORMED_TOKEN.
func Parse(raw string) (*Token, error) {
	if len(raw) > MaxTokenBytes {
		return nil, malformed("token longer than %d bytes", MaxTokenBytes)
	}
	d1 := strings.IndexByte(raw, '.')
	d2 := strings.LastIndexByte(raw, '.')
	if d1 < 0 || d1 == d2 || strings.IndexByte(raw[d1+1:d2], '.') >= 0 {
		return nil, malformed("not a compact JWS (three base64url parts)")
	}
	hb, err := b64.DecodeString(raw[:d1])
	if err != nil {
		return nil, malformed("header is not base64url without padding")
	}
	pb, err := b64.DecodeString(raw[d1+1 : d2])
	if err != nil {
		return nil, malformed("payload is not base64url without padding")
	}
	sig, err := b64.DecodeString(raw[d2+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, malformed("signature is not 64 bytes of base64url")
	}
	if !utf8.Valid(hb) || !utf8.Valid(pb) {
		return nil, malformed("header or payload is not UTF-8")
	}
	if err := scanJSON(hb, headerSchema); err != nil {
		return nil, malformed("header: %v", err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, malformed("header is not valid JSON")
	}
	if h.Alg != HeaderAlg || h.Typ != HeaderTyp {
		return nil, malformed(`header must be {"alg":"EdDSA","typ":"sint-cap+jwt"}`)
	}
	if err := scanJSON(pb, payloadSchema); err != nil {
		return nil, malformed("payload: %v", err)
	}
	t := &Token{Raw: raw, signingInput: raw[:d2], sig: sig, hash: sha256.Sum256([]byte(raw))}
	if err := json.Unmarshal(pb, &t.Claims); err != nil {
		// The scan has checked every member's form; what is left is a value
		// out of its Go type's range (an integer beyond 64 bits).
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, codes.Wrap(codes.MalformedToken, fmt.Sprintf("payload: %s: expected %s, got %s", te.Field, goForm(te.Type), te.Value), err)
		}
		return nil, codes.Wrap(codes.MalformedToken, "payload does not match the token schema", err)
	}
	if err := t.Claims.validate(); err != nil {
		return nil, err
	}
	if h.Kid != nil && *h.Kid != t.Claims.Issuer {
		return nil, malformed("header kid must equal the issuer")
	}
	t.issuerKey, _ = decodeHexKey(t.Claims.Issuer)
	return t, nil
}

// checkSignature reports whether t carries a valid signature by its issuer.
func (t *Token) checkSignature() bool {
	return VerifySig(t.issuerKey, []byte(t.signingInput), t.sig)
}

// VerifySignature checks the token's Ed25519 signature by its issuer
// (PROTOCOL.md §3.1 step 2), returning INVALID_SIGNATURE on failure.
func (t *Token) VerifySignature() error {
	if !t.checkSignature() {
		return codes.New(codes.InvalidSignature, "token signature does not verify for its issuer")
	}
	return nil
}

// Sign validates c (every schema rule Parse checks) and returns the token
// signed by priv, whose public key must be c.Issuer. The header is
// {"alg":"EdDSA","typ":"sint-cap+jwt"}. Errors are *codes.Error with code
// MALFORMED_TOKEN.
func Sign(priv ed25519.PrivateKey, c Claims) (*Token, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, malformed("private key must be %d bytes", ed25519.PrivateKeySize)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	pub := priv.Public().(ed25519.PublicKey)
	if hex.EncodeToString(pub) != c.Issuer {
		return nil, malformed("issuer is not the signing key's public key")
	}
	pb, err := json.Marshal(&c)
	if err != nil {
		return nil, codes.Wrap(codes.MalformedToken, "claims do not encode", err)
	}
	input := b64.EncodeToString([]byte(signedHeader)) + "." + b64.EncodeToString(pb)
	sig := ed25519.Sign(priv, []byte(input))
	raw := input + "." + b64.EncodeToString(sig)
	// Parse what we produced: the output must be acceptable to every verifier.
	return Parse(raw)
}

// goForm describes the JSON form a Go type decodes from, for error messages.
func goForm(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("an integer within %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return goForm(t.Elem()) + " or null"
	}
	return "a " + t.Kind().String()
}
