package mcpbridge_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// offlineConfig is a Config whose gateway is never reached: for tests that
// make no tool call. Its downstream is the test server.
func offlineConfig(t *testing.T) mcpbridge.Config {
	t.Helper()
	dct, dst := mcp.NewInMemoryTransports()
	ss, err := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(nil)).Connect(context.Background(), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	return mcpbridge.Config{
		ServerName: "testfs", Downstream: dct, TokenID: "tok",
		Gateway:  &client.Agent{BaseURL: "http://127.0.0.1:1", Key: tokentest.Key("offline")},
		Verifier: attest.NewJWKSCache(nil, "http://127.0.0.1:1/.well-known/jwks.json"),
		Log:      quiet,
	}
}

// blockingEstop answers "armed" to the first read; later reads signal
// inPoll and then wait for release or their context, and answer "armed"
// all the same.
type blockingEstop struct {
	reads     atomic.Int64
	inPoll    chan struct{}
	release   chan struct{}
	sawCancel atomic.Bool
}

func (e *blockingEstop) ReadEstop(ctx context.Context) (client.EstopState, error) {
	if e.reads.Add(1) > 1 {
		select {
		case e.inPoll <- struct{}{}:
		default:
		}
		select {
		case <-e.release:
		case <-ctx.Done():
			e.sawCancel.Store(true)
		}
	}
	return client.EstopState{State: "armed", Epoch: 1}, nil
}

// stopHandler holds the "bridge stopped" latch's log line until a poll in
// flight has had its chance to unlatch: it releases the poll and, unless
// the poll already returned because Run cancelled it, waits for its
// "bridge resumed". Without the ordering in Run that reproduces the race
// deterministically; with it, the poll has stopped before the latch.
type stopHandler struct {
	slog.Handler
	e       *blockingEstop
	resumed chan struct{}
}

func (h *stopHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *stopHandler) Handle(_ context.Context, r slog.Record) error {
	switch r.Message {
	case "bridge resumed":
		close(h.resumed)
	case "bridge latched: calls refused":
		stopped := false
		r.Attrs(func(a slog.Attr) bool {
			stopped = stopped || (a.Key == "reason" && a.Value.String() == "bridge stopped")
			return true
		})
		if stopped {
			close(h.e.release)
			if !h.e.sawCancel.Load() {
				<-h.resumed
			}
		}
	}
	return nil
}

func (h *stopHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *stopHandler) WithGroup(string) slog.Handler      { return h }

// TestLatchedAfterRun: when Run returns the bridge is latched, also when
// an e-stop poll was in flight as the client disconnected (the poll must
// not unlatch after Run's final latch).
func TestLatchedAfterRun(t *testing.T) {
	t.Run("poll-in-flight", func(t *testing.T) {
		e := &blockingEstop{inPoll: make(chan struct{}, 1), release: make(chan struct{})}
		cfg := offlineConfig(t)
		cfg.Estop = e
		cfg.Log = slog.New(&stopHandler{Handler: slog.DiscardHandler, e: e, resumed: make(chan struct{})})
		b, err := mcpbridge.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		uct, ust := mcp.NewInMemoryTransports()
		done := make(chan error, 1)
		go func() { done <- b.Run(context.Background(), ust) }()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "a", Version: "v1"}, nil).Connect(context.Background(), uct, nil)
		if err != nil {
			t.Fatal(err)
		}
		recv(t, e.inPoll, "second poll")
		if got, _ := b.Latched(); got {
			t.Fatal("latched before the client went away")
		}
		_ = cs.Close() // the client disconnects while the poll is in flight
		if err := recv(t, done, "Run's return"); err != nil {
			t.Logf("Run: %v", err)
		}
		if got, _ := b.Latched(); !got {
			t.Fatal("bridge not latched after Run returned")
		}
	})
	t.Run("ctx-cancelled", func(t *testing.T) {
		b, err := mcpbridge.New(context.Background(), offlineConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx, cancel := context.WithCancel(context.Background())
		_, ust := mcp.NewInMemoryTransports()
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx, ust) }()
		cancel()
		recv(t, done, "Run's return")
		if got, why := b.Latched(); !got || why != "bridge stopped" {
			t.Fatalf("after Run: latched=%v reason=%q", got, why)
		}
	})
}
