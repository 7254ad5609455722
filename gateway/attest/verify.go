package attest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
)

// Limits on untrusted input.
const (
	// MaxAttestationLen bounds an attestation (a geofence of 256 vertices in
	// the envelope fits comfortably).
	MaxAttestationLen = 32 << 10
	// DefaultSkew is the clock skew allowed between the gateway and a
	// verifier, on both iat (not in the future by more) and exp (accepted
	// until exp + skew).
	DefaultSkew = 5 * time.Second
)

// Reason is a stable, fine-grained verification failure reason. It travels
// as the cause of the *codes.Error that Verify returns.
type Reason string

// Verification failure reasons. They are never renamed.
const (
	ReasonMalformed       Reason = "ATTESTATION_MALFORMED"        // not a compact JWS, bad base64/JSON, missing or unknown claims
	ReasonHeader          Reason = "ATTESTATION_BAD_HEADER"       // alg is not EdDSA, typ is not sint-attest+jwt, or members other than alg/typ/kid
	ReasonUnknownKey      Reason = "ATTESTATION_UNKNOWN_KID"      // kid not in the key set
	ReasonSignature       Reason = "ATTESTATION_BAD_SIGNATURE"    // Ed25519 verification failed
	ReasonIssuer          Reason = "ATTESTATION_WRONG_ISSUER"     // iss is not the expected gateway
	ReasonLifetime        Reason = "ATTESTATION_BAD_LIFETIME"     // exp ≤ iat or exp > iat + 60
	ReasonNotYetValid     Reason = "ATTESTATION_NOT_YET_VALID"    // iat > now + skew
	ReasonExpired         Reason = "ATTESTATION_EXPIRED"          // now ≥ exp + skew
	ReasonMismatch        Reason = "ATTESTATION_MISMATCH"         // sub/aud/act/paramsHash differ from the command at hand
	ReasonNoExpectation   Reason = "ATTESTATION_NO_EXPECTATION"   // the caller did not say what it is about to do
	ReasonKeysUnavailable Reason = "ATTESTATION_KEYS_UNAVAILABLE" // the JWKS could not be fetched (JWKSCache)
)

// Code returns the wire code a reason maps to.
func (r Reason) Code() codes.Code {
	switch r {
	case ReasonMalformed, ReasonHeader, ReasonLifetime:
		return codes.MalformedToken
	case ReasonUnknownKey, ReasonIssuer:
		return codes.UnknownIssuer
	case ReasonSignature:
		return codes.InvalidSignature
	case ReasonNotYetValid:
		return codes.TokenNotYetValid
	case ReasonExpired:
		return codes.TokenExpired
	case ReasonMismatch:
		return codes.InsufficientPermissions
	}
	return codes.InternalError
}

// VerifyError is the cause of a verification failure: a stable Reason and,
// for ReasonMismatch, the claim that differed.
type VerifyError struct {
	Reason Reason
	Claim  string // the offending claim or header member, if any
	Detail string
}

func (e *VerifyError) Error() string {
	s := "attest: " + string(e.Reason)
	if e.Claim != "" {
		s += " (" + e.Claim + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func verifyErr(r Reason, claim, detail string) error {
	ve := &VerifyError{Reason: r, Claim: claim, Detail: detail}
	msg := "attestation rejected: " + string(r)
	if claim != "" {
		msg += " (" + claim + ")"
	}
	return &codes.Error{Code: r.Code(), Message: msg, Cause: ve}
}

// ReasonOf returns the Reason carried by err, or "" if it carries none.
func ReasonOf(err error) Reason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

// Expect is what the verifier is about to do; the attestation must say
// exactly that. AgentID, Resource, Action and ParamsHash are required (an
// empty one fails with ReasonNoExpectation: the verifier fails closed).
// Issuer is optional but recommended: the gateway id the verifier trusts.
type Expect struct {
	Issuer     string
	AgentID    string
	Resource   string
	Action     string
	ParamsHash string
}

// Verifier checks attestations against a fixed set of public keys. It is
// immutable and safe for concurrent use.
type Verifier struct {
	keys map[string]ed25519.PublicKey
	skew time.Duration
}

// NewVerifier returns a verifier that trusts the public parts of keys.
func NewVerifier(keys ...Key) *Verifier {
	v := &Verifier{keys: make(map[string]ed25519.PublicKey, len(keys)), skew: DefaultSkew}
	for _, k := range keys {
		v.keys[k.KID] = k.Public
	}
	return v
}

// WithSkew returns a copy of v allowing clock skew d (≥ 0) instead of
// DefaultSkew.
func (v *Verifier) WithSkew(d time.Duration) *Verifier {
	if d < 0 {
		d = 0
	}
	c := *v
	c.skew = d
	return &c
}

// KIDs returns the key ids the verifier knows, in no particular order.
func (v *Verifier) KIDs() []string {
	out := make([]string, 0, len(v.keys))
	for k := range v.keys {
		out = append(out, k)
	}
	return out
}

// attHeader is the JWS protected header of an attestation.
type attHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

// Verify checks an attestation, in this order (the first failure wins):
// size and compact-JWS form; header (exactly alg EdDSA, typ
// sint-attest+jwt, kid); kid known; Ed25519 signature; claims schema
// (unknown or missing claims rejected); iss (if want.Issuer is set);
// iat < exp ≤ iat + 60; iat ≤ now + skew and now < exp + skew (whole
// seconds); then sub, aud, act and paramsHash equal to want. It returns the
// claims on success, and otherwise a *codes.Error whose cause is a
// *VerifyError (see ReasonOf).
func (v *Verifier) Verify(token string, now time.Time, want Expect) (*Claims, error) {
	if want.AgentID == "" || want.Resource == "" || want.Action == "" || want.ParamsHash == "" {
		return nil, verifyErr(ReasonNoExpectation, "", "agentId, resource, action and paramsHash must all be given")
	}
	if len(token) > MaxAttestationLen {
		return nil, verifyErr(ReasonMalformed, "", "attestation too long")
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return nil, verifyErr(ReasonMalformed, "", "not a compact JWS")
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.')
	if dot2 < 0 {
		return nil, verifyErr(ReasonMalformed, "", "not a compact JWS")
	}
	dot2 += dot1 + 1
	if strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return nil, verifyErr(ReasonMalformed, "", "not a compact JWS")
	}
	enc := base64.RawURLEncoding.Strict()
	hb, err := enc.DecodeString(token[:dot1])
	if err != nil {
		return nil, verifyErr(ReasonMalformed, "header", "bad base64url")
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, verifyErr(ReasonHeader, "header", err.Error())
	}
	if h.Alg != "EdDSA" {
		return nil, verifyErr(ReasonHeader, "alg", "want EdDSA")
	}
	if h.Typ != AttestationType {
		return nil, verifyErr(ReasonHeader, "typ", "want "+AttestationType)
	}
	pub, ok := v.keys[h.Kid]
	if !ok || h.Kid == "" {
		return nil, verifyErr(ReasonUnknownKey, "kid", "")
	}
	sig, err := enc.DecodeString(token[dot2+1:])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, verifyErr(ReasonMalformed, "signature", "bad base64url or length")
	}
	if !verifySig(pub, []byte(token[:dot2]), sig) {
		return nil, verifyErr(ReasonSignature, "", "")
	}
	pb, err := enc.DecodeString(token[dot1+1 : dot2])
	if err != nil {
		return nil, verifyErr(ReasonMalformed, "payload", "bad base64url")
	}
	c, err := parseClaims(pb)
	if err != nil {
		return nil, err
	}
	if want.Issuer != "" && c.Issuer != want.Issuer {
		return nil, verifyErr(ReasonIssuer, "iss", "")
	}
	if c.ExpiresAt <= c.IssuedAt || c.ExpiresAt-c.IssuedAt > MaxLifetimeSeconds {
		return nil, verifyErr(ReasonLifetime, "exp", "")
	}
	nowS, skewS := now.Unix(), int64(v.skew/time.Second)
	if c.IssuedAt > nowS+skewS {
		return nil, verifyErr(ReasonNotYetValid, "iat", "")
	}
	if nowS >= c.ExpiresAt+skewS {
		return nil, verifyErr(ReasonExpired, "exp", "")
	}
	switch {
	case c.Subject != want.AgentID:
		return nil, verifyErr(ReasonMismatch, "sub", "")
	case c.Audience != want.Resource:
		return nil, verifyErr(ReasonMismatch, "aud", "")
	case c.Action != want.Action:
		return nil, verifyErr(ReasonMismatch, "act", "")
	case c.ParamsHash != want.ParamsHash:
		return nil, verifyErr(ReasonMismatch, "paramsHash", "")
	}
	return c, nil
}

// parseHeader reads an attestation header: exactly the members alg, typ
// and kid, each a string.
func parseHeader(hb []byte) (attHeader, error) {
	var h attHeader
	err := forEachMember(hb, func(name string, raw []byte) error {
		var dst *string
		switch name {
		case "alg":
			dst = &h.Alg
		case "typ":
			dst = &h.Typ
		case "kid":
			dst = &h.Kid
		default:
			return fmt.Errorf("unknown member %q", name)
		}
		s, err := unquote(raw)
		*dst = s
		return err
	})
	return h, err
}

// parseClaims decodes and schema-checks an attestation payload: every claim
// present with its JSON type (integers without fraction or exponent), no
// other member, no duplicate.
func parseClaims(pb []byte) (*Claims, error) {
	c := &Claims{}
	const all = 1<<13 - 1
	var got uint
	bad := ""
	err := forEachMember(pb, func(name string, raw []byte) error {
		var err error
		var bit uint
		switch name {
		case "iss":
			bit = 1 << 0
			c.Issuer, err = unquote(raw)
		case "sub":
			bit = 1 << 1
			c.Subject, err = unquote(raw)
		case "aud":
			bit = 1 << 2
			c.Audience, err = unquote(raw)
		case "act":
			bit = 1 << 3
			c.Action, err = unquote(raw)
		case "jti":
			bit = 1 << 4
			c.JTI, err = unquote(raw)
		case "iat":
			bit = 1 << 5
			c.IssuedAt, err = rawInt(raw)
		case "exp":
			bit = 1 << 6
			c.ExpiresAt, err = rawInt(raw)
		case "tokenId":
			bit = 1 << 7
			c.TokenID, err = unquote(raw)
		case "tier":
			bit = 1 << 8
			var t int64
			t, err = rawInt(raw)
			c.Tier = int(t)
			if t != int64(c.Tier) {
				err = errors.New("out of range")
			}
		case "paramsHash":
			bit = 1 << 9
			c.ParamsHash, err = unquote(raw)
		case "envelope":
			bit = 1 << 10
			if raw[0] != '{' {
				err = errors.New("not an object")
			}
			c.Envelope = json.RawMessage(raw)
		case "policyHash":
			bit = 1 << 11
			c.PolicyHash, err = unquote(raw)
		case "ledgerSeq":
			bit = 1 << 12
			if raw[0] == '-' {
				err = errors.New("negative")
			} else {
				c.LedgerSeq, err = strconv.ParseUint(string(raw), 10, 64)
			}
		default:
			bad = name
			return errors.New("unknown claim")
		}
		if err != nil {
			bad = name
			return fmt.Errorf("%s: %v", name, err)
		}
		got |= bit
		return nil
	})
	if err != nil {
		return nil, verifyErr(ReasonMalformed, bad, err.Error())
	}
	if got != all {
		for i, name := range claimNames {
			if got&(1<<i) == 0 {
				return nil, verifyErr(ReasonMalformed, name, "missing")
			}
		}
	}
	if msg := c.check(); msg != "" && !strings.HasPrefix(msg, "exp ") {
		// The lifetime has its own reason, checked by the caller.
		return nil, verifyErr(ReasonMalformed, strings.Fields(msg)[0], msg)
	}
	return c, nil
}

// claimNames are the claims in bit order of parseClaims.
var claimNames = [...]string{"iss", "sub", "aud", "act", "jti", "iat", "exp", "tokenId", "tier", "paramsHash", "envelope", "policyHash", "ledgerSeq"}

// verifySig is sintgate's single Ed25519 verification rule
// (tokens.VerifySig: curve25519-voi's default, cofactored RFC 8032 with
// canonical encodings and small-order keys rejected), so attestations, agent
// signatures and capability tokens accept exactly the same signatures.
func verifySig(pub ed25519.PublicKey, msg, sig []byte) bool {
	return tokens.VerifySig(pub, msg, sig)
}
