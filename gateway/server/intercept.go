package server

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
)

func agentHeaders(c *fiber.Ctx) gateway.AgentHeaders {
	return gateway.AgentHeaders{
		AgentID:   c.Get(api.HeaderAgentID),
		Timestamp: c.Get(api.HeaderAgentTimestamp),
		Sig:       c.Get(api.HeaderAgentSig),
	}
}

func (s *Server) intercept(c *fiber.Ctx) error {
	// The body is copied: fasthttp reuses its buffer after the handler.
	body := bytes.Clone(c.Body())
	if s.Metrics != nil {
		s.Metrics.InFlight(1)
		defer s.Metrics.InFlight(-1)
	}
	res := s.Pipeline.Intercept(c.UserContext(), gateway.Input{Body: body, Headers: agentHeaders(c), Remote: c.IP()})
	return c.Status(res.Status).JSON(res.Body)
}

// batchItem is one result of /v1/intercept/batch.
type batchItem struct {
	Status   int          `json:"status"`
	Decision api.Decision `json:"decision"`
}

// batchEnvelope is the body of /v1/intercept/batch.
type batchEnvelope struct {
	Items []struct {
		Headers map[string]string `json:"headers"`
		// Body is the item's exact signed bytes as a JSON string (the
		// contract's form). A JSON object is still accepted, deprecated: its
		// bytes are then the envelope's own bytes, which pretty-printers and
		// typed serialisers reshape.
		Body json.RawMessage `json:"body"`
	} `json:"items"`
}

// interceptBatch runs up to 50 intercepts. The body is
// {"items":[{"headers":{"X-Agent-Id","X-Agent-Timestamp","X-Agent-Sig"},"body":"<the exact signed bytes>"}]};
// the answer is {"results":[{"status","decision"}]} in item order
// (docs/protocol.md §11).
func (s *Server) interceptBatch(c *fiber.Ctx) error {
	var in batchEnvelope
	if !gateway.JSONDepthOK(c.Body(), gateway.MaxJSONDepth) {
		return apiErr(400, codes.MalformedRequest, "JSON nesting too deep")
	}
	// A repeated "body" or "headers" would be read differently by other
	// parsers of the same envelope: refused, as for signed bodies.
	if err := checkStrictJSON(c.Body()); err != nil {
		return apiErr(400, codes.MalformedRequest, "batch envelope: "+err.Error())
	}
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	if len(in.Items) == 0 || len(in.Items) > gateway.MaxBatchItems {
		return apiErr(400, codes.MalformedRequest, fmt.Sprintf("items must hold 1..%d intercepts", gateway.MaxBatchItems))
	}
	out := make([]batchItem, len(in.Items))
	for i, it := range in.Items {
		h := gateway.AgentHeaders{AgentID: it.Headers[api.HeaderAgentID], Timestamp: it.Headers[api.HeaderAgentTimestamp], Sig: it.Headers[api.HeaderAgentSig]}
		body, form := batchItemBytes(it.Body)
		res := s.Pipeline.Intercept(c.UserContext(), gateway.Input{Body: body, Headers: h, Remote: c.IP()})
		if res.Status == 401 && res.Body.Reason != nil && *res.Body.Reason == gateway.ReasonBadSignature {
			why := batchSigCause(body, form, h, s.Pipeline.VerifySig)
			res.Body.Reason = &why
		}
		out[i] = batchItem{Status: res.Status, Decision: res.Body}
	}
	return c.JSON(fiber.Map{"results": out})
}

// batchForm is how an item carried its body.
type batchForm int

const (
	formString batchForm = iota // a JSON string holding the signed bytes
	formObject                  // deprecated: a JSON object, its envelope bytes
	formOther                   // anything else: passed on, refused by the schema stage
)

// batchItemBytes returns the bytes an item's signature must cover: the
// content of a string body, or an object body's own bytes in the envelope.
// Nothing is ever re-serialised.
func batchItemBytes(raw json.RawMessage) ([]byte, batchForm) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err == nil {
			return []byte(s), formString
		}
	}
	if len(t) > 0 && t[0] == '{' {
		return bytes.Clone(t), formObject
	}
	return bytes.Clone(t), formOther
}

// batchSigCause names why an item's signature failed, for the item's
// reason. It never changes the decision: it only tells the client what
// to fix. The one cause it can prove is a re-formatted body (the signature
// verifies over the same JSON without its whitespace, checked with the
// gateway's one verification rule, verify).
func batchSigCause(body []byte, form batchForm, h gateway.AgentHeaders, verify gateway.SigVerifier) string {
	reformatted := false
	var compact bytes.Buffer
	if verify != nil && json.Compact(&compact, body) == nil && !bytes.Equal(compact.Bytes(), body) {
		pub, e1 := hex.DecodeString(h.AgentID)
		sig, e2 := base64.RawURLEncoding.DecodeString(h.Sig)
		reformatted = e1 == nil && e2 == nil && len(pub) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize &&
			verify(pub, compact.Bytes(), sig)
	}
	switch {
	case reformatted && form == formObject:
		return "item bytes differ from the signed bytes: the envelope was re-formatted after signing (whitespace); send each body as a JSON string holding the exact signed bytes (docs/protocol.md §11)"
	case reformatted:
		return "item bytes differ from the signed bytes: the body string was re-formatted after signing (whitespace); it must hold the exact signed bytes"
	case form == formObject:
		return "signature does not verify over the item's body as it stands in the envelope (a body sent as a JSON object is verified on its envelope bytes, which pretty-printers and typed serialisers reshape): send the body as a JSON string holding the exact signed bytes (docs/protocol.md §11)"
	}
	return "signature does not verify over the item's body string: it must hold the exact signed bytes, signed with the key of X-Agent-Id"
}
