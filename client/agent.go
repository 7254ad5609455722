package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/sintgate/sintgate/api"
)

// Limits.
const (
	// MaxBatch is the most intercepts one batch may carry (PROTOCOL.md §10).
	MaxBatch = 50
	// MaxResponse bounds a response body the client reads into memory.
	MaxResponse = 8 << 20
)

// Agent is an agent's connection to a gateway. Key is the agent's Ed25519
// private key; its public key in hex is the agentId. The zero HTTP means
// http.DefaultClient; Now (optional, for tests) replaces time.Now as the
// source of request timestamps. Agent is safe for concurrent use.
type Agent struct {
	BaseURL string             // e.g. "http://127.0.0.1:8080"
	HTTP    *http.Client       // nil: http.DefaultClient
	Key     ed25519.PrivateKey // 64 bytes
	Now     func() time.Time   // nil: time.Now
}

// AgentID returns the agent's id: its public key, 64 lowercase hex chars.
// It is "" for a key of the wrong size.
func (a *Agent) AgentID() string {
	if len(a.Key) != ed25519.PrivateKeySize {
		return ""
	}
	return hex.EncodeToString(a.Key[32:])
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Agent) checkKey() error {
	if len(a.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("client: agent key is %d bytes, want %d", len(a.Key), ed25519.PrivateKeySize)
	}
	return nil
}

// Stamp returns a fresh requestId (UUIDv7) and the current time in unix
// milliseconds, the two per-call fields of every signed body.
func (a *Agent) Stamp() (requestID string, timestampMs int64, err error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", 0, fmt.Errorf("client: request id: %w", err)
	}
	return id.String(), a.now().UnixMilli(), nil
}

// SignHeaders returns the authentication headers of PROTOCOL.md §4 for body,
// whose "timestamp" must be timestampMs: X-Agent-Id, X-Agent-Timestamp and
// X-Agent-Sig = base64url(Ed25519 signature of the exact body bytes), plus
// Content-Type. The caller guarantees the body's agentId and timestamp; Sign
// checks them.
func (a *Agent) SignHeaders(body []byte, timestampMs int64) http.Header {
	sig := voi.Sign(voi.PrivateKey(a.Key), body)
	h := make(http.Header, 4)
	h[api.HeaderAgentID] = []string{a.AgentID()}
	h[api.HeaderAgentTimestamp] = []string{strconv.FormatInt(timestampMs, 10)}
	h[api.HeaderAgentSig] = []string{base64.RawURLEncoding.EncodeToString(sig)}
	h["Content-Type"] = []string{"application/json"}
	return h
}

// Sign returns the authentication headers for a signed body after checking
// that the body is a JSON object carrying this agent's agentId, a requestId
// and a timestamp (the header timestamp is taken from the body, so the two
// always match).
func (a *Agent) Sign(body []byte) (http.Header, error) {
	if err := a.checkKey(); err != nil {
		return nil, err
	}
	var f struct {
		AgentID   string `json:"agentId"`
		RequestID string `json:"requestId"`
		Timestamp *int64 `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, fmt.Errorf("client: signed body: %w", err)
	}
	switch {
	case f.AgentID != a.AgentID():
		return nil, errors.New("client: signed body: agentId is not this agent's")
	case f.RequestID == "":
		return nil, errors.New("client: signed body: no requestId")
	case f.Timestamp == nil:
		return nil, errors.New("client: signed body: no timestamp")
	}
	return a.SignHeaders(body, *f.Timestamp), nil
}

// Post sends an agent-signed POST of body (which must carry this agent's
// agentId, a requestId and a timestamp) to path and returns the response
// status and body. Any HTTP status is returned without error; err is only
// for transport failures and bodies over MaxResponse.
func (a *Agent) Post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	h, err := a.Sign(body)
	if err != nil {
		return 0, nil, err
	}
	return a.post(ctx, path, body, h)
}

func (a *Agent) post(ctx context.Context, path string, body []byte, h http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, joinURL(a.BaseURL, path), bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("client: %w", err)
	}
	req.Header = h
	return do(a.HTTP, req)
}

// do runs req and reads the whole response body (bounded).
func do(c *http.Client, req *http.Request) (int, []byte, error) {
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("client: %s %s: reading response: %w", req.Method, req.URL.Path, err)
	}
	if len(body) > MaxResponse {
		return resp.StatusCode, nil, fmt.Errorf("client: %s %s: response larger than %d bytes", req.Method, req.URL.Path, MaxResponse)
	}
	return resp.StatusCode, body, nil
}

func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + path
}

// stampRequest fills a request's agentId, requestId and timestamp where they
// are empty; a different agentId is an error.
func (a *Agent) stampRequest(r *api.InterceptRequest, ts int64) error {
	if r.AgentID == "" {
		r.AgentID = a.AgentID()
	} else if r.AgentID != a.AgentID() {
		return errors.New("client: request agentId is not this agent's")
	}
	if r.RequestID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("client: request id: %w", err)
		}
		r.RequestID = id.String()
	}
	if r.Timestamp == 0 {
		r.Timestamp = ts
	}
	return nil
}

// Intercept asks the gateway for a decision (POST /v1/intercept). AgentID,
// RequestID and Timestamp are filled in when empty (set RequestID yourself to
// retry idempotently). It returns the decision and the HTTP status for every
// decision body — allow (200), escalate (202) and every deny (400, 401, 403,
// …) — and an *APIError for other answers (413, 5xx without a decision
// body). err is nil whenever a decision is returned.
func (a *Agent) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	if err := a.checkKey(); err != nil {
		return nil, 0, err
	}
	if err := a.stampRequest(&r, a.now().UnixMilli()); err != nil {
		return nil, 0, err
	}
	body, err := json.Marshal(&r)
	if err != nil {
		return nil, 0, fmt.Errorf("client: encode intercept: %w", err)
	}
	return a.decide(ctx, "/v1/intercept", body, r.Timestamp)
}

// decide posts a signed body to a decision endpoint.
func (a *Agent) decide(ctx context.Context, path string, body []byte, ts int64) (*api.Decision, int, error) {
	status, resp, err := a.post(ctx, path, body, a.SignHeaders(body, ts))
	if err != nil {
		return nil, status, err
	}
	d, err := parseDecision(status, resp)
	return d, status, err
}

// parseDecision returns the decision of a response body, or an *APIError if
// the body is not a decision.
//
// The body is decoded once (every intercept's answer goes through here): the
// outer Decision pointer shadows api.Decision's own "decision" member, so a
// missing or null one is seen. A body that is not JSON, or whose decision is
// no string, is no decision (encoding/json decodes nothing from invalid JSON
// and leaves a mistyped field nil); a decision body with another mistyped
// member is an error.
func parseDecision(status int, body []byte) (*api.Decision, error) {
	var w struct {
		Decision *string `json:"decision"`
		decisionBody
	}
	err := json.Unmarshal(body, &w)
	var te *json.UnmarshalTypeError
	if w.Decision == nil || errors.As(err, &te) && te.Field == "decision" {
		return nil, apiError(status, body)
	}
	if err != nil {
		return nil, fmt.Errorf("client: decision body: %w", err)
	}
	d := api.Decision(w.decisionBody)
	d.Decision = *w.Decision
	return &d, nil
}

// decisionBody is api.Decision under an unexported name, embedded by
// parseDecision (its members are promoted, its "decision" shadowed).
type decisionBody = api.Decision

// BatchItem is one item of POST /v1/intercept/batch: an intercept body
// signed on its own exact bytes, with its §4 headers (docs/protocol.md §11).
// Body is a string holding those bytes, so that no serialiser of the
// envelope can reshape them.
type BatchItem struct {
	Headers map[string]string `json:"headers"` // X-Agent-Id, X-Agent-Timestamp, X-Agent-Sig
	Body    string            `json:"body"`    // the exact signed bytes
}

// BatchResult is the answer for one item: the HTTP status the same
// intercept would have had on its own, and its decision body.
type BatchResult struct {
	Status   int          `json:"status"`
	Decision api.Decision `json:"decision"`
}

// InterceptBatch asks for up to MaxBatch decisions in one call (POST
// /v1/intercept/batch with {"items":[{"headers","body":"<signed bytes>"}]}). Every item is a
// complete intercept body stamped like Intercept's and signed on its own, so
// the gateway authenticates (and replay-checks) each one. It returns the
// per-item results (same order and length as reqs) and the HTTP status of the
// batch; a batch the gateway refused as a whole comes back as an *APIError.
func (a *Agent) InterceptBatch(ctx context.Context, reqs []api.InterceptRequest) ([]BatchResult, int, error) {
	if err := a.checkKey(); err != nil {
		return nil, 0, err
	}
	if len(reqs) == 0 || len(reqs) > MaxBatch {
		return nil, 0, fmt.Errorf("client: a batch holds 1..%d requests, not %d", MaxBatch, len(reqs))
	}
	ts := a.now().UnixMilli()
	// Each body travels as a JSON string holding the exact signed bytes, so
	// the envelope can be encoded like any other value.
	env := struct {
		Items []BatchItem `json:"items"`
	}{Items: make([]BatchItem, 0, len(reqs))}
	for i, r := range reqs {
		if err := a.stampRequest(&r, ts); err != nil {
			return nil, 0, fmt.Errorf("client: batch item %d: %w", i, err)
		}
		body, err := json.Marshal(&r)
		if err != nil {
			return nil, 0, fmt.Errorf("client: encode batch item %d: %w", i, err)
		}
		h := a.SignHeaders(body, r.Timestamp)
		env.Items = append(env.Items, BatchItem{Headers: map[string]string{
			api.HeaderAgentID:        h.Get(api.HeaderAgentID),
			api.HeaderAgentTimestamp: h.Get(api.HeaderAgentTimestamp),
			api.HeaderAgentSig:       h.Get(api.HeaderAgentSig),
		}, Body: string(body)})
	}
	envelope, err := json.Marshal(env)
	if err != nil {
		return nil, 0, fmt.Errorf("client: encode batch: %w", err)
	}
	buf := bytes.NewReader(envelope)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, joinURL(a.BaseURL, "/v1/intercept/batch"), buf)
	if err != nil {
		return nil, 0, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	status, resp, err := do(a.HTTP, req)
	if err != nil {
		return nil, status, err
	}
	if status != http.StatusOK {
		return nil, status, apiError(status, resp)
	}
	var out struct {
		Results []BatchResult `json:"results"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, status, fmt.Errorf("client: batch response: %w", err)
	}
	if len(out.Results) != len(reqs) {
		return nil, status, fmt.Errorf("client: batch response has %d results for %d requests", len(out.Results), len(reqs))
	}
	return out.Results, status, nil
}

// signedBody is the body of the agent-signed calls that carry nothing but
// the authentication fields and, for some, one more member.
type signedBody struct {
	AgentID   string `json:"agentId"`
	RequestID string `json:"requestId"`
	Timestamp int64  `json:"timestamp"`
	Reason    string `json:"reason,omitempty"`
	Token     string `json:"token,omitempty"`
}

func (a *Agent) signed(extra func(*signedBody)) ([]byte, int64, error) {
	if err := a.checkKey(); err != nil {
		return nil, 0, err
	}
	rid, ts, err := a.Stamp()
	if err != nil {
		return nil, 0, err
	}
	b := signedBody{AgentID: a.AgentID(), RequestID: rid, Timestamp: ts}
	if extra != nil {
		extra(&b)
	}
	body, err := json.Marshal(&b)
	return body, ts, err
}

// WaitApproval long-polls an approval (POST /v1/approvals/{id}/wait, at most
// ~30 s per call on the server side) and returns the decision body for the
// ORIGINAL request: allow (200, with its attestation), deny (403:
// APPROVAL_DENIED, APPROVAL_TIMEOUT, APPROVAL_CANCELLED) or escalate (202)
// while it is still pending. The HTTP client's timeout must exceed 30 s.
func (a *Agent) WaitApproval(ctx context.Context, approvalID string) (*api.Decision, int, error) {
	body, ts, err := a.signed(nil)
	if err != nil {
		return nil, 0, err
	}
	return a.decide(ctx, "/v1/approvals/"+url.PathEscape(approvalID)+"/wait", body, ts)
}

// minPollInterval spaces AwaitApproval's calls when the server answers a
// pending approval without long-polling.
var minPollInterval = time.Second

// AwaitApproval calls WaitApproval until the approval is resolved (any
// status but 202) or ctx ends. Calls are at least a second apart even if
// the gateway answers a pending approval at once.
func (a *Agent) AwaitApproval(ctx context.Context, approvalID string) (*api.Decision, int, error) {
	for {
		start := time.Now()
		d, status, err := a.WaitApproval(ctx, approvalID)
		if err != nil || status != http.StatusAccepted {
			return d, status, err
		}
		if wait := minPollInterval - time.Since(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return d, status, context.Cause(ctx)
			case <-t.C:
			}
		} else if err := ctx.Err(); err != nil {
			return d, status, context.Cause(ctx)
		}
	}
}

// EstopState is the e-stop state (GET /v1/estop, PROTOCOL.md §8).
type EstopState struct {
	State   string        `json:"state"` // "armed" or "tripped"
	Epoch   uint64        `json:"epoch"`
	Since   int64         `json:"since"` // unix ms
	Reason  string        `json:"reason"`
	Sources []EstopSource `json:"sources"`
	// BootID names the gateway instance that answered (it changes when
	// the gateway restarts); "" from a gateway that names none.
	BootID string `json:"bootId,omitempty"`
	// FleetID names the shared state of a replicated fleet: the same on
	// every replica and across replica restarts (then BootID changes with
	// the replica answering); "" from a single node.
	FleetID string `json:"fleetId,omitempty"`
}

// EstopSource is one e-stop source.
type EstopSource struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	Since int64  `json:"since"`
}

// Trip trips the e-stop as this agent (agent-signed POST /v1/estop/trip with
// {"agentId","requestId","timestamp","reason"}). It is idempotent. It returns
// the e-stop state if the gateway sent one (nil otherwise), or an *APIError.
func (a *Agent) Trip(ctx context.Context, reason string) (*EstopState, error) {
	body, ts, err := a.signed(func(b *signedBody) { b.Reason = reason })
	if err != nil {
		return nil, err
	}
	status, resp, err := a.post(ctx, "/v1/estop/trip", body, a.SignHeaders(body, ts))
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, apiError(status, resp)
	}
	var st EstopState
	if json.Unmarshal(resp, &st) != nil || st.State == "" {
		return nil, nil
	}
	return &st, nil
}

// DelegateResult is the answer to a registration (201 {"tokenId","token","claims"}).
type DelegateResult struct {
	TokenID string          `json:"tokenId"`
	Token   string          `json:"token"` // byte for byte as registered
	Claims  json.RawMessage `json:"claims"`
}

// Delegate registers a delegated token signed by this agent as the parent
// token's subject (agent-signed POST /v1/tokens/delegate with
// {"agentId","requestId","timestamp","token"}). A token the gateway refuses
// comes back as an *APIError with the §3.1 code (HTTP 422).
func (a *Agent) Delegate(ctx context.Context, jws string) (*DelegateResult, error) {
	body, ts, err := a.signed(func(b *signedBody) { b.Token = jws })
	if err != nil {
		return nil, err
	}
	status, resp, err := a.post(ctx, "/v1/tokens/delegate", body, a.SignHeaders(body, ts))
	if err != nil {
		return nil, err
	}
	if status/100 != 2 {
		return nil, apiError(status, resp)
	}
	var out DelegateResult
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("client: delegate response: %w", err)
	}
	return &out, nil
}
