package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// downstreamEnv, when set in the environment, makes the test binary a
// downstream MCP server on stdin/stdout (mcpbridgetest) that appends every
// call as a JSON line to the file it names. The bridge passes it on only
// when named with --env (the downstream environment is allow-listed).
const downstreamEnv = "MCPBRIDGE_TEST_DOWNSTREAM"

// envToolEnv, when set too, adds the tool readEnv: it answers the
// downstream server's whole environment and what it can read of its
// parent's (/proc/<ppid>/environ and cmdline) — what a get-env tool of a
// real MCP server hands the agent.
const envToolEnv = "MCPBRIDGE_TEST_ENVTOOL"

func TestMain(m *testing.M) {
	if path := os.Getenv(downstreamEnv); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			panic(err)
		}
		srv := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(f))
		if os.Getenv(envToolEnv) != "" {
			srv.AddTool(&mcp.Tool{Name: "readEnv", Description: "Answer the environment.", InputSchema: mcpbridgetest.AnySchema},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					var b strings.Builder
					b.WriteString(strings.Join(os.Environ(), "\n"))
					res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}
					for _, name := range []string{"environ", "cmdline"} {
						p, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", os.Getppid(), name))
						res.Content = append(res.Content, &mcp.TextContent{Text: fmt.Sprintf("%q %v", p, err)})
					}
					return res, nil
				})
		}
		err = srv.Run(context.Background(), &mcp.StdioTransport{})
		_ = f.Close()
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunFlags(t *testing.T) {
	stderr = io.Discard
	dir := t.TempDir()
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	tokPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokPath, []byte("a.b.c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	down := []string{"--", "true"}
	openKey := filepath.Join(dir, "open.key")
	if err := os.WriteFile(openKey, []byte("sk_a_b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := []string{"--server", "fs", "--agent-key", keyPath, "--token-id", "x"}
	httpTok := filepath.Join(dir, "http.token")
	if err := os.WriteFile(httpTok, []byte(strings.Repeat("t", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openHTTPTok := filepath.Join(dir, "open-http.token")
	if err := os.WriteFile(openHTTPTok, []byte(strings.Repeat("t", 40)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"ok/help", []string{"--help"}, 0},
		{"usage/unknown-flag", []string{"--nope"}, 2},
		{"usage/no-server", append([]string{"--agent-key", keyPath, "--token-id", "x"}, down...), 2},
		{"usage/bad-server", append([]string{"--server", "a/b", "--agent-key", keyPath, "--token-id", "x"}, down...), 2},
		{"usage/no-downstream", []string{"--server", "fs", "--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/no-agent-key", append([]string{"--server", "fs", "--token-id", "x"}, down...), 2},
		{"usage/no-token", append([]string{"--server", "fs", "--agent-key", keyPath}, down...), 2},
		{"usage/both-tokens", append([]string{"--server", "fs", "--agent-key", keyPath, "--token-id", "x", "--token-file", tokPath}, down...), 2},
		{"usage/bad-log-level", append([]string{"--server", "fs", "--log-level", "loud"}, down...), 2},
		{"error/missing-key-file", append([]string{"--server", "fs", "--agent-key", filepath.Join(dir, "none"), "--token-id", "x"}, down...), 1},
		{"error/downstream-not-mcp", append([]string{"--server", "fs", "--agent-key", keyPath, "--token-id", "x"}, down...), 1},
		{"usage/api-key-on-command-line", append(append([]string{"--api-key", "sk_a_b"}, ok...), down...), 2},
		{"usage/api-key-file-readable-by-others", append(append([]string{"--api-key-file", openKey}, ok...), down...), 2},
		{"usage/env-sint-variable", append(append([]string{"--env", "SINT_URL=x"}, ok...), down...), 2},
		{"usage/env-carries-the-agent-key", append(append([]string{"--env", "K=" + hex.EncodeToString(k.Private.Seed())}, ok...), down...), 2},
		{"usage/env-bad-name", append(append([]string{"--env", "A-B=1"}, ok...), down...), 2},
		{"usage/bad-result-policy", append(append([]string{"--result-policy", "ignore"}, ok...), down...), 2},
		{"usage/pins-locked-without-file", append(append([]string{"--pins-locked"}, ok...), down...), 2},
		{"usage/allow-tool-bad-hash", append(append([]string{"--allow-tool", "x=abc"}, ok...), down...), 2},
		{"usage/http-listen-without-token-file", append(append([]string{"--http-listen", "127.0.0.1:0"}, ok...), down...), 2},
		{"usage/http-token-file-without-listen", append(append([]string{"--http-token-file", httpTok}, ok...), down...), 2},
		{"usage/http-listen-not-loopback", append(append([]string{"--http-listen", "0.0.0.0:0", "--http-token-file", httpTok}, ok...), down...), 2},
		{"usage/http-token-file-readable-by-others", append(append([]string{"--http-listen", "127.0.0.1:0", "--http-token-file", openHTTPTok}, ok...), down...), 2},
		{"usage/http-token-too-short", append(append([]string{"--http-listen", "127.0.0.1:0", "--http-token-file", tokPath}, ok...), down...), 2},
		{"usage/server-url-and-command", append(append([]string{"--server-url", "http://127.0.0.1:9/mcp"}, ok...), down...), 2},
		{"usage/server-url-plain-http-remote", append([]string{"--server-url", "http://tools.example/mcp"}, ok...), 2},
		{"usage/add-server-bad-name", append(append([]string{"--add-server", "a_b=http://127.0.0.1:9/mcp"}, ok...), down...), 2},
		{"usage/add-server-primary-name-with-underscore", append([]string{"--server", "my_fs", "--agent-key", keyPath, "--token-id", "x", "--add-server", "b=http://127.0.0.1:9/mcp"}, down...), 2},
		{"usage/add-server-plain-http-remote", append(append([]string{"--add-server", "b=http://tools.example/mcp"}, ok...), down...), 2},
		{"usage/server-token-file-without-url", append(append([]string{"--server-token-file", httpTok}, ok...), down...), 2},
		{"error/locked-pin-file-missing", append(append([]string{"--pins-locked", "--pin-file", filepath.Join(dir, "none.json")}, ok...), down...), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := run(context.Background(), tc.args, &mcp.StdioTransport{})
			if code != tc.code {
				t.Errorf("exit %d (%v), want %d", code, err, tc.code)
			}
		})
	}
	t.Run("usage/SINT_API_KEY-set", func(t *testing.T) {
		t.Setenv("SINT_API_KEY", "sk_a_b")
		if code, err := run(context.Background(), append(ok, down...), &mcp.StdioTransport{}); code != 2 {
			t.Errorf("exit %d (%v), want 2", code, err)
		}
	})
}

// gateway serves a gateway in-process (bridges/rosbridge harness pattern)
// with a token for agent "mcpagent" on mcp://testfs/** call, tier 3. It
// returns the URL, the token id and the admin key.
func gateway(t *testing.T) (url, tokenID, adminKey string) {
	t.Helper()
	dir := t.TempDir()
	res, _, err := app.InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(context.Background(), app.Options{DataDir: dir, PolicyPath: "testdata/policy.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() { _ = g.Server.App.ShutdownWithTimeout(5 * time.Second); _ = g.Close() })
	url, adminKey = "http://"+ln.Addr().String(), res.AdminAPIKey
	post := func(path string, body any) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"})
	c := tokentest.Root("root", "mcpagent", 7, time.Now().UnixMilli())
	c.Resource, c.Actions = "mcp://testfs/**", []string{"call"}
	post("/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw})
	return url, c.TokenID, adminKey
}

// TestBinaryOverStdio runs the built binary as an MCP client would: over its
// stdin/stdout, with a downstream server subprocess (this test binary in
// downstream mode) and a real gateway.
func TestBinaryOverStdio(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sint-mcpbridge")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url, tokenID, adminKey := gateway(t)
	keyPath := filepath.Join(dir, "agent.key")
	priv := tokentest.Key("mcpagent")
	if err := keyfile.Save(keyPath, &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "calls.jsonl")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A read key enables the e-stop watch.
	// --timeout 5s: a poll every 10 ms with the 2 s default would latch
	// "unreachable" on one gateway stall under -race on a loaded CI machine.
	readKeyPath := filepath.Join(dir, "read.key")
	if err := os.WriteFile(readKeyPath, []byte(apiKey(t, url, adminKey, "read")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--url", url, "--agent-key", keyPath, "--token-id", tokenID, "--server", "testfs",
		"--api-key-file", readKeyPath, "--env", downstreamEnv, "--poll-interval", "10ms", "--timeout", "5s", "--", self, "-test.run=^$")
	cmd.Env = append(os.Environ(), downstreamEnv+"="+calls)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "v1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nlogs:\n%s", err, logs.String())
	}
	recorded := func() []mcpbridgetest.Call {
		b, _ := os.ReadFile(calls)
		var out []mcpbridgetest.Call
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c mcpbridgetest.Call
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				t.Fatalf("calls file: %v", err)
			}
			out = append(out, c)
		}
		return out
	}

	t.Run("tools/list", func(t *testing.T) {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tl := range res.Tools {
			names = append(names, tl.Name)
		}
		if got := strings.Join(names, ","); !strings.Contains(got, "readFile") || !strings.Contains(got, "moveArm") || strings.Contains(got, "bad/name") || len(names) != 5 {
			t.Errorf("tools %s", got)
		}
	})
	t.Run("allow/readFile", func(t *testing.T) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: map[string]any{"path": "/etc/robot.yaml"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "contents of /etc/robot.yaml" {
			t.Fatalf("result %+v", res)
		}
		got := recorded()
		if len(got) != 1 || got[0].Tool != "readFile" || string(got[0].Arguments) != `{"path":"/etc/robot.yaml"}` {
			t.Errorf("downstream calls %+v", got)
		}
	})
	t.Run("deny/tier-exceeded", func(t *testing.T) {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "deleteFile", Arguments: map[string]any{"path": "/etc/robot.yaml"}})
		if err != nil {
			t.Fatal(err)
		}
		o, ok := mcpbridge.OutcomeOf(res)
		if !ok || o.Code != "TIER_EXCEEDED" || o.Outcome != mcpbridge.OutcomeDeny {
			t.Fatalf("result %+v outcome %+v", res, o)
		}
		if got := recorded(); len(got) != 1 {
			t.Errorf("downstream calls %+v, want only the earlier readFile", got)
		}
	})

	t.Run("estop/poll-latches-until-reset", func(t *testing.T) {
		admin := func(path string) {
			b, _ := json.Marshal(map[string]string{"reason": "binary test"})
			req, _ := http.NewRequest("POST", url+path, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Fatalf("POST %s: %d", path, resp.StatusCode)
			}
		}
		waitLog := func(s string) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), s) {
				if time.Now().After(deadline) {
					t.Fatalf("no %q in the logs:\n%s", s, logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		admin("/v1/estop/trip")
		waitLog(`"reason":"e-stop tripped: `)
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: map[string]any{"path": "/b"}})
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := mcpbridge.OutcomeOf(res); !ok || o.Code != "ESTOP_ENGAGED" {
			t.Fatalf("call while tripped: %+v", res)
		}
		admin("/v1/estop/reset")
		waitLog(`"msg":"bridge resumed"`)
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: map[string]any{"path": "/c"}})
		if err != nil || res.IsError {
			t.Fatalf("call after reset: %v %+v", err, res)
		}
		if got := recorded(); len(got) != 2 || string(got[1].Arguments) != `{"path":"/c"}` {
			t.Errorf("downstream calls %+v, want readFile /etc/robot.yaml then /c", got)
		}
	})

	if err := cs.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("bridge exit status %d\nlogs:\n%s", code, logs.String())
	}
	// stdout is the MCP stream only; logs are JSON lines on stderr.
	if !strings.Contains(logs.String(), `"msg":"sint-mcpbridge running"`) || !strings.Contains(logs.String(), `"msg":"sint-mcpbridge stopped"`) {
		t.Errorf("logs lack start/stop lines:\n%s", logs.String())
	}
}

// TestBinaryOverStreamableHTTP runs the built binary with streamable HTTP on
// both sides: it serves the agent (the Go SDK client) on a loopback port
// behind a bearer token and reaches its downstream server, served by the Go
// SDK, with --server-url.
func TestBinaryOverStreamableHTTP(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sint-mcpbridge")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url, tokenID, _ := gateway(t)
	keyPath := filepath.Join(dir, "agent.key")
	priv := tokentest.Key("mcpagent")
	if err := keyfile.Save(keyPath, &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}
	token := strings.Repeat("s3cr3t-", 8)
	tokPath := filepath.Join(dir, "http.token")
	if err := os.WriteFile(tokPath, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := mcpbridgetest.NewRecorder(nil)
	srv := mcpbridgetest.NewServer(rec)
	down := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	defer down.Close()
	// A second downstream server behind the same bridge (--add-server);
	// the agent's token covers mcp://testfs/** only.
	rec2 := mcpbridgetest.NewRecorder(nil)
	srv2 := mcpbridgetest.NewServer(rec2)
	down2 := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv2 }, nil))
	defer down2.Close()

	cmd := exec.Command(bin, "--url", url, "--agent-key", keyPath, "--token-id", tokenID, "--server", "testfs",
		"--timeout", "5s", "--http-listen", "127.0.0.1:0", "--http-token-file", tokPath, "--server-url", down.URL+"/mcp",
		"--add-server", "second="+down2.URL+"/mcp")
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var endpoint string
	for deadline := time.Now().Add(20 * time.Second); endpoint == ""; {
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct{ Msg, Endpoint string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving MCP streamable HTTP" {
				endpoint = l.Endpoint
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge does not serve HTTP; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx := context.Background()
	if _, err := mcp.NewClient(&mcp.Implementation{Name: "anon", Version: "v1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1}, nil); err == nil {
		t.Fatal("a client without the token connected")
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "v1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: endpoint, MaxRetries: -1, HTTPClient: &http.Client{Transport: withBearer{token}}}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nlogs:\n%s", err, logs.String())
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "testfs__readFile", Arguments: map[string]any{"path": "/a"}})
	if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "contents of /a" {
		t.Fatalf("readFile: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "testfs__deleteFile", Arguments: map[string]any{"path": "/a"}})
	if o, ok := mcpbridge.OutcomeOf(res); err != nil || !ok || o.Code != "TIER_EXCEEDED" {
		t.Fatalf("deleteFile: %v %+v", err, res)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "second__readFile", Arguments: map[string]any{"path": "/a"}})
	if o, ok := mcpbridge.OutcomeOf(res); err != nil || !ok || o.Code != "INSUFFICIENT_PERMISSIONS" || o.Resource != "mcp://second/readFile" {
		t.Fatalf("second__readFile (outside the token): %v %+v", err, res)
	}
	if calls := rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
		t.Fatalf("downstream calls %+v", calls)
	}
	if calls := rec2.Calls(); len(calls) != 0 {
		t.Fatalf("second server's calls %+v", calls)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bridge exit: %v\nlogs:\n%s", err, logs.String())
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the bearer token is in the logs")
	}
}

// withBearer adds Authorization: Bearer token to every request.
type withBearer struct{ token string }

func (b withBearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// apiKey creates an API key with scopes for operator "bridge" and returns it.
func apiKey(t *testing.T, url, adminKey string, scopes ...string) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"operatorId": "bridge", "scopes": scopes})
	req, _ := http.NewRequest("POST", url+"/v1/apikeys", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Key string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 201 || out.Key == "" {
		t.Fatalf("POST /v1/apikeys: %d %v", resp.StatusCode, err)
	}
	return out.Key
}

// TestDownstreamSeesNoKey runs the built binary as an operator might: with
// SINT_* variables and another secret in its environment, a read key in
// --api-key-file, and a downstream server whose auto-allowed readEnv tool
// answers its whole environment and what it can read of the bridge's
// (/proc/<ppid>/environ and cmdline). The agent calling it sees neither key
// nor any SINT_* variable in the downstream environment, nor a key in what
// it reads of the bridge's (unreadable unless the downstream runs as
// root), and sees the variables passed with --env. With the admin key in
// SINT_API_KEY (sintctl's variable) the bridge refuses to start.
func TestDownstreamSeesNoKey(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sint-mcpbridge")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url, tokenID, adminKey := gateway(t)
	readKey := apiKey(t, url, adminKey, "read")
	keyPath := filepath.Join(dir, "agent.key")
	priv := tokentest.Key("mcpagent")
	if err := keyfile.Save(keyPath, &keyfile.Key{Public: priv.Public().(ed25519.PublicKey), Private: priv}); err != nil {
		t.Fatal(err)
	}
	readKeyPath := filepath.Join(dir, "read.key")
	if err := os.WriteFile(readKeyPath, []byte(readKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--url", url, "--agent-key", keyPath, "--token-id", tokenID, "--server", "testfs",
		"--api-key-file", readKeyPath, "--env", downstreamEnv, "--env", envToolEnv, "--env", "ROBOT_CELL=cell-7",
		"--timeout", "5s", "--", self, "-test.run=^$")
	cmd.Env = append(os.Environ(), downstreamEnv+"="+filepath.Join(dir, "calls.jsonl"), envToolEnv+"=1",
		"SINT_URL="+url, "SINT_LOG_LEVEL=debug", "AWS_SECRET_ACCESS_KEY=not-for-the-agent")
	refused := exec.Command(bin, cmd.Args[1:]...)
	refused.Env = append(slices.Clone(cmd.Env), "SINT_API_KEY="+adminKey)
	if out, err := refused.CombinedOutput(); refused.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "SINT_API_KEY is set") {
		t.Fatalf("with SINT_API_KEY set: %v, exit %d\n%s", err, refused.ProcessState.ExitCode(), out)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-agent", Version: "v1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nlogs:\n%s", err, logs.String())
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readEnv", Arguments: map[string]any{}})
	if err != nil || res.IsError || len(res.Content) != 3 {
		t.Fatalf("readEnv: %v %+v\nlogs:\n%s", err, res, logs.String())
	}
	env := res.Content[0].(*mcp.TextContent).Text
	parentEnv, parentCmd := res.Content[1].(*mcp.TextContent).Text, res.Content[2].(*mcp.TextContent).Text
	secretOf := func(k string) string { return k[strings.LastIndexByte(k, '_')+1:] }
	for name, leak := range map[string]string{
		"the admin key": adminKey, "the admin key's secret": secretOf(adminKey),
		"the bridge's read key": readKey, "the read key's secret": secretOf(readKey),
	} {
		for where, seen := range map[string]string{"its environment": env, "the bridge's environ": parentEnv, "the bridge's command line": parentCmd} {
			if strings.Contains(seen, leak) {
				t.Errorf("the agent sees %s in %s:\n%s", name, where, seen)
			}
		}
	}
	for name, leak := range map[string]string{"a SINT_* variable": "SINT_", "another secret of the bridge's environment": "AWS_SECRET_ACCESS_KEY"} {
		if strings.Contains(env, leak) {
			t.Errorf("the downstream environment holds %s:\n%s", name, env)
		}
	}
	if !strings.Contains(env, "ROBOT_CELL=cell-7") || !strings.Contains(env, "PATH=") {
		t.Errorf("the downstream server lacks ROBOT_CELL or PATH:\n%s", env)
	}
	if os.Geteuid() != 0 && !strings.Contains(parentEnv, "permission denied") {
		// Root reads any process's environ; anyone else cannot read a
		// non-dumpable one.
		t.Errorf("the downstream server read the bridge's environ: %s", parentEnv)
	}
}

// syncBuffer is a bytes.Buffer safe for the subprocess copier and the test
// to use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
