package mcpbridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

var quiet = slog.New(slog.DiscardHandler)

// gw is one gateway served in-process on a loopback port (the pattern of
// bridges/rosbridge/harness_test.go).
type gw struct {
	*apptest.Gateway
	t        testing.TB
	g        *app.Gateway
	url      string
	adminKey string

	agent   *client.Agent // from agentToken, set by newRig
	tokenID string
	jws     string
}

func newGateway(t testing.TB) *gw {
	t.Helper()
	a := apptest.Start(t, "testdata/policy.yaml")
	// Heartbeats every 100 ms: the gateway's stream writer notices a gone
	// bridge stream at the next one, so stopping the gateway does not wait
	// for the 15 s default.
	a.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	return &gw{Gateway: a, t: t, g: a.G, url: a.URL, adminKey: a.AdminKey}
}

// stop shuts the gateway down (a killed gateway, as far as clients see).
func (h *gw) stop() { h.Stop() }

// admin calls an operator endpoint with the admin key.
func (h *gw) admin(method, path string, in, out any) int {
	h.t.Helper()
	return h.Admin(method, path, in, out)
}

// readKey creates an operator key with only the read scope.
func (h *gw) readKey() string {
	h.t.Helper()
	var out struct{ Key string }
	if st := h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "mcpbridge", "scopes": []string{"read"}}, &out); st != 201 {
		h.t.Fatalf("apikey: %d", st)
	}
	return out.Key
}

// agentToken trusts root "root" and registers a token for agent "mcpagent"
// on mcp://testfs/** call, tier 3. It returns the agent, the token id and
// the token's JWS.
func (h *gw) agentToken() (*client.Agent, string, string) {
	h.t.Helper()
	if st := h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		h.t.Fatalf("add root: %d", st)
	}
	c := tokentest.Root("root", "mcpagent", int(time.Now().UnixNano()%1e9), time.Now().UnixMilli())
	c.Resource = "mcp://testfs/**"
	c.Actions = agentActions
	tok := tokentest.Sign("root", c)
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return &client.Agent{BaseURL: h.url, HTTP: &http.Client{Timeout: 40 * time.Second}, Key: tokentest.Key("mcpagent")}, c.TokenID, tok.Raw
}

// agentActions are the actions of the rig's tokens: tool calls, resource
// reads, prompt gets and the bridge's own reports and repin requests.
var agentActions = []string{"call", mcpbridge.ActionRead, mcpbridge.ActionGet, mcpbridge.ActionToolFlagged, mcpbridge.ActionToolPinned,
	mcpbridge.ActionResultFlagged, mcpbridge.ActionRepin, mcpbridge.ActionResourceFlagged, mcpbridge.ActionPromptFlagged}

// tokenFor registers another token of agent "mcpagent" (its root already
// trusted by agentToken) on resource with agentActions, tier 3, and
// returns its id and JWS.
func (h *gw) tokenFor(resource string) (string, string) {
	h.t.Helper()
	c := tokentest.Root("root", "mcpagent", int(time.Now().UnixNano()%1e9), time.Now().UnixMilli())
	c.Resource = resource
	c.Actions = agentActions
	tok := tokentest.Sign("root", c)
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return c.TokenID, tok.Raw
}

func (h *gw) trip() {
	h.t.Helper()
	if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "test trip"}, nil); st/100 != 2 {
		h.t.Fatalf("trip: %d", st)
	}
}

func (h *gw) reset() {
	h.t.Helper()
	if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "test reset"}, nil); st/100 != 2 {
		h.t.Fatalf("reset: %d", st)
	}
}

// pendingApproval waits until the gateway has a pending approval on
// resource and returns its id.
func (h *gw) pendingApproval(resource string) string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Approvals []struct {
				ApprovalID, State, Resource string
			}
		}
		h.admin("GET", "/v1/approvals?state=pending", nil, &out)
		for _, a := range out.Approvals {
			if a.State == "pending" && a.Resource == resource {
				return a.ApprovalID
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no pending approval on %s", resource)
	return ""
}

// The approval is listed as soon as the store has it, which can be before
// its escalation's ledger batch commits; the gateway then answers 409 "not
// in the ledger yet; retry" (docs/approvals.md), and so vote retries that
// answer for a while, as an operator would.
func (h *gw) vote(id, how string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out map[string]any
		st := h.admin("POST", "/v1/approvals/"+id+"/"+how, map[string]string{"reason": "test " + how}, &out)
		if st/100 == 2 {
			return
		}
		if st == 409 && strings.Contains(fmt.Sprint(out), "not in the ledger yet") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		h.t.Fatalf("%s %s: %d %v", how, id, st, out)
	}
}

// rig is a gateway, the test downstream server, a bridge in front of it and
// an agent session connected to the bridge, all in-process (the MCP links
// are the SDK's in-memory transports).
type rig struct {
	t    testing.TB
	gw   *gw
	rec  *mcpbridgetest.Recorder
	down *mcp.Server // the downstream server
	// downSession is the downstream server's session with the bridge.
	downSession *mcp.ServerSession
	bridge      *mcpbridge.Bridge
	agent       *mcp.ClientSession
	cancel      context.CancelFunc
	done        chan error
	url         string // the streamable HTTP endpoint (rigOpts.http)

	callCtx    context.Context // async calls; cancelled first at cleanup
	callCancel context.CancelFunc

	releaseOnce sync.Once
}

type rigOpts struct {
	server  string // Config.ServerName; default "testfs"
	poll    bool   // give the bridge a read-only operator key for the e-stop poll
	noPush  bool   // with poll: poll only (bridges.PollOnly), no pushed trips
	every   time.Duration
	maxWait time.Duration
	now     func() time.Time
	wrap    func(mcpbridge.Decider) mcpbridge.Decider
	inline  bool   // send the token's JWS instead of its id
	issuer  string // Config.Issuer
	max     int    // Config.MaxInFlight
	// setup adds tools to the downstream server before the bridge lists them.
	setup   func(s *mcp.Server)
	pins    *mcpbridge.Pins        // Config.Pins
	allow   map[string]string      // Config.AllowFlagged
	results mcpbridge.ResultPolicy // Config.ResultPolicy
	gw      *gw                    // reuse this gateway (a restarted bridge)
	// downstream replaces the in-memory test server (r.down is then nil).
	downstream mcp.Transport
	// token replaces the gateway's agent token: its id and JWS (tokenFor).
	tokenID, jws string
	// scope is Config.Scope (nil: the token's, when inline).
	scope *mcpbridge.Scope
	// relistAge is Config.RelistAge.
	relistAge time.Duration
	// http serves the bridge to the agent over streamable HTTP
	// (ServeHTTP on a loopback port, bearer token httpToken) instead of
	// the in-memory transport; r.url is its endpoint.
	http bool
}

// httpToken is the bearer token of a rig served over streamable HTTP.
const httpToken = "test-bearer-token-0123456789abcdef0123456789"

// bearer is an http.RoundTripper that adds Authorization: Bearer token.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// httpClient returns an HTTP client that presents token (none if empty).
func httpClient(token string) *http.Client {
	if token == "" {
		return &http.Client{}
	}
	return &http.Client{Transport: bearer{token, http.DefaultTransport}}
}

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	ctx := context.Background()
	g := o.gw
	if g == nil {
		g = newGateway(t)
		g.agent, g.tokenID, g.jws = g.agentToken()
	}
	agent, tokenID, jws := g.agent, g.tokenID, g.jws
	if o.tokenID != "" {
		tokenID, jws = o.tokenID, o.jws
	}
	r := &rig{t: t, gw: g, rec: mcpbridgetest.NewRecorder(nil)}

	var dct mcp.Transport = o.downstream
	var err error
	if dct == nil {
		var dst mcp.Transport
		dct, dst = mcp.NewInMemoryTransports()
		r.down = mcpbridgetest.NewServer(r.rec)
		if o.setup != nil {
			o.setup(r.down)
		}
		r.downSession, err = r.down.Connect(ctx, dst, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.downSession.Close() })
	}

	if o.server == "" {
		o.server = "testfs"
	}
	var dec mcpbridge.Decider = agent
	if o.wrap != nil {
		dec = o.wrap(agent)
	}
	cfg := mcpbridge.Config{
		ServerName: o.server, Downstream: dct, Gateway: dec,
		Verifier: attest.NewJWKSCache(nil, g.url+"/.well-known/jwks.json"),
		TokenID:  tokenID, Issuer: o.issuer, PollInterval: o.every, CallTimeout: 5 * time.Second, MaxWait: o.maxWait,
		Now: o.now, Log: quiet, MaxInFlight: o.max,
		Pins: o.pins, AllowFlagged: o.allow, ResultPolicy: o.results,
		Scope: o.scope, RelistAge: o.relistAge,
	}
	if o.inline {
		cfg.TokenID, cfg.Token = "", jws
	}
	if o.poll {
		// 5 s, not less: the poll runs every 10-20 ms, and one gateway stall
		// longer than the timeout under -race on a loaded CI machine would
		// latch "unreachable" and refuse a call the test expects through.
		cfg.Estop = mcpbridge.OperatorEstop{Op: &client.Operator{BaseURL: g.url, APIKey: g.readKey(), HTTP: &http.Client{Timeout: 5 * time.Second}}}
		if o.noPush {
			cfg.Estop = bridges.PollOnly{EstopReader: cfg.Estop}
		}
	}
	r.bridge, err = mcpbridge.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.bridge.Close() })

	var uct mcp.Transport
	rctx, cancel := context.WithCancel(ctx)
	r.cancel, r.done = cancel, make(chan error, 1)
	if o.http {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		r.url = "http://" + ln.Addr().String() + "/mcp"
		go func() { r.done <- r.bridge.ServeHTTP(rctx, ln, mcpbridge.HTTPOptions{Token: httpToken}) }()
		uct = &mcp.StreamableClientTransport{Endpoint: r.url, HTTPClient: httpClient(httpToken), MaxRetries: -1}
	} else {
		var ust mcp.Transport
		uct, ust = mcp.NewInMemoryTransports()
		go func() { r.done <- r.bridge.Run(rctx, ust) }()
	}
	t.Cleanup(r.stop)
	r.agent, err = mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "v1"}, nil).Connect(ctx, uct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.agent.Close() })
	// Runs first: a slow tool still running lets go, so that a failing
	// test ends instead of hanging in the cleanups.
	t.Cleanup(r.release)
	r.callCtx, r.callCancel = context.WithCancel(ctx)
	t.Cleanup(r.callCancel) // likewise for calls still waiting
	return r
}

// release lets the slow tool return normally (once; later calls do nothing).
func (r *rig) release() { r.releaseOnce.Do(func() { close(r.rec.Release) }) }

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("bridge Run: %v", err)
		}
		r.cancel = nil
	}
}

// call calls a tool through the bridge; a protocol error fails the test.
func (r *rig) call(tool string, args any) *mcp.CallToolResult {
	r.t.Helper()
	res, err := r.agent.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		r.t.Fatalf("call %s: %v", tool, err)
	}
	return res
}

// async calls a tool in its own goroutine.
func (r *rig) async(tool string, args any) <-chan *mcp.CallToolResult {
	ch := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := r.agent.CallTool(r.callCtx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil && r.callCtx.Err() == nil {
			r.t.Errorf("call %s: %v", tool, err)
		}
		ch <- res
	}()
	return ch
}

// waitLatched waits until the bridge's latch is in state want.
func (r *rig) waitLatched(want bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ := r.bridge.Latched(); got == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("bridge latched never became %v", want)
}

// outcome returns the refusal carried by res, failing the test if res is
// not one.
func outcome(t testing.TB, res *mcp.CallToolResult) mcpbridge.Outcome {
	t.Helper()
	if res == nil {
		t.Fatal("no result")
	}
	o, ok := mcpbridge.OutcomeOf(res)
	if !ok {
		t.Fatalf("result is not a refusal: isError=%v content=%s", res.IsError, contentText(res))
	}
	return o
}

func contentText(res *mcp.CallToolResult) string {
	var b bytes.Buffer
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("bad JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

// recv receives from ch, failing the test if nothing arrives within a
// generous bound (a hang guard, not a timing assertion).
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s within 20 s", what)
		var zero T
		return zero
	}
}

// waitStreams waits until the gateway has n approval-stream subscribers
// (the bridge's pushed e-stop stream is open).
func (h *gw) waitStreams(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if subs, _ := h.g.Approvals.Events().Stats(); subs >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d stream subscribers after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
