package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/bridges/stopsem"
)

// TestBridgeReset: sintctl bridge-reset reaches a bridge's reset socket and
// passes the reason on.
func TestBridgeReset(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(t.TempDir(), "reset.sock")
	got := make(chan string, 1)
	if err := stopsem.ServeReset(ctx, sock, func(r string) bool { got <- r; return true }); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs([]string{"bridge-reset", "--socket", sock, "cell", "checked"})
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r != "cell checked" {
		t.Fatalf("reason %q", r)
	}
	if !strings.Contains(out.String(), "ok reset") {
		t.Fatalf("output %q", out.String())
	}
}
