package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	dir := t.TempDir()
	nodes := filepath.Join(dir, "nodes.json")
	if err := os.WriteFile(nodes, []byte(`{"nodes":[{"path":"Cell/Speed","nodeId":"ns=1;s=Speed","kind":"variable","type":"Double","nonPhysical":true}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"nodes":[{"path":"x","color":"red"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--endpoint", "opc.tcp://127.0.0.1:1", "--endpoint-name", "cell1", "--agent-key", "a.key", "--token-id", "t", "--front-key-file", "f.key"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"security mode is never implied", append(append([]string{}, base...), "--nodes", nodes), "--security-mode is required"},
		{"unknown member in the nodes file", append(append([]string{}, base...), "--nodes", bad, "--security-mode", "None"), `unknown field "color"`},
		{"bad endpoint name", []string{"--endpoint", "opc.tcp://x:1", "--endpoint-name", "Cell_1", "--nodes", nodes, "--security-mode", "None", "--agent-key", "a", "--token-id", "t", "--front-key-file", "f"}, "endpoint name"},
		{"max-held below 1", append(append([]string{}, base...), "--nodes", nodes, "--security-mode", "None", "--max-held", "0"), "--max-held must be at least 1"},
		{"no nodes", []string{"--endpoint", "opc.tcp://x:1"}, "--nodes is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			stderr = &buf
			code, err := run(context.Background(), c.args, nil)
			if code != 2 || err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("code %d err %v; want 2 and %q", code, err, c.want)
			}
		})
	}
}

// TestResetSocketHelp: the reset socket's help names its client, sintctl
// bridge-reset.
func TestResetSocketHelp(t *testing.T) {
	var buf bytes.Buffer
	stderr = &buf
	if code, err := run(context.Background(), []string{"--help"}, nil); code != 0 || err != nil {
		t.Fatalf("--help: %d %v", code, err)
	}
	if !strings.Contains(buf.String(), "sintctl bridge-reset --socket PATH") {
		t.Fatalf("--reset-socket help does not name sintctl bridge-reset:\n%s", buf.String())
	}
}
