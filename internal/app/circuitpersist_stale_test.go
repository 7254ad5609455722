package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/store"
)

// agentsDownable is a store.Agents in memory that refuses every call while
// down (the shared PostgreSQL seen from one replica during a partition).
type agentsDownable struct {
	mu   sync.Mutex
	m    map[string]store.Agent
	down bool
}

var errAgentsDown = errors.New("store down")

func (s *agentsDownable) PutAgent(_ context.Context, a store.Agent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errAgentsDown
	}
	if s.m == nil {
		s.m = map[string]store.Agent{}
	}
	s.m[a.AgentID] = a
	return nil
}

func (s *agentsDownable) GetAgent(_ context.Context, id string) (store.Agent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return store.Agent{}, errAgentsDown
	}
	a, ok := s.m[id]
	if !ok {
		return store.Agent{}, store.ErrNotFound
	}
	return a, nil
}

func (s *agentsDownable) DeleteAgent(context.Context, string) error { return nil }

func (s *agentsDownable) ListAgents(context.Context) ([]store.Agent, error) { return nil, nil }

func (s *agentsDownable) setDown(v bool) { s.mu.Lock(); s.down = v; s.mu.Unlock() }

// TestCircuitCloseRetryDoesNotUndoNewerOpen: replica A closes an agent's
// circuit while the shared store refuses A's write; meanwhile replica B
// (which reaches the store) opens the circuit again on a new severe
// violation. When the store comes back, A's retried close must not write
// the circuit closed over B's newer open: that write is announced and
// every replica, B included, would close the circuit nobody closed.
func TestCircuitCloseRetryDoesNotUndoNewerOpen(t *testing.T) {
	ctx := context.Background()
	st := &agentsDownable{}
	now := time.Now()
	ck := func() time.Time { return now }
	opened := now.Add(-time.Minute)
	for _, tc := range []struct {
		name     string
		reopen   bool // B opens the circuit again meanwhile
		openHere bool // and A applied B's open (announcement received)
	}{
		{"A applied B's open", true, true},
		{"B's announcement lost", true, false},
		{"nothing newer: the close is written", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := st.PutAgent(ctx, store.Agent{AgentID: "bot", CircuitOpen: true, CircuitSince: opened.UnixMilli(), CircuitCause: "first"}); err != nil {
				t.Fatal(err)
			}
			open := map[string]bool{}
			p := &circuitPersister{st: st, clock: ck, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				isOpen: func(id string) bool { return open[id] }}
			st.setDown(true)
			p.persist(ctx, "bot", gateway.Circuit{}) // A's close, refused
			st.setDown(false)
			now = now.Add(2 * time.Second)
			reopened := now
			// B opens again (its own store write succeeds).
			if tc.reopen {
				if err := st.PutAgent(ctx, store.Agent{AgentID: "bot", CircuitOpen: true, CircuitSince: reopened.UnixMilli(), CircuitCause: "second"}); err != nil {
					t.Fatal(err)
				}
			}
			open["bot"] = tc.openHere
			now = now.Add(time.Second)
			p.retry(ctx)
			a, err := st.GetAgent(ctx, "bot")
			if !tc.reopen {
				if err != nil || a.CircuitOpen {
					t.Fatalf("store after A's retry: %+v %v, want A's close written", a, err)
				}
				return
			}
			if err != nil || !a.CircuitOpen || a.CircuitCause != "second" {
				t.Fatalf("store after A's retry: %+v %v, want B's newer open kept", a, err)
			}
			if len(p.pending) != 0 {
				t.Fatalf("a superseded close still pending: %v", p.pending)
			}
		})
	}
}

// hungAgents is a store whose agent reads and writes never answer until
// their context ends (a PostgreSQL connection that hangs).
type hungAgents struct{ agentsDownable }

func (h *hungAgents) GetAgent(ctx context.Context, _ string) (store.Agent, error) {
	<-ctx.Done()
	return store.Agent{}, ctx.Err()
}

func (h *hungAgents) PutAgent(ctx context.Context, _ store.Agent) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestCircuitPersistBoundedByTimeout (persist runs under the circuits' lock,
// which every intercept's circuit check takes, and wrote with a context
// that never ended: a hung store stalled every intercept): the write gives
// up after circuitWriteTimeout and the circuit is kept for the retry.
func TestCircuitPersistBoundedByTimeout(t *testing.T) {
	p := &circuitPersister{st: &hungAgents{}, clock: time.Now, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	done := make(chan struct{})
	go func() {
		p.persist(context.Background(), "bot", gateway.Circuit{Open: true})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("persist still blocked on a store that does not answer")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pc, ok := p.pending["bot"]; !ok || !pc.c.Open {
		t.Fatalf("the refused open is not kept for the retry: %+v", p.pending)
	}
}
