package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/sintgate/sintgate/internal/memlimit"
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
