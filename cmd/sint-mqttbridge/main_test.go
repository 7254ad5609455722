package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sintgate/sintgate/internal/keyfile"
)

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
	route := []string{"--route", "agent/v1=line1/v1", "--broker-name", "factory"}
	with := func(extra ...string) []string { return append(append([]string{}, route...), extra...) }
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"ok/help", []string{"--help"}, 0},
		{"usage/unknown-flag", []string{"--nope"}, 2},
		{"usage/no-route", []string{"--broker-name", "factory", "--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/bad-route", []string{"--route", "agent/#=line1/v1"}, 2},
		{"usage/safe-stop-without-route", with("--safe-stop", `line1/other={}`), 2},
		{"usage/safe-stop-not-json", with("--safe-stop", `line1/v1=closed`), 2},
		{"usage/no-broker-name", []string{"--route", "agent/v1=line1/v1", "--agent-key", keyPath, "--token-id", "x"}, 2},
		{"usage/bad-broker-name", []string{"--route", "agent/v1=line1/v1", "--broker-name", "Fac/tory"}, 2},
		{"usage/bad-broker-url", with("--broker", "127.0.0.1:1883", "--agent-key", keyPath, "--token-id", "x"), 2},
		{"usage/no-agent-key", with("--token-id", "x"), 2},
		{"usage/no-token", with("--agent-key", keyPath), 2},
		{"usage/both-tokens", with("--agent-key", keyPath, "--token-id", "x", "--token-file", tokPath), 2},
		{"usage/extra-args", with("stray"), 2},
		{"error/missing-key-file", with("--agent-key", filepath.Join(dir, "none"), "--token-id", "x"), 1},
		{"error/missing-token-file", with("--agent-key", keyPath, "--token-file", filepath.Join(dir, "none")), 1},
		{"usage/map-unknown-unit", with("--map", `line1/v1={"path":"/s","quantity":"linearVelocity","unit":"furlong/s"}`), 2},
		{"usage/map-without-route", with("--map", `line1/other={"path":"/s","quantity":"force","unit":"N"}`), 2},
		{"usage/non-physical-without-route", with("--non-physical", "line1/other"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := run(context.Background(), tc.args)
			if code != tc.code {
				t.Fatalf("run(%q) = %d, %v; want %d", tc.args, code, err, tc.code)
			}
		})
	}
}

// TestRunRefusesRouteWithoutMapping: a route that neither maps its payload
// nor is declared non-physical keeps the bridge from starting (exit 2); the
// same route declared --non-physical or --map'ped starts.
func TestRunRefusesRouteWithoutMapping(t *testing.T) {
	var out lockedBuffer
	stderr = &out
	t.Cleanup(func() { stderr = io.Discard })
	dir := t.TempDir()
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a bridge that starts stops at once
	base := []string{"--route", "agent/c1=line1/conveyor", "--broker-name", "factory", "--broker", "mqtt://127.0.0.1:1",
		"--agent-key", keyPath, "--token-id", "x", "--timeout", "200ms", "--api-key", "sk_test"}
	for _, tc := range []struct {
		name  string
		extra []string
		code  int
	}{
		{"refused/no-mapping", nil, 2},
		{"starts/non-physical", []string{"--non-physical", "line1/conveyor"}, 0},
		{"starts/mapped", []string{"--map", `line1/conveyor=[{"path":"cmd.speed","quantity":"linearVelocity","unit":"mm/s"}]`}, 0},
		{"refused/mapped-and-non-physical", []string{"--non-physical", "line1/conveyor",
			"--map", `line1/conveyor={"path":"cmd.speed","quantity":"linearVelocity","unit":"mm/s"}`}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := run(ctx, append(append([]string{}, base...), tc.extra...))
			if code != tc.code {
				t.Fatalf("run = %d, %v; want %d", code, err, tc.code)
			}
			if tc.code == 2 && (err == nil || !strings.Contains(err.Error(), "line1/conveyor")) {
				t.Fatalf("error %v does not name the route", err)
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRunWarnsWithoutEstopPoll(t *testing.T) {
	var out lockedBuffer
	stderr = &out
	t.Cleanup(func() { stderr = io.Discard })
	dir := t.TempDir()
	k, err := keyfile.Generate()
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "agent.key")
	if err := keyfile.Save(keyPath, k); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SINT_API_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // start, warn, stop at once
	// Port 1 refuses at once: no broker is needed.
	args := []string{"--route", "agent/v1=line1/v1", "--safe-stop", `line1/v1={"state":"closed"}`, "--non-physical", "line1/v1", "--broker-name", "factory",
		"--broker", "mqtt://127.0.0.1:1", "--agent-key", keyPath, "--token-id", "x", "--timeout", "200ms"}
	if code, err := run(ctx, args); code != 0 {
		t.Fatalf("run = %d, %v", code, err)
	}
	if !strings.Contains(out.String(), "no --api-key-file or --api-key") {
		t.Fatalf("no warning about the missing e-stop poll in:\n%s", out.String())
	}
	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	if code, err := run(ctx, append(args, "--api-key", "sk_test")); code != 0 {
		t.Fatalf("run with --api-key = %d, %v", code, err)
	}
	if strings.Contains(out.String(), "no --api-key-file or --api-key") {
		t.Fatal("warned about the e-stop poll although --api-key was given")
	}
}
