package mcpbridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
)

// TestStreamableHTTPAgent serves the bridge over MCP streamable HTTP and
// drives it with the Go SDK's streamable HTTP client: the tools are
// listed, an allowed call reaches the downstream tool, a denied one does
// not, and a request without the bearer token (or with another) is
// refused before it reaches an MCP session.
func TestStreamableHTTPAgent(t *testing.T) {
	r := newRig(t, rigOpts{http: true})

	t.Run("list", func(t *testing.T) {
		if _, ok := toolNames(t, r.agent)["readFile"]; !ok {
			t.Fatal("readFile not listed over streamable HTTP")
		}
	})
	t.Run("allowed", func(t *testing.T) {
		res := r.call("readFile", map[string]any{"path": "/etc/robot.yaml"})
		if res.IsError || contentText(res) != "contents of /etc/robot.yaml" {
			t.Fatalf("result: isError=%v %q", res.IsError, contentText(res))
		}
		if calls := r.rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
			t.Fatalf("downstream calls %+v", calls)
		}
	})
	t.Run("denied", func(t *testing.T) {
		o := outcome(t, r.call("deleteFile", map[string]any{"path": "/etc/robot.yaml"}))
		if o.Outcome != mcpbridge.OutcomeDeny || o.Code != "TIER_EXCEEDED" {
			t.Fatalf("outcome %+v", o)
		}
		if calls := r.rec.Calls(); len(calls) != 1 {
			t.Fatalf("the denied call reached the downstream server: %+v", calls)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
		for name, auth := range map[string]string{
			"no-header":    "",
			"wrong-token":  "Bearer " + strings.Repeat("x", len(httpToken)),
			"token-prefix": "Bearer " + httpToken[:len(httpToken)-1],
			"basic-scheme": "Basic " + httpToken,
			"token-suffix": "Bearer " + httpToken + "x",
		} {
			req, _ := http.NewRequest("POST", r.url, strings.NewReader(init))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Mcp-Session-Id") != "" {
				t.Errorf("%s: status %d session %q, want 401 and no session", name, resp.StatusCode, resp.Header.Get("Mcp-Session-Id"))
			}
		}
		_, err := mcp.NewClient(&mcp.Implementation{Name: "anon", Version: "v1"}, nil).Connect(context.Background(),
			&mcp.StreamableClientTransport{Endpoint: r.url, HTTPClient: httpClient(""), MaxRetries: -1}, nil)
		if err == nil {
			t.Fatal("a client without the token connected")
		}
		if calls := r.rec.Calls(); len(calls) != 1 {
			t.Fatalf("downstream calls %+v", calls)
		}
	})
	t.Run("stopped-latches", func(t *testing.T) {
		r.stop()
		if l, _ := r.bridge.Latched(); !l {
			t.Fatal("bridge not latched after ServeHTTP returned")
		}
	})
}

// TestHTTPTokenRules: the endpoint refuses a short token, and the token file
// must be private.
func TestHTTPTokenRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content string
		mode          os.FileMode
		ok            bool
	}{
		{"ok", httpToken + "\n", 0o600, true},
		{"group-readable", httpToken, 0o640, false},
		{"short", "tooshort", 0o600, false},
		{"two-lines", httpToken + "\n" + httpToken, 0o600, false},
		{"empty", "", 0o600, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := mcpbridge.LoadHTTPToken(write(tc.name, tc.content, tc.mode))
			if (err == nil) != tc.ok {
				t.Fatalf("LoadHTTPToken: %q, %v", tok, err)
			}
			if tc.ok && tok != httpToken {
				t.Fatalf("token %q", tok)
			}
		})
	}
	r := newRig(t, rigOpts{})
	if _, err := r.bridge.HTTPHandler(mcpbridge.HTTPOptions{Token: "short"}); err == nil {
		t.Fatal("HTTPHandler accepted a short token")
	}
	if _, err := r.bridge.HTTPHandler(mcpbridge.HTTPOptions{}); err == nil {
		t.Fatal("HTTPHandler accepted no token")
	}
}

// TestStreamableHTTPDownstream connects the bridge to a downstream server
// served over streamable HTTP by the Go SDK: its tools are mirrored and an
// allowed call reaches it, a denied one does not.
func TestStreamableHTTPDownstream(t *testing.T) {
	rec := mcpbridgetest.NewRecorder(nil)
	srv := mcpbridgetest.NewServer(rec)
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	down, err := mcpbridge.DownstreamHTTP(hs.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{downstream: down, http: true})
	if _, ok := toolNames(t, r.agent)["readFile"]; !ok {
		t.Fatal("readFile not mirrored from the HTTP downstream")
	}
	res := r.call("readFile", map[string]any{"path": "/a"})
	if res.IsError || contentText(res) != "contents of /a" {
		t.Fatalf("result: isError=%v %q", res.IsError, contentText(res))
	}
	o := outcome(t, r.call("deleteFile", map[string]any{"path": "/a"}))
	if o.Code != "TIER_EXCEEDED" {
		t.Fatalf("outcome %+v", o)
	}
	if calls := rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
		t.Fatalf("downstream calls %+v", calls)
	}
}

// TestTypeScriptAgentOverHTTP drives the bridge's streamable HTTP endpoint
// with the official TypeScript SDK client (testdata/peer/client.mjs): it
// lists the tools, an allowed call gets the downstream result, a denied one
// the deny; without the token it cannot connect.
func TestTypeScriptAgentOverHTTP(t *testing.T) {
	node, dir := peer(t)
	if node == "" {
		return
	}
	r := newRig(t, rigOpts{http: true})
	run := func(token string, args ...string) (map[string]json.RawMessage, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, append([]string{filepath.Join(dir, "client.mjs"), r.url, token}, args...)...)
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		var m map[string]json.RawMessage
		if jerr := json.Unmarshal(out, &m); jerr != nil {
			t.Fatalf("client output %q: %v (exit %v)", out, jerr, err)
		}
		return m, err
	}
	m, err := run(httpToken, "readFile", `{"path":"/a"}`, "deleteFile", `{"path":"/a"}`)
	if err != nil {
		t.Fatalf("client: %v %s", err, m["error"])
	}
	var tools []string
	var results []*mcp.CallToolResult
	if err := json.Unmarshal(m["tools"], &tools); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m["results"], &results); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tools, "readFile") || !slices.Contains(tools, "deleteFile") {
		t.Fatalf("tools %v", tools)
	}
	if len(results) != 2 || results[0].IsError || contentText(results[0]) != "contents of /a" {
		t.Fatalf("results %s", m["results"])
	}
	if o := outcome(t, results[1]); o.Outcome != mcpbridge.OutcomeDeny || o.Code != "TIER_EXCEEDED" {
		t.Fatalf("deny outcome %+v", o)
	}
	if calls := r.rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
		t.Fatalf("downstream calls %+v", calls)
	}
	m, err = run("-", "readFile", `{"path":"/b"}`)
	if err == nil || !strings.Contains(string(m["error"]), "unauthorized") {
		t.Fatalf("client without the token: err=%v out=%s", err, m["error"])
	}
	if calls := r.rec.Calls(); len(calls) != 1 {
		t.Fatalf("downstream calls %+v", calls)
	}
}

// TestTypeScriptDownstreamOverHTTP puts the bridge in front of a downstream
// server served over streamable HTTP by the official TypeScript SDK
// (testdata/peer/hostile.mjs clean http).
func TestTypeScriptDownstreamOverHTTP(t *testing.T) {
	node, dir := peer(t)
	if node == "" {
		return
	}
	cmd := exec.Command(node, filepath.Join(dir, "hostile.mjs"), "clean", "http")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	line := recv(t, lines, "listening line")
	url, ok := strings.CutPrefix(line, "listening ")
	if !ok {
		t.Fatalf("peer printed %q", line)
	}
	down, err := mcpbridge.DownstreamHTTP(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{downstream: down, http: true})
	if got := toolNames(t, r.agent); len(got) != 2 {
		t.Fatalf("tools %v", got)
	}
	res := r.call("readFile", map[string]any{"path": "/a"})
	if res.IsError || contentText(res) != "contents of /a" {
		t.Fatalf("result: isError=%v %q", res.IsError, contentText(res))
	}
	if o := outcome(t, r.call("deleteFile", map[string]any{"path": "/a"})); o.Code != "TIER_EXCEEDED" {
		t.Fatalf("outcome %+v", o)
	}
	if s := r.bridge.Stats(); s.Forwarded != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDownstreamHTTPURL: plain http only to loopback; no credentials in the
// URL.
func TestDownstreamHTTPURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9/mcp", true},
		{"http://localhost:9/mcp", true},
		{"http://[::1]:9/mcp", true},
		{"https://tools.example:443/mcp", true},
		{"http://tools.example/mcp", false},
		{"http://10.0.0.5:9/mcp", false},
		{"https://u:p@tools.example/mcp", false},
		{"ftp://127.0.0.1/mcp", false},
		{"127.0.0.1:9", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			if _, err := mcpbridge.DownstreamHTTP(tc.url, "", nil); (err == nil) != tc.ok {
				t.Fatalf("DownstreamHTTP(%q): %v", tc.url, err)
			}
		})
	}
}
