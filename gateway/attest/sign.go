package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"sync"
	"unicode/utf8"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/sintgate/sintgate/codes"
)

// AttestationType is the JWS "typ" of a decision attestation.
const AttestationType = "sint-attest+jwt"

// Lifetimes of an attestation, in seconds (PROTOCOL.md §6: exp ≤ iat + 60).
const (
	MaxLifetimeSeconds     = 60
	DefaultLifetimeSeconds = 30
)

// Claims are the claims of a decision attestation (PROTOCOL.md §6). The JSON
// member order of a signed attestation is the field order below.
type Claims struct {
	Issuer     string          `json:"iss"`        // the gateway id
	Subject    string          `json:"sub"`        // the agentId (64 hex)
	Audience   string          `json:"aud"`        // the resource the decision covers
	Action     string          `json:"act"`        // the action the decision covers
	JTI        string          `json:"jti"`        // the requestId of the decided request
	IssuedAt   int64           `json:"iat"`        // unix seconds
	ExpiresAt  int64           `json:"exp"`        // unix seconds, iat < exp ≤ iat + 60
	TokenID    string          `json:"tokenId"`    // the capability token used
	Tier       int             `json:"tier"`       // the assigned tier, 1..5
	ParamsHash string          `json:"paramsHash"` // ParamsHash(params)
	Envelope   json.RawMessage `json:"envelope"`   // effective limits (JSON object; constraint names of §3)
	PolicyHash string          `json:"policyHash"` // sha256(JCS(policy))
	LedgerSeq  uint64          `json:"ledgerSeq"`  // sequence number of the decision's ledger entry
}

// check validates claims before signing (and after parsing); the returned
// message names the first bad field.
func (c *Claims) check() string {
	switch {
	case c.Issuer == "":
		return "iss is empty"
	case c.Subject == "":
		return "sub is empty"
	case c.Audience == "":
		return "aud is empty"
	case c.Action == "":
		return "act is empty"
	case c.JTI == "":
		return "jti is empty"
	case c.TokenID == "":
		return "tokenId is empty"
	case c.Tier < 1 || c.Tier > 5:
		return "tier is not in 1..5"
	case !isHash(c.ParamsHash):
		return "paramsHash is not 64 lowercase hex characters"
	case c.PolicyHash == "":
		return "policyHash is empty"
	case c.LedgerSeq < 1:
		return "ledgerSeq is not positive"
	case c.IssuedAt <= 0:
		return "iat is not positive"
	case c.ExpiresAt <= c.IssuedAt || c.ExpiresAt-c.IssuedAt > MaxLifetimeSeconds:
		return "exp is not within (iat, iat+60]"
	}
	return ""
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

var emptyObject = []byte("{}")

// Sign returns the compact JWS attestation of c signed by key. It validates c
// (every claim present, tier 1..5, paramsHash a sha256 hex, iat < exp ≤ iat +
// 60, envelope a JSON object; a nil envelope is written as {}) and fails with
// an INTERNAL_ERROR *codes.Error otherwise: an invalid attestation is never
// produced. It builds the JSON by hand (no reflection) because it runs for
// every allow. Signatures are computed with curve25519-voi, about twice as
// fast as crypto/ed25519 here and byte-identical (Ed25519 signing is
// deterministic; TestGolden pins it). It is safe for concurrent use.
func Sign(key Key, c Claims) (string, error) {
	if len(key.Private) != ed25519.PrivateKeySize || key.KID == "" {
		return "", codes.New(codes.InternalError, "attest: signing key has no private part or kid")
	}
	if msg := c.check(); msg != "" {
		return "", codes.New(codes.InternalError, "attest: invalid claims: "+msg)
	}
	prefix := key.prefix
	if prefix == "" {
		prefix = headerPrefix(key.KID)
	}
	bp := payloadPool.Get().(*[]byte)
	defer payloadPool.Put(bp)
	payload, err := appendClaims((*bp)[:0], &c)
	*bp = payload[:0]
	if err != nil {
		return "", err
	}

	enc := base64.RawURLEncoding
	plen := enc.EncodedLen(len(payload))
	out := make([]byte, len(prefix)+plen+1+enc.EncodedLen(ed25519.SignatureSize))
	n := copy(out, prefix)
	enc.Encode(out[n:], payload)
	n += plen
	sig := voi.Sign(voi.PrivateKey(key.Private), out[:n])
	out[n] = '.'
	enc.Encode(out[n+1:], sig)
	return string(out), nil
}

// appendClaims appends the JSON of c (members in the order of Claims).
func appendClaims(b []byte, c *Claims) ([]byte, error) {
	var err error
	b = append(b, `{"iss":`...)
	if b, err = appendString(b, c.Issuer, "iss"); err != nil {
		return b, err
	}
	b = append(b, `,"sub":`...)
	if b, err = appendString(b, c.Subject, "sub"); err != nil {
		return b, err
	}
	b = append(b, `,"aud":`...)
	if b, err = appendString(b, c.Audience, "aud"); err != nil {
		return b, err
	}
	b = append(b, `,"act":`...)
	if b, err = appendString(b, c.Action, "act"); err != nil {
		return b, err
	}
	b = append(b, `,"jti":`...)
	if b, err = appendString(b, c.JTI, "jti"); err != nil {
		return b, err
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, c.ExpiresAt, 10)
	b = append(b, `,"tokenId":`...)
	if b, err = appendString(b, c.TokenID, "tokenId"); err != nil {
		return b, err
	}
	b = append(b, `,"tier":`...)
	b = strconv.AppendInt(b, int64(c.Tier), 10)
	b = append(b, `,"paramsHash":"`...)
	b = append(b, c.ParamsHash...) // checked: 64 hex
	b = append(b, `","envelope":`...)
	env := []byte(c.Envelope)
	if len(env) == 0 {
		env = emptyObject
	}
	start := len(b)
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, env); err != nil {
		return b, codes.Wrap(codes.InternalError, "attest: envelope is not valid JSON", err)
	}
	b = buf.Bytes()
	if b[start] != '{' {
		return b, codes.New(codes.InternalError, "attest: envelope is not a JSON object")
	}
	b = append(b, `,"policyHash":`...)
	if b, err = appendString(b, c.PolicyHash, "policyHash"); err != nil {
		return b, err
	}
	b = append(b, `,"ledgerSeq":`...)
	b = strconv.AppendUint(b, c.LedgerSeq, 10)
	b = append(b, '}')
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes '"', '\\' and control
// characters, and refuses invalid UTF-8 (encoding/json would silently
// replace it, which would sign something other than what the caller holds).
func appendString(b []byte, s, field string) ([]byte, error) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return b, codes.New(codes.InternalError, "attest: "+field+" is not valid UTF-8")
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}
