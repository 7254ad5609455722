package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
// call as a JSON line to the file it names.
const downstreamEnv = "SINT_MCPBRIDGE_TEST_DOWNSTREAM"

func TestMain(m *testing.M) {
	if path := os.Getenv(downstreamEnv); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			panic(err)
		}
		err = mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(f)).Run(context.Background(), &mcp.StdioTransport{})
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := run(context.Background(), tc.args, &mcp.StdioTransport{})
			if code != tc.code {
				t.Errorf("exit %d (%v), want %d", code, err, tc.code)
			}
		})
	}
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
	// The admin key stands in for a read key: it enables the e-stop poll.
	// --timeout 5s: a poll every 10 ms with the 2 s default would latch
	// "unreachable" on one gateway stall under -race on a loaded CI machine.
	cmd := exec.Command(bin, "--url", url, "--agent-key", keyPath, "--token-id", tokenID, "--server", "testfs",
		"--api-key", adminKey, "--poll-interval", "10ms", "--timeout", "5s", "--", self, "-test.run=^$")
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
