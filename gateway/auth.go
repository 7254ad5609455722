package gateway

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"strconv"

	"github.com/sintgate/sintgate/codes"
)

// Agent request authentication (PROTOCOL.md §4).

// FreshnessMs is how far an agent's timestamp may be from the gateway clock.
const FreshnessMs = 30_000

// AgentHeaders are the authentication headers of a signed agent call.
type AgentHeaders struct {
	AgentID   string
	Timestamp string
	Sig       string
}

// ReasonBadSignature is the reason of an UNAUTHENTICATED refusal whose
// signature does not verify over the body.
const ReasonBadSignature = "signature does not verify"

// SignedBody is the part of every signed agent body that authentication reads.
type SignedBody struct {
	AgentID   string
	RequestID string
	Timestamp int64
}

// SigVerifier checks an Ed25519 signature under the project's single
// verification rule.
type SigVerifier func(pub, msg, sig []byte) bool

// Authenticate checks the headers against the body and the signature over the
// exact body bytes at time nowMs. Replay and circuit checks follow it in the
// pipeline because they need state.
func Authenticate(h AgentHeaders, body []byte, sb SignedBody, nowMs int64, verify SigVerifier) *codes.Error {
	if h.AgentID == "" || h.AgentID != sb.AgentID {
		return codes.New(codes.Unauthenticated, "X-Agent-Id missing or not equal to body agentId")
	}
	ts, err := strconv.ParseInt(h.Timestamp, 10, 64)
	if err != nil || ts != sb.Timestamp {
		return codes.New(codes.StaleRequest, "X-Agent-Timestamp missing or not equal to body timestamp")
	}
	if d := nowMs - ts; d > FreshnessMs || d < -FreshnessMs {
		return codes.New(codes.StaleRequest, "timestamp outside ±30 s of the gateway clock")
	}
	pub, err := hex.DecodeString(h.AgentID)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return codes.New(codes.Unauthenticated, "agentId is not an Ed25519 public key")
	}
	sig, err := base64.RawURLEncoding.DecodeString(h.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return codes.New(codes.Unauthenticated, "X-Agent-Sig missing or not base64url of 64 bytes")
	}
	if !verify(pub, body, sig) {
		return codes.New(codes.Unauthenticated, ReasonBadSignature)
	}
	return nil
}
