package bridgecmd

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/internal/keyfile"
)

// TestLoad: the shared flags' checks, exit statuses and what Load builds.
func TestLoad(t *testing.T) {
	t.Setenv(bridges.APIKeyEnv, "")
	os.Unsetenv(bridges.APIKeyEnv)
	dir := t.TempDir()
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok := write("token", "a.b.c\n", 0o600)
	empty := write("empty", "\n", 0o600)
	apiKey := write("api.key", "sk_a_secret\n", 0o600)
	open := write("open.key", "sk_a_secret\n", 0o644)
	for _, tc := range []struct {
		name     string
		spec     Spec
		args     []string
		code     int
		estop    bool
		contains string
	}{
		{name: "ok/token-id", args: []string{"--agent-key", keyPath, "--token-id", "t"}},
		{name: "ok/token-file-and-api-key-file", args: []string{"--agent-key", keyPath, "--token-file", tok, "--api-key-file", apiKey}, estop: true},
		{name: "ok/api-key-flag", args: []string{"--agent-key", keyPath, "--token-id", "t", "--api-key", "sk_a_b"}, estop: true},
		{name: "usage/no-agent-key", args: []string{"--token-id", "t"}, code: 2, contains: "--agent-key is required"},
		{name: "usage/no-token", args: []string{"--agent-key", keyPath}, code: 2, contains: "exactly one"},
		{name: "usage/both-tokens", args: []string{"--agent-key", keyPath, "--token-id", "t", "--token-file", tok}, code: 2, contains: "exactly one"},
		{name: "usage/bad-reset", args: []string{"--agent-key", keyPath, "--token-id", "t", "--reset", "later"}, code: 2},
		{name: "usage/bad-reset-mode", spec: Spec{Stop: StopResetMode}, args: []string{"--agent-key", keyPath, "--token-id", "t", "--reset-mode", "later"}, code: 2},
		{name: "usage/both-api-keys", args: []string{"--agent-key", keyPath, "--token-id", "t", "--api-key", "sk_a_b", "--api-key-file", apiKey}, code: 2},
		{name: "usage/api-key-file-readable-by-others", args: []string{"--agent-key", keyPath, "--token-id", "t", "--api-key-file", open}, code: 2, contains: "chmod 600"},
		{name: "usage/key-file-only-refuses-api-key", spec: Spec{Name: "sint-x", KeyFileOnly: true}, args: []string{"--agent-key", keyPath, "--token-id", "t", "--api-key", "sk_a_b"}, code: 2, contains: "--api-key is refused"},
		{name: "ok/key-file-only-api-key-file", spec: Spec{KeyFileOnly: true}, args: []string{"--agent-key", keyPath, "--token-id", "t", "--api-key-file", apiKey}, estop: true},
		{name: "error/missing-agent-key-file", args: []string{"--agent-key", filepath.Join(dir, "none"), "--token-id", "t"}, code: 1},
		{name: "error/missing-token-file", args: []string{"--agent-key", keyPath, "--token-file", filepath.Join(dir, "none")}, code: 1},
		{name: "error/empty-token-file", args: []string{"--agent-key", keyPath, "--token-file", empty}, code: 1, contains: "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			tc.spec.PollInterval, tc.spec.CallTimeout = 50*time.Millisecond, time.Second
			f := Register(fs, tc.spec)
			if err := fs.Parse(append([]string{"--url", "http://gw.example:8080/"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			g, err := f.Load()
			if code := ExitCode(err); code != tc.code || (tc.contains != "" && !strings.Contains(err.Error(), tc.contains)) {
				t.Fatalf("Load: exit %d, %v; want %d containing %q", code, err, tc.code, tc.contains)
			}
			if err != nil {
				return
			}
			if g.Base != "http://gw.example:8080" || g.Agent.BaseURL != g.Base || g.Agent.AgentID() != k.AgentID() ||
				g.Agent.HTTP.Timeout != AgentHTTPTimeout || g.Verifier == nil || g.PollInterval != 50*time.Millisecond || g.CallTimeout != time.Second {
				t.Fatalf("gateway %+v", g)
			}
			if (g.Estop != nil) != tc.estop || (g.APIKey != "") != tc.estop {
				t.Fatalf("estop %v (key %q), want %v", g.Estop, g.APIKey, tc.estop)
			}
			if op, ok := g.Estop.(bridges.OperatorEstop); tc.estop && (!ok || op.Op.BaseURL != g.Base || op.Op.HTTP.Timeout != time.Second) {
				t.Fatalf("estop reader %+v", g.Estop)
			}
		})
	}
}

// TestKeyFileOnlyRefusesInheritedKey: with KeyFileOnly, SINT_API_KEY set
// (even with a key file given) refuses to start; otherwise it is refused
// only when no key of the bridge's own is given, and removed.
func TestKeyFileOnlyRefusesInheritedKey(t *testing.T) {
	dir := t.TempDir()
	k, _ := keyfile.Generate()
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec Spec
		args []string
		code int
	}{
		{"key-file-only/refused", Spec{Name: "sint-x", KeyFileOnly: true}, nil, 2},
		{"default/refused-without-own-key", Spec{}, nil, 2},
		{"default/own-key-wins", Spec{}, []string{"--api-key", "sk_a_b"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(bridges.APIKeyEnv, "sk_admin_secret")
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			f := Register(fs, tc.spec)
			if err := fs.Parse(append([]string{"--agent-key", keyPath, "--token-id", "t"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			_, err := f.Load()
			if code := ExitCode(err); code != tc.code {
				t.Fatalf("exit %d, %v; want %d", code, err, tc.code)
			}
			var u *UsageError
			if tc.code == 2 && !errors.As(err, &u) {
				t.Fatalf("%v is no UsageError", err)
			}
		})
	}
}
