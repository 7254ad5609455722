package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// verifyAgentRequest authenticates an agent-signed request exactly as
// PROTOCOL.md §4 requires of the gateway: header agentId = body agentId
// (UNAUTHENTICATED), header timestamp = body timestamp and within ±30 s
// (STALE_REQUEST), a valid Ed25519 signature of the exact body bytes by the
// agentId key (UNAUTHENTICATED), requestId a lowercase UUIDv7
// (MALFORMED_REQUEST), not seen before from this agent (REPLAY_DETECTED).
type authChecker struct {
	now  func() time.Time
	mu   sync.Mutex
	seen map[string]bool
}

func (c *authChecker) verify(h http.Header, body []byte) (string, codes.Code) {
	agentID := h.Get(api.HeaderAgentID)
	pub, err := hex.DecodeString(agentID)
	if err != nil || len(pub) != ed25519.PublicKeySize || strings.ToLower(agentID) != agentID {
		return "", codes.Unauthenticated
	}
	hts, err := strconv.ParseInt(h.Get(api.HeaderAgentTimestamp), 10, 64)
	if err != nil {
		return "", codes.StaleRequest
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(h.Get(api.HeaderAgentSig))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return "", codes.Unauthenticated
	}
	var f struct {
		AgentID   *string      `json:"agentId"`
		RequestID *string      `json:"requestId"`
		Timestamp *json.Number `json:"timestamp"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil || f.AgentID == nil || f.RequestID == nil || f.Timestamp == nil {
		return "", codes.MalformedRequest
	}
	bts, err := f.Timestamp.Int64()
	if err != nil {
		return "", codes.MalformedRequest
	}
	id, err := uuid.Parse(*f.RequestID)
	if err != nil || id.Version() != 7 || id.String() != *f.RequestID {
		return "", codes.MalformedRequest
	}
	if *f.AgentID != agentID {
		return "", codes.Unauthenticated
	}
	if bts != hts {
		return "", codes.StaleRequest
	}
	if d := c.now().UnixMilli() - bts; d > 30_000 || d < -30_000 {
		return "", codes.StaleRequest
	}
	if !ed25519.Verify(pub, body, sig) {
		return "", codes.Unauthenticated
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	k := agentID + "/" + *f.RequestID
	if c.seen[k] {
		return "", codes.ReplayDetected
	}
	c.seen[k] = true
	return agentID, ""
}

func strp(s string) *string { return &s }

func denyBody(requestID *string, code codes.Code) api.Decision {
	return api.Decision{RequestID: requestID, Decision: api.Deny, Code: strp(string(code)), Reason: strp("denied: " + string(code)), Envelope: json.RawMessage("null")}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderProtocol, api.Protocol)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fakeGateway is a minimal gateway: it authenticates agent calls with
// authChecker and answers intercepts with an allow carrying a real
// attestation, unless the action is "deny-me".
type fakeGateway struct {
	t     *testing.T
	auth  *authChecker
	keys  *attest.Keyset
	srv   *httptest.Server
	mu    sync.Mutex
	last  map[string][]byte // last body per path
	waits int
}

var gwNow = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)

func newFakeGateway(t *testing.T) *fakeGateway {
	seed := make([]byte, 32)
	seed[0] = 9
	k, err := attest.NewKey(seed, gwNow)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := attest.NewKeyset("gw-test", k)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{t: t, auth: &authChecker{now: func() time.Time { return gwNow }}, keys: ks, last: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Write(ks.JWKS(gwNow))
	})
	mux.HandleFunc("POST /v1/intercept", g.agent(g.intercept))
	mux.HandleFunc("POST /v1/intercept/batch", func(w http.ResponseWriter, r *http.Request) { g.batch(w, r, mustRead(r)) })
	mux.HandleFunc("POST /v1/approvals/{id}/wait", g.agent(g.wait))
	mux.HandleFunc("POST /v1/estop/trip", g.agent(g.trip))
	mux.HandleFunc("POST /v1/tokens/delegate", g.agent(g.delegate))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(g.srv.Close)
	return g
}

// agent wraps a handler with §4 authentication; failures answer 401 (400 for
// malformed) with a §5.2 decision body.
func (g *fakeGateway) agent(h func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.last[r.URL.Path] = body
		g.mu.Unlock()
		if _, code := g.auth.verify(r.Header, body); code != "" {
			status := http.StatusUnauthorized
			if code == codes.MalformedRequest {
				status = http.StatusBadRequest
			}
			writeJSON(w, status, denyBody(nil, code))
			return
		}
		h(w, r, body)
	}
}

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (g *fakeGateway) decide(req api.InterceptRequest) (api.Decision, int) {
	rid := req.RequestID
	if req.Action == "deny-me" {
		return denyBody(&rid, codes.InsufficientPermissions), http.StatusForbidden
	}
	ph, err := attest.ParamsHash(req.Params)
	if err != nil {
		return denyBody(&rid, codes.MalformedRequest), http.StatusBadRequest
	}
	env := json.RawMessage(`{"maxVelocityMps":0.5}`)
	tok, err := attest.Sign(g.keys.Active(), attest.Claims{
		Issuer: "gw-test", Subject: req.AgentID, Audience: req.Resource, Action: req.Action, JTI: rid,
		IssuedAt: gwNow.Unix(), ExpiresAt: gwNow.Unix() + 30, TokenID: req.TokenID, Tier: 2,
		ParamsHash: ph, Envelope: env, PolicyHash: strings.Repeat("a", 64), LedgerSeq: 7,
	})
	if err != nil {
		g.t.Error(err)
	}
	return api.Decision{RequestID: &rid, Decision: api.Allow, Tier: 2, Attestation: &tok, Envelope: env,
		Ledger: &api.LedgerRef{EventID: "e", Sequence: 7, Hash: strings.Repeat("b", 64)}, PolicyHash: strp(strings.Repeat("a", 64))}, http.StatusOK
}

func (g *fakeGateway) intercept(w http.ResponseWriter, r *http.Request, body []byte) {
	var req api.InterceptRequest
	if err := strictDecode(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, denyBody(nil, codes.MalformedRequest))
		return
	}
	d, status := g.decide(req)
	writeJSON(w, status, d)
}

// batch mirrors gateway/server: each item is authenticated on its own
// exact bytes and decided like a single intercept.
func (g *fakeGateway) batch(w http.ResponseWriter, r *http.Request, body []byte) {
	var b struct {
		Items []BatchItem `json:"items"`
	}
	if err := strictDecode(body, &b); err != nil || len(b.Items) == 0 || len(b.Items) > MaxBatch {
		writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.MalformedRequest), Message: "bad batch"}})
		return
	}
	out := struct {
		Results []BatchResult `json:"results"`
	}{}
	for _, it := range b.Items {
		h := http.Header{}
		for k, v := range it.Headers {
			h.Set(k, v)
		}
		if _, code := g.auth.verify(h, []byte(it.Body)); code != "" {
			out.Results = append(out.Results, BatchResult{Status: http.StatusUnauthorized, Decision: denyBody(nil, code)})
			continue
		}
		var req api.InterceptRequest
		if err := strictDecode([]byte(it.Body), &req); err != nil {
			out.Results = append(out.Results, BatchResult{Status: http.StatusBadRequest, Decision: denyBody(nil, codes.MalformedRequest)})
			continue
		}
		d, status := g.decide(req)
		out.Results = append(out.Results, BatchResult{Status: status, Decision: d})
	}
	writeJSON(w, http.StatusOK, out)
}

// authOnly is the exact body of a wait: nothing but the §4 fields.
type authOnly struct {
	AgentID   string `json:"agentId"`
	RequestID string `json:"requestId"`
	Timestamp int64  `json:"timestamp"`
}

func (g *fakeGateway) wait(w http.ResponseWriter, r *http.Request, body []byte) {
	var b authOnly
	if err := strictDecode(body, &b); err != nil {
		writeJSON(w, http.StatusBadRequest, denyBody(nil, codes.MalformedRequest))
		return
	}
	g.mu.Lock()
	g.waits++
	n := g.waits
	g.mu.Unlock()
	orig := "019aaf00-0000-7000-8000-000000000001"
	switch id := r.PathValue("id"); {
	case id == "denied":
		writeJSON(w, http.StatusForbidden, denyBody(&orig, codes.ApprovalDenied))
	case id == "pending-twice" && n <= 2:
		writeJSON(w, http.StatusAccepted, api.Decision{RequestID: &orig, Decision: api.Escalate, Tier: 3, ApprovalID: strp(id)})
	default:
		d, status := g.decide(api.InterceptRequest{RequestID: orig, AgentID: b.AgentID, Resource: "ros:///cmd_vel", Action: "publish", TokenID: "t"})
		writeJSON(w, status, d)
	}
}

func (g *fakeGateway) trip(w http.ResponseWriter, r *http.Request, body []byte) {
	var b struct {
		authOnly
		Reason string `json:"reason"`
	}
	if err := strictDecode(body, &b); err != nil || b.Reason == "" {
		writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.MalformedRequest), Message: "bad trip body"}})
		return
	}
	writeJSON(w, http.StatusOK, EstopState{State: "tripped", Epoch: 3, Since: gwNow.UnixMilli(), Reason: b.Reason})
}

func (g *fakeGateway) delegate(w http.ResponseWriter, r *http.Request, body []byte) {
	var b struct {
		authOnly
		Token string `json:"token"`
	}
	if err := strictDecode(body, &b); err != nil {
		writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.MalformedRequest), Message: "bad body"}})
		return
	}
	if b.Token == "widening" {
		writeJSON(w, http.StatusUnprocessableEntity, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.ConstraintViolation), Message: "actions widen the parent's", RequestID: b.RequestID}})
		return
	}
	writeJSON(w, http.StatusCreated, DelegateResult{TokenID: "019aaf00-0000-7000-8000-0000000000bb", Token: b.Token, Claims: json.RawMessage(`{"tier":2}`)})
}

func testAgent(t *testing.T, g *fakeGateway) *Agent {
	seed := make([]byte, 32)
	seed[0] = 1
	return &Agent{BaseURL: g.srv.URL + "/", HTTP: g.srv.Client(), Key: ed25519.NewKeyFromSeed(seed), Now: func() time.Time { return gwNow }}
}

func TestAgentID(t *testing.T) {
	a := &Agent{Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	if got := a.AgentID(); got != "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29" {
		t.Errorf("AgentID = %s", got)
	}
	if (&Agent{Key: make([]byte, 10)}).AgentID() != "" {
		t.Error("AgentID of a bad key is not empty")
	}
}

func TestIntercept(t *testing.T) {
	g := newFakeGateway(t)
	a := testAgent(t, g)
	ctx := context.Background()
	params := json.RawMessage(`{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`)

	t.Run("allow/attestation-verifies-offline", func(t *testing.T) {
		d, status, err := a.Intercept(ctx, api.InterceptRequest{TokenID: "tok-1", Resource: "ros:///cmd_vel", Action: "publish", Params: params})
		if err != nil || status != http.StatusOK || d.Decision != api.Allow || d.Attestation == nil {
			t.Fatalf("decision %+v, status %d, err %v", d, status, err)
		}
		// The bridge's view: fetch the JWKS and check the attestation binds
		// this agent, resource, action and these exact params.
		cache := attest.NewJWKSCache(g.srv.Client(), g.srv.URL+"/.well-known/jwks.json")
		ph, _ := attest.ParamsHash(params)
		c, err := cache.Verify(ctx, *d.Attestation, gwNow, attest.Expect{Issuer: "gw-test", AgentID: a.AgentID(), Resource: "ros:///cmd_vel", Action: "publish", ParamsHash: ph})
		if err != nil {
			t.Fatal(err)
		}
		if c.JTI != *d.RequestID {
			t.Errorf("jti %s != requestId %s", c.JTI, *d.RequestID)
		}
	})
	t.Run("allow/stamps-fresh-uuidv7-request-ids", func(t *testing.T) {
		d1, _, err1 := a.Intercept(ctx, api.InterceptRequest{TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		d2, _, err2 := a.Intercept(ctx, api.InterceptRequest{TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		if err1 != nil || err2 != nil || *d1.RequestID == *d2.RequestID {
			t.Fatalf("request ids %v %v (%v %v)", d1.RequestID, d2.RequestID, err1, err2)
		}
		if u, err := uuid.Parse(*d1.RequestID); err != nil || u.Version() != 7 {
			t.Fatalf("request id %s is not a UUIDv7", *d1.RequestID)
		}
	})
	t.Run("deny/decision-is-not-an-error", func(t *testing.T) {
		d, status, err := a.Intercept(ctx, api.InterceptRequest{TokenID: "t", Resource: "ros:///cmd_vel", Action: "deny-me"})
		if err != nil || status != http.StatusForbidden || d.Decision != api.Deny || *d.Code != string(codes.InsufficientPermissions) {
			t.Fatalf("decision %+v, status %d, err %v", d, status, err)
		}
	})
	t.Run("deny/replayed-request-id", func(t *testing.T) {
		rid := uuid.Must(uuid.NewV7()).String()
		if _, status, _ := a.Intercept(ctx, api.InterceptRequest{RequestID: rid, TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"}); status != 200 {
			t.Fatalf("first status %d", status)
		}
		d, status, err := a.Intercept(ctx, api.InterceptRequest{RequestID: rid, TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		if err != nil || status != http.StatusUnauthorized || *d.Code != string(codes.ReplayDetected) {
			t.Fatalf("decision %+v, status %d, err %v", d, status, err)
		}
	})
	t.Run("deny/stale-clock", func(t *testing.T) {
		skewed := *a
		skewed.Now = func() time.Time { return gwNow.Add(31 * time.Second) }
		d, status, err := skewed.Intercept(ctx, api.InterceptRequest{TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		if err != nil || status != http.StatusUnauthorized || *d.Code != string(codes.StaleRequest) {
			t.Fatalf("decision %+v, status %d, err %v", d, status, err)
		}
	})
	t.Run("reject/foreign-agent-id", func(t *testing.T) {
		_, _, err := a.Intercept(ctx, api.InterceptRequest{AgentID: strings.Repeat("0", 64), TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		if err == nil {
			t.Fatal("sent a request for another agent")
		}
	})
	t.Run("reject/bad-key", func(t *testing.T) {
		bad := &Agent{BaseURL: g.srv.URL, Key: make([]byte, 32)}
		if _, _, err := bad.Intercept(ctx, api.InterceptRequest{Resource: "r", Action: "a"}); err == nil {
			t.Fatal("no error for a 32-byte key")
		}
	})
}

// TestServerSideChecksBite proves the fake gateway's authentication is real:
// each way of breaking the §4 binding is refused with the right code.
func TestServerSideChecksBite(t *testing.T) {
	g := newFakeGateway(t)
	a := testAgent(t, g)
	mk := func() ([]byte, int64) {
		rid, ts, _ := a.Stamp()
		b, _ := json.Marshal(api.InterceptRequest{RequestID: rid, AgentID: a.AgentID(), Timestamp: ts, TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"})
		return b, ts
	}
	send := func(t *testing.T, body []byte, h http.Header) (int, api.Decision) {
		status, resp, err := a.post(context.Background(), "/v1/intercept", body, h)
		if err != nil {
			t.Fatal(err)
		}
		var d api.Decision
		json.Unmarshal(resp, &d)
		return status, d
	}
	cases := []struct {
		name   string
		build  func() ([]byte, http.Header)
		status int
		code   codes.Code
	}{
		{"allow/untouched", func() ([]byte, http.Header) { b, ts := mk(); return b, a.SignHeaders(b, ts) }, 200, ""},
		{"deny/body-changed-after-signing", func() ([]byte, http.Header) {
			b, ts := mk()
			h := a.SignHeaders(b, ts)
			return bytes.Replace(b, []byte("publish"), []byte("subscribe"), 1), h
		}, 401, codes.Unauthenticated},
		{"deny/whitespace-added-after-signing", func() ([]byte, http.Header) {
			b, ts := mk()
			h := a.SignHeaders(b, ts)
			return append(b, ' '), h
		}, 401, codes.Unauthenticated},
		{"deny/header-timestamp-differs", func() ([]byte, http.Header) { b, ts := mk(); return b, a.SignHeaders(b, ts+1) }, 401, codes.StaleRequest},
		{"deny/header-agent-differs", func() ([]byte, http.Header) {
			b, ts := mk()
			h := a.SignHeaders(b, ts)
			h.Set(api.HeaderAgentID, strings.Repeat("1", 64))
			return b, h
		}, 401, codes.Unauthenticated},
		{"deny/signature-by-other-key", func() ([]byte, http.Header) {
			b, ts := mk()
			h := a.SignHeaders(b, ts)
			other := ed25519.NewKeyFromSeed(make([]byte, 32))
			h.Set(api.HeaderAgentSig, base64.RawURLEncoding.EncodeToString(ed25519.Sign(other, b)))
			return b, h
		}, 401, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, h := tc.build()
			status, d := send(t, body, h)
			if status != tc.status || (tc.code != "" && (d.Code == nil || *d.Code != string(tc.code))) {
				t.Fatalf("status %d, decision %+v; want %d %s", status, d, tc.status, tc.code)
			}
		})
	}
}

func TestSign(t *testing.T) {
	a := &Agent{Key: ed25519.NewKeyFromSeed(make([]byte, 32)), Now: func() time.Time { return gwNow }}
	id := a.AgentID()
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"accept/complete", `{"agentId":"` + id + `","requestId":"r","timestamp":1763928000000}`, true},
		{"reject/other-agent", `{"agentId":"` + strings.Repeat("0", 64) + `","requestId":"r","timestamp":1}`, false},
		{"reject/no-timestamp", `{"agentId":"` + id + `","requestId":"r"}`, false},
		{"reject/no-request-id", `{"agentId":"` + id + `","timestamp":1}`, false},
		{"reject/not-json", `agentId=` + id, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := a.Sign([]byte(tc.body))
			if !tc.ok {
				if err == nil {
					t.Fatal("signed")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Get(api.HeaderAgentTimestamp) != "1763928000000" || h.Get(api.HeaderAgentID) != id {
				t.Errorf("headers %v", h)
			}
			sig, _ := base64.RawURLEncoding.Strict().DecodeString(h.Get(api.HeaderAgentSig))
			if !ed25519.Verify(a.Key.Public().(ed25519.PublicKey), []byte(tc.body), sig) {
				t.Error("signature does not verify over the body")
			}
		})
	}
}

func TestInterceptBatch(t *testing.T) {
	g := newFakeGateway(t)
	a := testAgent(t, g)
	ctx := context.Background()
	reqs := []api.InterceptRequest{
		{TokenID: "t", Resource: "ros:///cmd_vel", Action: "publish"},
		{TokenID: "t", Resource: "ros:///cmd_vel", Action: "deny-me"},
		// HTML-special characters survive byte for byte (the signature covers them).
		{TokenID: "t", Resource: "gpio://cell1/gripper", Action: "set", Params: json.RawMessage(`{"note":"a<b & c>d","state":1}`)},
	}
	t.Run("allow/per-item-results", func(t *testing.T) {
		rs, status, err := a.InterceptBatch(ctx, reqs)
		if err != nil || status != 200 || len(rs) != 3 {
			t.Fatalf("%v %d %v", rs, status, err)
		}
		if rs[0].Decision.Decision != api.Allow || rs[1].Decision.Decision != api.Deny || rs[2].Decision.Decision != api.Allow {
			t.Fatalf("results %+v", rs)
		}
		if rs[0].Status != 200 || rs[1].Status != 403 || rs[2].Status != 200 {
			t.Fatalf("statuses %d %d %d", rs[0].Status, rs[1].Status, rs[2].Status)
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[*r.Decision.RequestID] {
				t.Fatal("items share a requestId")
			}
			seen[*r.Decision.RequestID] = true
		}
	})
	t.Run("reject/too-many", func(t *testing.T) {
		if _, _, err := a.InterceptBatch(ctx, make([]api.InterceptRequest, MaxBatch+1)); err == nil {
			t.Fatal("sent a batch over the limit")
		}
	})
	t.Run("reject/empty", func(t *testing.T) {
		if _, _, err := a.InterceptBatch(ctx, nil); err == nil {
			t.Fatal("sent an empty batch")
		}
	})
	t.Run("deny/items-unauthenticated-with-stale-clock", func(t *testing.T) {
		skewed := *a
		skewed.Now = func() time.Time { return gwNow.Add(-time.Minute) }
		rs, status, err := skewed.InterceptBatch(ctx, reqs[:1])
		if err != nil || status != 200 || rs[0].Status != 401 || *rs[0].Decision.Code != string(codes.StaleRequest) {
			t.Fatalf("%+v %d %v", rs, status, err)
		}
	})
}

func TestWaitApproval(t *testing.T) {
	g := newFakeGateway(t)
	a := testAgent(t, g)
	ctx := context.Background()
	t.Run("allow/approved", func(t *testing.T) {
		d, status, err := a.WaitApproval(ctx, "019aaf00-0000-7000-8000-0000000000cc")
		if err != nil || status != 200 || d.Decision != api.Allow || *d.RequestID != "019aaf00-0000-7000-8000-000000000001" {
			t.Fatalf("%+v %d %v", d, status, err)
		}
		g.mu.Lock()
		body := g.last["/v1/approvals/019aaf00-0000-7000-8000-0000000000cc/wait"]
		g.mu.Unlock()
		var m map[string]any
		json.Unmarshal(body, &m)
		if len(m) != 3 || m["agentId"] != a.AgentID() || m["requestId"] == nil || m["timestamp"] == nil {
			t.Fatalf("wait body %s", body)
		}
	})
	t.Run("deny/approval-denied", func(t *testing.T) {
		d, status, err := a.WaitApproval(ctx, "denied")
		if err != nil || status != 403 || *d.Code != string(codes.ApprovalDenied) {
			t.Fatalf("%+v %d %v", d, status, err)
		}
	})
	t.Run("escalate/await-until-resolved", func(t *testing.T) {
		old := minPollInterval
		minPollInterval = time.Millisecond
		defer func() { minPollInterval = old }()
		g.mu.Lock()
		g.waits = 0
		g.mu.Unlock()
		d, status, err := a.AwaitApproval(ctx, "pending-twice")
		if err != nil || status != 200 || d.Decision != api.Allow {
			t.Fatalf("%+v %d %v", d, status, err)
		}
		if g.waits != 3 {
			t.Fatalf("waits = %d, want 3", g.waits)
		}
	})
	t.Run("escalate/await-honours-context", func(t *testing.T) {
		g.mu.Lock()
		g.waits = 0
		g.mu.Unlock()
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := a.AwaitApproval(ctx, "pending-twice"); err == nil {
			t.Fatal("no error with a cancelled context")
		}
	})
}

func TestTripAndDelegate(t *testing.T) {
	g := newFakeGateway(t)
	a := testAgent(t, g)
	ctx := context.Background()
	t.Run("trip/returns-state", func(t *testing.T) {
		st, err := a.Trip(ctx, "obstacle in cell 1")
		if err != nil || st == nil || st.State != "tripped" || st.Reason != "obstacle in cell 1" {
			t.Fatalf("%+v %v", st, err)
		}
	})
	t.Run("trip/unauthenticated-is-an-api-error", func(t *testing.T) {
		skewed := *a
		skewed.Now = func() time.Time { return gwNow.Add(time.Hour) }
		_, err := skewed.Trip(ctx, "x")
		if codes.Of(err) != codes.StaleRequest {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("delegate/registered", func(t *testing.T) {
		res, err := a.Delegate(ctx, "a.b.c")
		if err != nil || res.Token != "a.b.c" || res.TokenID == "" {
			t.Fatalf("%+v %v", res, err)
		}
	})
	t.Run("delegate/refused-with-code", func(t *testing.T) {
		_, err := a.Delegate(ctx, "widening")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != string(codes.ConstraintViolation) || ae.RequestID == "" {
			t.Fatalf("err %#v", err)
		}
	})
}

func TestOperatorDo(t *testing.T) {
	type root struct {
		PublicKey string `json:"publicKey"`
		Name      string `json:"name,omitempty"`
	}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer sk_k1_secret" {
				writeJSON(w, 401, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.Unauthenticated), Message: "bad key"}})
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("POST /v1/roots", auth(func(w http.ResponseWriter, r *http.Request) {
		var in root
		if err := strictDecode(mustRead(r), &in); err != nil || r.Header.Get("Content-Type") != "application/json" {
			writeJSON(w, 400, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.MalformedRequest), Message: "bad"}})
			return
		}
		writeJSON(w, 201, in)
	}))
	mux.HandleFunc("GET /v1/roots", auth(func(w http.ResponseWriter, r *http.Request) {
		if n, _ := r.Body.Read(make([]byte, 1)); n != 0 {
			t.Error("GET sent a body")
		}
		writeJSON(w, 200, []root{{PublicKey: "aa"}})
	}))
	mux.HandleFunc("DELETE /v1/roots/{k}", auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 403, api.ErrorBody{Error: api.ErrorDetail{Code: string(codes.Forbidden), Message: "needs admin", RequestID: "rq"}})
	}))
	mux.HandleFunc("GET /v1/ledger/export", auth(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("{\"a\":1}\n{\"a\":2}\n"))
	}))
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		w.Write([]byte("<html>bad gateway</html>"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	o := &Operator{BaseURL: srv.URL, HTTP: srv.Client(), APIKey: "sk_k1_secret"}

	t.Run("ok/post-struct-decode-out", func(t *testing.T) {
		var out root
		if err := o.Do(ctx, "POST", "/v1/roots", root{PublicKey: "ab", Name: "r"}, &out); err != nil || out.PublicKey != "ab" {
			t.Fatalf("%+v %v", out, err)
		}
	})
	t.Run("ok/raw-body-in-raw-out", func(t *testing.T) {
		var out []byte
		if err := o.Do(ctx, "POST", "/v1/roots", []byte(`{"publicKey":"cd"}`), &out); err != nil || !bytes.Contains(out, []byte(`"cd"`)) {
			t.Fatalf("%s %v", out, err)
		}
	})
	t.Run("ok/get-without-body", func(t *testing.T) {
		var out []root
		if err := o.Do(ctx, "GET", "/v1/roots", nil, &out); err != nil || len(out) != 1 {
			t.Fatalf("%+v %v", out, err)
		}
	})
	t.Run("error/forbidden-typed", func(t *testing.T) {
		err := o.Do(ctx, "DELETE", "/v1/roots/aa", nil, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 403 || ae.Code != "FORBIDDEN" || ae.Message != "needs admin" || ae.RequestID != "rq" {
			t.Fatalf("%#v", err)
		}
		if codes.Of(err) != codes.Forbidden {
			t.Errorf("codes.Of = %s", codes.Of(err))
		}
	})
	t.Run("error/unknown-field-rejected-by-server", func(t *testing.T) {
		err := o.Do(ctx, "POST", "/v1/roots", map[string]any{"publicKey": "ab", "bogus": 1}, nil)
		if codes.Of(err) != codes.MalformedRequest {
			t.Fatalf("%v", err)
		}
	})
	t.Run("error/wrong-key", func(t *testing.T) {
		bad := *o
		bad.APIKey = "sk_k1_wrong"
		if err := bad.Do(ctx, "GET", "/v1/roots", nil, nil); codes.Of(err) != codes.Unauthenticated {
			t.Fatalf("%v", err)
		}
	})
	t.Run("error/non-json-body", func(t *testing.T) {
		err := o.Do(ctx, "GET", "/broken", nil, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "" || !strings.Contains(ae.Message, "bad gateway") {
			t.Fatalf("%#v", err)
		}
		if codes.Of(err) != codes.InternalError {
			t.Errorf("codes.Of = %s", codes.Of(err))
		}
	})
	t.Run("ok/open-stream", func(t *testing.T) {
		resp, err := o.Open(ctx, "GET", "/v1/ledger/export", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if strings.Count(string(b), "\n") != 2 {
			t.Fatalf("%q", b)
		}
	})
	t.Run("error/open-forbidden", func(t *testing.T) {
		if _, err := o.Open(ctx, "DELETE", "/v1/roots/aa", nil); codes.Of(err) != codes.Forbidden {
			t.Fatalf("%v", err)
		}
	})
}

func mustRead(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}
