package mcpbridge_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// tokenOn registers a token for agent "mcpagent" on resource (action call
// and the bridge's report actions) and returns its id.
func (h *gw) tokenOn(resource string) string {
	h.t.Helper()
	c := tokentest.Root("root", "mcpagent", int(time.Now().UnixNano()%1e9)+1, time.Now().UnixMilli())
	c.Resource = resource
	c.Actions = []string{"call", mcpbridge.ActionToolFlagged, mcpbridge.ActionToolPinned, mcpbridge.ActionResultFlagged, mcpbridge.ActionRepin}
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return c.TokenID
}

// TestGroupOfServers puts two downstream servers behind one bridge served
// over streamable HTTP: a Go SDK server ("testfs") and the official
// TypeScript SDK peer ("peer", hostile.mjs clean, over stdio). Both offer a
// readFile: the agent sees testfs__readFile and peer__readFile, each call
// is gated as mcp://<its server>/readFile under that server's token and
// reaches only its own server.
func TestGroupOfServers(t *testing.T) {
	peerT := hostile(t, "clean")
	if peerT == nil {
		return
	}
	g := newGateway(t)
	agent, tokA, _ := g.agentToken()
	tokB := g.tokenOn("mcp://peer/**")
	rec := mcpbridgetest.NewRecorder(nil)
	cfg := func(server string, down mcp.Transport, tokenID string) mcpbridge.Config {
		return mcpbridge.Config{ServerName: server, Downstream: down, Gateway: agent,
			Verifier: attest.NewJWKSCache(nil, g.url+"/.well-known/jwks.json"), TokenID: tokenID,
			CallTimeout: 5 * time.Second, Log: quiet}
	}
	ctx := context.Background()
	grp, err := mcpbridge.NewGroup(ctx, nil, quiet, []mcpbridge.Config{
		cfg("testfs", serveDownstream(t, mcpbridgetest.NewServer(rec)), tokA),
		cfg("peer", peerT, tokB),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = grp.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- grp.ServeHTTP(sctx, ln, mcpbridge.HTTPOptions{Token: httpToken}) }()
	t.Cleanup(func() { stop(); <-done })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "v1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: "http://" + ln.Addr().String() + "/mcp", HTTPClient: httpClient(httpToken), MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })

	tools := toolNames(t, cs)
	for _, want := range []string{"testfs__readFile", "testfs__deleteFile", "peer__readFile", "peer__deleteFile"} {
		if _, ok := tools[want]; !ok {
			t.Errorf("%s not offered", want)
		}
	}
	for name := range tools {
		if !strings.HasPrefix(name, "testfs__") && !strings.HasPrefix(name, "peer__") {
			t.Errorf("tool %q is not under a server", name)
		}
	}
	call := func(tool, path string) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: map[string]any{"path": path}})
		if err != nil {
			t.Fatalf("call %s: %v", tool, err)
		}
		return res
	}
	if res := call("testfs__readFile", "/a"); res.IsError || contentText(res) != "contents of /a" {
		t.Fatalf("testfs__readFile: %q", contentText(res))
	}
	if res := call("peer__readFile", "/b"); res.IsError || contentText(res) != "contents of /b" {
		t.Fatalf("peer__readFile: %q", contentText(res))
	}
	if calls := rec.Calls(); len(calls) != 1 || string(calls[0].Arguments) != `{"path":"/a"}` {
		t.Fatalf("testfs calls %+v (the peer's call reached testfs?)", calls)
	}
	g.waitDecisions("call", "mcp://peer/readFile")
	g.waitDecisions("call", "mcp://testfs/readFile")
	o := outcome(t, call("peer__deleteFile", "/b"))
	if o.Code != "TIER_EXCEEDED" || o.Resource != "mcp://peer/deleteFile" {
		t.Fatalf("peer__deleteFile: %+v", o)
	}
	bs := grp.Bridges()
	if s := bs[1].Stats(); s.Forwarded != 1 || s.Denied != 1 {
		t.Fatalf("peer stats %+v", s)
	}
	if !slices.Contains(bs[0].Tools(), "readFile") {
		t.Fatalf("testfs tools %v", bs[0].Tools())
	}
	stop()
	<-done
	done <- nil // for the cleanup
	for _, b := range bs {
		if l, _ := b.Latched(); !l {
			t.Errorf("%v not latched after ServeHTTP returned", b.Tools())
		}
	}
}

// TestGroupServerNames: names with "_" (ambiguous tool names) and the same
// name twice are refused before anything is connected.
func TestGroupServerNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
	}{
		{"underscore", []string{"a_b"}},
		{"twice", []string{"fs", "fs"}},
		{"none", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfgs []mcpbridge.Config
			for _, n := range tc.names {
				cfgs = append(cfgs, mcpbridge.Config{ServerName: n})
			}
			if _, err := mcpbridge.NewGroup(context.Background(), nil, nil, cfgs); err == nil {
				t.Fatal("NewGroup accepted it")
			}
		})
	}
}
