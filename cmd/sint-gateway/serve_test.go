package main

import (
	"context"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/memlimit"
	"github.com/sintgate/sintgate/internal/memrelief"
)

// TestServeSetsAMemoryLimit: serve leaves the runtime with a finite soft
// memory limit by default (GOGC=400 alone let a spike keep five times its
// peak live heap), applies the flag, and leaves a GOMEMLIMIT from the
// environment alone.
func TestServeSetsAMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	host := memlimit.Host{Physical: 24 << 30, CPUs: 2}
	cases := []struct {
		name, flag, env string
		before, want    int64
	}{
		{name: "default-auto", flag: serveCmd.Flags().Lookup("memory-limit").DefValue, before: math.MaxInt64, want: 512 << 20},
		{name: "flag", flag: "300MiB", before: math.MaxInt64, want: 300 << 20},
		{name: "flag-off", flag: "off", before: 200 << 20, want: math.MaxInt64},
		// The runtime applied GOMEMLIMIT at start (here: 123 MiB); serve keeps it.
		{name: "env-wins", flag: "300MiB", env: "123MiB", before: 123 << 20, want: 123 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.before)
			if _, err := applyMemoryLimit(tc.flag, tc.env, host); err != nil {
				t.Fatal(err)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.want {
				t.Fatalf("runtime memory limit %d MiB, want %d MiB", got>>20, tc.want>>20)
			}
		})
	}
	if _, err := applyMemoryLimit("lots", "", host); err == nil {
		t.Fatal("a bad --memory-limit was accepted")
	}
}

// TestServeStartsTheMemoryRelief: `serve` (the command, run in-process on
// an initialised data directory) starts the relief loop by default, every
// 10 s above 64 MiB, passes --memory-relief and --memory-relief-min on,
// hands an "off" loop its zero interval, and refuses to start on a typo.
func TestServeStartsTheMemoryRelief(t *testing.T) {
	prevLimit := debug.SetMemoryLimit(-1)
	prevGC := debug.SetGCPercent(100)
	debug.SetGCPercent(prevGC)
	t.Cleanup(func() { debug.SetMemoryLimit(prevLimit); debug.SetGCPercent(prevGC) })
	prev := startRelief
	t.Cleanup(func() { startRelief = prev })

	dir := filepath.Join(t.TempDir(), "gw")
	root.SetArgs([]string{"init", "--data-dir", dir, "--json"})
	root.SetOut(io.Discard)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	serve := func(t *testing.T, extra ...string) (memrelief.Config, error) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan memrelief.Config, 1)
		startRelief = func(_ context.Context, c memrelief.Config) { got <- c }
		addr := freeAddr(t)
		args := append([]string{"serve", "--data-dir", dir, "--listen", addr, "--log-level", "error",
			"--memory-relief", "10s", "--memory-relief-min", "64MiB"}, extra...)
		root.SetArgs(args)
		serveCmd.SetContext(ctx) // cobra keeps a subcommand's context from an earlier Execute
		errc := make(chan error, 1)
		go func() { errc <- root.ExecuteContext(ctx) }()
		if err := waitHealthy(t, addr, errc); err != nil {
			return memrelief.Config{}, err // serve refused to start
		}
		// Serving: the relief loop must have been started by now.
		var c memrelief.Config
		select {
		case c = <-got:
		default:
			t.Fatal("serve is serving without a memory relief loop")
		}
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("serve: %v", err)
		}
		return c, nil
	}
	defaults := serveCmd.Flags()
	if d := defaults.Lookup("memory-relief").DefValue; d != "10s" {
		t.Fatalf("--memory-relief defaults to %q, want 10s", d)
	}
	if d := defaults.Lookup("memory-relief-min").DefValue; d != "64MiB" {
		t.Fatalf("--memory-relief-min defaults to %q, want 64MiB", d)
	}
	cases := []struct {
		name     string
		args     []string
		interval time.Duration
		min      uint64
	}{
		{name: "default", interval: 10 * time.Second, min: 64 << 20},
		{name: "flags", args: []string{"--memory-relief", "30s", "--memory-relief-min", "128MiB"}, interval: 30 * time.Second, min: 128 << 20},
		{name: "off", args: []string{"--memory-relief", "off"}, interval: 0, min: 64 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := serve(t, tc.args...)
			if err != nil {
				t.Fatalf("serve: %v", err)
			}
			if c.Interval != tc.interval || c.Min != tc.min || c.Log == nil {
				t.Fatalf("relief started with every %s above %d MiB (log %v), want every %s above %d MiB",
					c.Interval, c.Min>>20, c.Log != nil, tc.interval, tc.min>>20)
			}
		})
	}
	for _, bad := range [][]string{{"--memory-relief", "often"}, {"--memory-relief", "-1s"}, {"--memory-relief", "1ms"}, {"--memory-relief-min", "lots"}, {"--memory-relief-min", "0"}} {
		t.Run("refuses/"+bad[0]+"="+bad[1], func(t *testing.T) {
			if _, err := serve(t, bad...); err == nil {
				t.Fatalf("serve started with %v", bad)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls /health until it answers 200; if serve returns first,
// its error.
func waitHealthy(t *testing.T, addr string, errc chan error) error {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("serve returned nil before it was healthy")
			}
			return err
		default:
		}
		if r, err := http.Get("http://" + addr + "/health"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("serve not healthy within 60 s")
	return nil
}
