package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/tokens"
)

// Limits on untrusted input (PROTOCOL.md §1).
const (
	MaxBodyBytes     = 64 << 10 // a request body
	MaxTokenBytes    = 8 << 10  // one compact JWS
	MaxJSONDepth     = 32       // nesting of objects and arrays
	MaxResourceBytes = 512
	MaxActionBytes   = 64
	// MaxChainLen bounds the ancestors sent inline with a token. It only
	// bounds the parse: the depth rule (≤ 3) is a verification result,
	// DELEGATION_DEPTH_EXCEEDED (PROTOCOL.md §3.1 step 4), never a schema
	// error, so a deeper chain must reach the verifier.
	MaxChainLen       = 64
	MaxRecentActions  = 64 // entries of recentActions
	MaxBatchItems     = 50 // items of /v1/intercept/batch
	maxRecentEntryLen = MaxResourceBytes + 1 + MaxActionBytes
)

// ValidUUIDv7 reports whether s is a lowercase hyphenated UUIDv7:
// 8-4-4-4-12 lowercase hex digits, version nibble 7, variant 10 (the first
// digit of the fourth group is 8, 9, a or b).
func ValidUUIDv7(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		case 14:
			if s[i] != '7' {
				return false
			}
		case 19:
			if c := s[i]; c != '8' && c != '9' && c != 'a' && c != 'b' {
				return false
			}
		default:
			if !lowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// ValidKeyHex reports whether s is a 64-char lowercase hex Ed25519 public key.
func ValidKeyHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerHex(s[i]) {
			return false
		}
	}
	return true
}

func lowerHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// Request is a parsed, schema-checked intercept request (stage 2 passed).
// InterceptRequest.Params is the exact bytes of the params value (or nil if
// absent), a slice of Body.
type Request struct {
	api.InterceptRequest
	// Params is the decoded params object (numbers as json.Number), nil if
	// absent or null.
	Params map[string]any
	// Body is the exact body bytes the agent signed.
	Body []byte
	// ParamsHash is attest.ParamsHash of the raw params (the hash an
	// attestation carries).
	ParamsHash string
}

// JSONDepthOK reports whether the nesting depth of objects and arrays in b is
// at most max. Strings are skipped so brackets inside them do not count.
func JSONDepthOK(b []byte, max int) bool {
	depth := 0
	inStr, esc := false, false
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

func malformed(format string, a ...any) *codes.Error {
	return codes.New(codes.MalformedRequest, fmt.Sprintf(format, a...))
}

// ParseRequest runs stage 2 of the pipeline: size, depth, strict schema and
// the normal form of the resource. The body is decoded in one pass by
// decodeIntercept (reqparse.go), which is stricter than encoding/json where
// docs/decisions.md (17) says. It never panics on any input.
func ParseRequest(body []byte) (*Request, *codes.Error) {
	if len(body) > MaxBodyBytes {
		return nil, malformed("body exceeds %d bytes", MaxBodyBytes)
	}
	r := &Request{Body: body}
	if err := decodeIntercept(body, r); err != nil {
		return nil, malformed("invalid request body: %v", err)
	}
	q := &r.InterceptRequest
	switch {
	case !ValidUUIDv7(q.RequestID):
		return nil, malformed("requestId must be a UUIDv7")
	case !ValidKeyHex(q.AgentID):
		return nil, malformed("agentId must be 64 lowercase hex characters")
	case q.Timestamp <= 0:
		return nil, malformed("timestamp must be unix milliseconds")
	case q.TokenID == "" && q.Token == "":
		return nil, malformed("one of tokenId or token is required")
	case q.TokenID != "" && q.Token != "":
		return nil, malformed("tokenId and token are exclusive")
	case q.TokenID != "" && !ValidUUIDv7(q.TokenID):
		return nil, malformed("tokenId must be a UUIDv7")
	case len(q.Chain) > 0 && q.Token == "":
		return nil, malformed("chain is only allowed with an inline token")
	case len(q.Chain) > MaxChainLen:
		return nil, malformed("chain longer than %d", MaxChainLen)
	case len(q.Token) > MaxTokenBytes:
		return nil, malformed("token exceeds %d bytes", MaxTokenBytes)
	case len(q.Resource) == 0 || len(q.Resource) > MaxResourceBytes:
		return nil, malformed("resource must be 1..%d bytes", MaxResourceBytes)
	case !tokens.ValidAction(q.Action):
		return nil, malformed("action must match [a-z0-9._-]{1,64}")
	case len(q.RecentActions) > MaxRecentActions:
		return nil, malformed("recentActions longer than %d", MaxRecentActions)
	}
	for _, c := range q.Chain {
		if len(c) > MaxTokenBytes {
			return nil, malformed("chain token exceeds %d bytes", MaxTokenBytes)
		}
	}
	for _, a := range q.RecentActions {
		if len(a) > maxRecentEntryLen {
			return nil, malformed("recentActions entry too long")
		}
	}
	if err := tokens.NormalResource(q.Resource); err != nil {
		return nil, malformed("resource not in normal form: %v", err)
	}
	// Params an attestation could not bind (RFC 8785 has no form for a
	// number outside the double range, such as 1e999) are refused here
	// rather than allowed with an empty paramsHash.
	h, err := attest.ParamsHash(q.Params)
	if err != nil {
		return nil, malformed("params cannot be canonicalised (RFC 8785): %v", err)
	}
	r.ParamsHash = h
	return r, nil
}

// requestIDOf extracts the requestId of a body that failed strict parsing,
// so that the deny can still name it (PROTOCOL.md §5.2: requestId is null
// only when the body could not be parsed). It returns "" unless the body is
// a JSON object of bounded size and depth whose top level has exactly one
// member named exactly "requestId" holding a string of at most
// maxEchoedRequestID bytes of valid UTF-8.
func requestIDOf(body []byte) string {
	if len(body) > MaxBodyBytes || !JSONDepthOK(body, MaxJSONDepth) {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	id, n := "", 0
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return ""
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
		if k, _ := t.(string); k == "requestId" {
			n++
			var s string
			if json.Unmarshal(v, &s) != nil || len(s) > maxEchoedRequestID || !utf8.Valid(v) {
				return ""
			}
			id = s
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') || n != 1 {
		return ""
	}
	if _, err := dec.Token(); err != io.EOF {
		return "" // data after the object
	}
	return id
}

// maxEchoedRequestID bounds the requestId a deny repeats from a body that
// failed the schema (a UUIDv7 is 36 bytes).
const maxEchoedRequestID = 64
