package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// clock is a settable clock shared by the gateway and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// harness is one gateway served on a loopback port.
type harness struct {
	t        *testing.T
	g        *Gateway
	url      string
	adminKey string
	clock    *clock
	http     *http.Client
	nextN    int
}

func newHarness(t *testing.T, policyPath string) *harness {
	t.Helper()
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, created, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil || !created {
		t.Fatalf("init: created=%v err=%v", created, err)
	}
	g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: policyPath, Clock: ck.Now})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() {
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	return &harness{t: t, g: g, url: "http://" + ln.Addr().String(), adminKey: res.AdminAPIKey, clock: ck, http: &http.Client{Timeout: 10 * time.Second}, nextN: 1000}
}

// do sends a request and decodes the JSON answer into out (if non-nil).
func (h *harness) do(method, path string, hdr map[string]string, body []byte, out any) int {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get(api.HeaderProtocol) != api.Protocol && path != "/metrics" {
		h.t.Errorf("%s %s: X-SINT-Protocol = %q", method, path, resp.Header.Get(api.HeaderProtocol))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.t.Fatalf("%s %s: status %d, body %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// admin calls an operator endpoint with the admin key.
func (h *harness) admin(method, path string, in, out any) int {
	h.t.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	return h.do(method, path, map[string]string{"Authorization": "Bearer " + h.adminKey}, body, out)
}

// n returns a fresh number for token ids and nonces.
func (h *harness) n() int { h.nextN++; return h.nextN }

// trustRoot registers the named test key as a trusted root.
func (h *harness) trustRoot(name string) {
	h.t.Helper()
	if st := h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub(name), "name": name}, nil); st != 201 {
		h.t.Fatalf("add root: %d", st)
	}
}

// register registers a token with the admin key and fails the test on error.
func (h *harness) register(t *tokens.Token) {
	h.t.Helper()
	var out map[string]any
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": t.Raw}, &out); st != 201 {
		h.t.Fatalf("register token: %d %v", st, out)
	}
	if out["token"] != t.Raw {
		h.t.Fatalf("registered token bytes differ")
	}
}

// rootToken signs root claims from issuer "root" for the named agent, with
// mutate applied before signing.
func (h *harness) rootToken(agent string, mutate func(c *tokens.Claims)) *tokens.Token {
	c := tokentest.Root("root", agent, h.n(), h.clock.Now().UnixMilli())
	if mutate != nil {
		mutate(&c)
	}
	return tokentest.Sign("root", c)
}

// signed builds the headers and body of a signed agent request. body must
// already contain agentId and timestamp equal to ts.
func signed(agent string, body []byte, ts int64) map[string]string {
	sig := ed25519.Sign(tokentest.Key(agent), body)
	return map[string]string{
		api.HeaderAgentID:        tokentest.Pub(agent),
		api.HeaderAgentTimestamp: strconv.FormatInt(ts, 10),
		api.HeaderAgentSig:       base64.RawURLEncoding.EncodeToString(sig),
	}
}

// interceptBody returns a fresh intercept body for agent.
func (h *harness) interceptBody(agent string, mutate func(m map[string]any)) map[string]any {
	m := map[string]any{
		"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub(agent),
		"timestamp": h.clock.Now().UnixMilli(), "resource": "ros:///cmd_vel", "action": "publish",
		"params": map[string]any{"linear": map[string]any{"x": 0.2, "y": 0, "z": 0}, "angular": map[string]any{"x": 0, "y": 0, "z": 0.1}},
	}
	if mutate != nil {
		mutate(m)
	}
	return m
}

// intercept signs and sends m as agent.
func (h *harness) intercept(agent string, m map[string]any) (int, api.Decision) {
	h.t.Helper()
	body, _ := json.Marshal(m)
	ts, _ := m["timestamp"].(int64)
	var d api.Decision
	st := h.do("POST", "/v1/intercept", signed(agent, body, ts), body, &d)
	return st, d
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

var _ = fmt.Sprint

func defaultClient() *http.Client { return &http.Client{Timeout: 10 * time.Second} }
