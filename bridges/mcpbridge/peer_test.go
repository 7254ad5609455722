package mcpbridge_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/internal/testenv"
)

// hostile returns the transport of testdata/peer/hostile.mjs in mode: a
// downstream MCP server written with the official TypeScript SDK, installed
// by `scripts/services.sh up mcppeer` (SINT_TEST_MCP_PEER). Missing, the
// test is skipped, except under CI=true, where it fails.
func hostile(t *testing.T, mode string) mcp.Transport {
	t.Helper()
	node, dir := peer(t)
	if node == "" {
		return nil // skipped (fails under CI=true)
	}
	cmd := exec.Command(node, filepath.Join(dir, "hostile.mjs"), mode)
	cmd.Stderr = os.Stderr
	return &mcp.CommandTransport{Command: cmd}
}

// peer returns node and the directory of the TypeScript SDK peer scripts
// (SINT_TEST_MCP_PEER, default testdata/peer); node is "" when the test is
// skipped (it fails under CI=true).
func peer(t *testing.T) (node, dir string) {
	t.Helper()
	dir = os.Getenv("SINT_TEST_MCP_PEER")
	if dir == "" {
		dir = "testdata/peer"
	}
	node = testenv.Program(t, "node", "apt-get install nodejs")
	if node == "" || !testenv.File(t, filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk"), "scripts/services.sh up mcppeer") {
		return "", ""
	}
	return node, dir
}

// TestHostilePeersFromNPM runs the bridge in front of hostile MCP servers
// written with the official TypeScript SDK.
func TestHostilePeersFromNPM(t *testing.T) {
	t.Run("poisoned-description-not-offered", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "poison")})
		tools := toolNames(t, r.agent)
		if _, ok := tools["calibrate"]; ok {
			t.Error("poisoned calibrate is offered")
		}
		if _, ok := tools["readNote"]; !ok {
			t.Error("clean readNote is not offered")
		}
		if fl := r.bridge.Flagged(); len(fl) != 1 || fl[0].Tool != "calibrate" || fl[0].Finding.PatternID == "" {
			t.Fatalf("flagged = %+v", fl)
		}
		r.gw.waitDecisions(mcpbridge.ActionToolFlagged, "mcp://testfs/calibrate")
	})

	t.Run("rug-pull-refused-until-approved", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "rugpull")})
		if got := contentText(r.call("readFile", map[string]any{"path": "/a"})); got != "contents v1" {
			t.Fatalf("first call: %q", got)
		}
		// The server changes readFile's description and notifies.
		waitChanged(t, r.bridge, []string{"readFile"})
		o := outcome(t, r.call("readFile", map[string]any{"path": "/b"}))
		if o.Code != string(mcpbridge.CodeToolChanged) {
			t.Fatalf("call after the change: %+v", o)
		}
		id := r.gw.pendingApproval("mcp://testfs/readFile")
		r.gw.vote(id, "approve")
		waitChanged(t, r.bridge, []string{})
		if d := toolNames(t, r.agent)["readFile"].Description; d != "Read a file, better (v2)." {
			t.Errorf("approved tool offered as %q", d)
		}
		if got := contentText(r.call("readFile", map[string]any{"path": "/c"})); got != "contents v2" {
			t.Fatalf("call after approval: %q", got)
		}
	})

	t.Run("injected-result-redacted", func(t *testing.T) {
		r := newRig(t, rigOpts{downstream: hostile(t, "steer")})
		res := r.call("readNote", map[string]any{})
		text := contentText(res)
		if res.IsError || strings.Contains(strings.ToLower(text), "ignore all previous") || !strings.Contains(text, "[sintgate: redacted") {
			t.Fatalf("result: isError=%v %q", res.IsError, text)
		}
		st, _ := res.StructuredContent.(map[string]any)
		if note, _ := st["note"].(string); !strings.HasPrefix(note, "[sintgate: redacted") || st["status"] != "ok" {
			t.Fatalf("structured content: %v", res.StructuredContent)
		}
		r.gw.waitDecisions(mcpbridge.ActionResultFlagged, "mcp://testfs/readNote")
		if !slices.Contains(r.bridge.Tools(), "readNote") {
			t.Error("readNote not offered")
		}
	})
}

// TestSilentRugPullCaughtBeforeTheCall: a server (the TypeScript SDK peer)
// that changes a tool's definition after the first call without sending
// tools/list_changed. The bridge lists the tools again before each call
// (Config.RelistAge 0, the default), so the second call is refused
// TOOL_DEFINITION_CHANGED and never reaches the server; only the operator's
// approval lets the new definition through.
func TestSilentRugPullCaughtBeforeTheCall(t *testing.T) {
	r := newRig(t, rigOpts{downstream: hostile(t, "silentrug")})
	if got := contentText(r.call("readFile", map[string]any{"path": "/a"})); got != "contents v1" {
		t.Fatalf("first call: %q", got)
	}
	o := outcome(t, r.call("readFile", map[string]any{"path": "/b"}))
	if o.Code != string(mcpbridge.CodeToolChanged) {
		t.Fatalf("call after the silent change: %+v", o)
	}
	if st := r.bridge.Stats(); st.Forwarded != 1 || st.Relists < 2 {
		t.Fatalf("stats %+v: want the second call not forwarded, and a listing before each call", st)
	}
	id := r.gw.pendingApproval("mcp://testfs/readFile")
	r.gw.vote(id, "approve")
	waitChanged(t, r.bridge, []string{})
	if got := contentText(r.call("readFile", map[string]any{"path": "/c"})); got != "contents v2" {
		t.Fatalf("call after approval: %q", got)
	}
}

// reference returns the transport of a reference MCP server from npm
// (testdata/peer/node_modules/@modelcontextprotocol/<pkg>, installed with
// the peer by `scripts/services.sh up mcppeer`) run with args.
func reference(t *testing.T, pkg string, args ...string) mcp.Transport {
	t.Helper()
	node, dir := peer(t)
	if node == "" {
		return nil
	}
	main := filepath.Join(dir, "node_modules", "@modelcontextprotocol", pkg, "dist", "index.js")
	if !testenv.File(t, main, "scripts/services.sh up mcppeer") {
		return nil
	}
	cmd := exec.Command(node, append([]string{main}, args...)...)
	cmd.Stderr = io.Discard
	return &mcp.CommandTransport{Command: cmd}
}

// TestReferenceEverythingServer: the reference server-everything from npm
// behind the bridge: its resources, resource templates and prompts are
// offered under their gated names and read or got through the gateway.
func TestReferenceEverythingServer(t *testing.T) {
	down := reference(t, "server-everything", "stdio")
	if down == nil {
		return
	}
	g := newGateway(t)
	g.agent, g.tokenID, g.jws = g.agentToken()
	id, jws := g.tokenFor("mcp://everything/**")
	r := newRig(t, rigOpts{gw: g, server: "everything", tokenID: id, jws: jws, inline: true, downstream: down})
	ctx := context.Background()

	lr, err := r.agent.ListResources(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := "mcp://everything/resource/demo%3A%2F%2Fresource%2Fstatic%2Fdocument%2Farchitecture.md"
	var uris []string
	for _, x := range lr.Resources {
		uris = append(uris, x.URI)
	}
	if !slices.Contains(uris, doc) {
		t.Fatalf("resources %v: no %s", uris, doc)
	}
	rr, err := r.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: doc})
	if err != nil || len(rr.Contents) != 1 || len(rr.Contents[0].Text) == 0 || rr.Contents[0].URI != doc {
		t.Fatalf("read %s: %v %+v", doc, err, rr)
	}
	r.gw.waitDecisions(mcpbridge.ActionRead, doc)

	lt, err := r.agent.ListResourceTemplates(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tmpls []string
	for _, x := range lt.ResourceTemplates {
		tmpls = append(tmpls, x.URITemplate)
	}
	if !slices.Contains(tmpls, "mcp://everything/resource/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F{resourceId}") {
		t.Fatalf("templates %v", tmpls)
	}
	item := "mcp://everything/resource/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F7"
	rr, err = r.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: item})
	if err != nil || len(rr.Contents) != 1 || !strings.HasPrefix(rr.Contents[0].Text, "Resource 7:") {
		t.Fatalf("read %s: %v %+v", item, err, rr)
	}

	lp, err := r.agent.ListPrompts(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	for _, p := range lp.Prompts {
		prompts = append(prompts, p.Name)
	}
	if !slices.Contains(prompts, "simple-prompt") {
		t.Fatalf("prompts %v", prompts)
	}
	gp, err := r.agent.GetPrompt(ctx, &mcp.GetPromptParams{Name: "simple-prompt"})
	if err != nil || len(gp.Messages) != 1 {
		t.Fatalf("get simple-prompt: %v %+v", err, gp)
	}
	r.gw.waitDecisions(mcpbridge.ActionGet, "mcp://everything/prompt/simple-prompt")
	// The answer reaches the agent unchanged, or — when the injection
	// scanner flags it — redacted AND reported to the operators, never
	// altered silently. "This is a simple prompt without arguments." is a
	// known false positive of the scanner's classifier (docs/injection.md
	// §6, "Known false positives outside the sets"); either outcome is
	// the bridge working, the scanner's accuracy is measured by its own
	// held-out sets.
	switch txt := gp.Messages[0].Content.(*mcp.TextContent).Text; {
	case txt == "This is a simple prompt without arguments.":
	case strings.HasPrefix(txt, "[sintgate: redacted"):
		r.gw.waitDecisions(mcpbridge.ActionResultFlagged, "mcp://everything/prompt/simple-prompt")
	default:
		t.Fatalf("get simple-prompt: message %q is neither the server's text nor a redaction", txt)
	}
}

// TestReferenceFilesystemToolsInDefaultPolicy: every tool the reference
// server-filesystem from npm offers through the bridge is named by a rule
// of the default policy of its own (mcp://filesystem/<tool>, not a generic
// pattern), with a tier: reading and listing 2, changing files 4.
func TestReferenceFilesystemToolsInDefaultPolicy(t *testing.T) {
	down := reference(t, "server-filesystem", t.TempDir())
	if down == nil {
		return
	}
	r := newRig(t, rigOpts{server: "filesystem", downstream: down})
	names := r.bridge.Tools()
	if len(names) < 10 {
		t.Fatalf("tools %v", names)
	}
	p := policy.Default()
	for _, n := range names {
		res := "mcp://filesystem/" + n
		rule := p.MatchRule(res, "call")
		if rule == nil || rule.Resource != res {
			t.Errorf("%s: not named by a rule of the default policy (rule %+v)", res, rule)
			continue
		}
		want := 2
		if strings.Contains(n, "write") || strings.Contains(n, "edit") || strings.Contains(n, "move") || strings.Contains(n, "create") {
			want = 4
		}
		if rule.Tier != want {
			t.Errorf("%s: tier %d, want %d", res, rule.Tier, want)
		}
	}
}
