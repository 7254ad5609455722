package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

// ledgerAt is a file ledger whose entry timestamps follow a settable clock.
type ledgerAt struct {
	mu  sync.Mutex
	now time.Time
	*filestore.Store
}

func newLedgerAt(t testing.TB, start time.Time) *ledgerAt {
	t.Helper()
	l := &ledgerAt{now: start}
	s, err := filestore.Open(t.TempDir(), filestore.Options{Clock: func() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	l.Store = s
	return l
}

func (l *ledgerAt) set(t time.Time) { l.mu.Lock(); l.now = t; l.mu.Unlock() }

func decision(agent, requestID, code string) ledger.Event {
	p := map[string]any{"agentId": agent, "requestId": requestID, "decision": "allow", "code": nil}
	if code != "" {
		p["decision"], p["code"] = "deny", code
	}
	return ledger.Event{EventType: "policy.evaluated", AgentID: agent, Payload: p}
}

// TestRecoverReplay: the pairs of the entries inside the lookback are
// remembered, those before it and those refused before the signature held
// are not.
func TestRecoverReplay(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	lg := newLedgerAt(t, t0)
	appendAt := func(at time.Time, ev ledger.Event) {
		t.Helper()
		lg.set(at)
		if _, err := lg.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	appendAt(t0, decision("a1", "old", ""))                      // outside the window
	appendAt(t0.Add(10*time.Second), decision("a1", "edge", "")) // exactly at now − ReplayLookback
	appendAt(t0.Add(12*time.Second), ledger.Event{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"policyHash": "x"}})
	appendAt(t0.Add(14*time.Second), decision("a1", "allowed", ""))               // remembered
	appendAt(t0.Add(16*time.Second), decision("a2", "denied", "TIER_EXCEEDED"))   // a deny is remembered too
	appendAt(t0.Add(18*time.Second), decision("a3", "forged", "UNAUTHENTICATED")) // never authenticated
	appendAt(t0.Add(20*time.Second), ledger.Event{EventType: "approval.created", AgentID: "system",
		Payload: map[string]any{"agentId": "a4", "requestId": "escalated"}}) // the payload names the agent
	now := t0.Add(10*time.Second + gateway.ReplayLookback)
	got := map[string]bool{}
	n, err := gateway.RecoverReplay(ctx, lg, now, gateway.ReplayLookback, func(a, r string) error {
		got[a+"/"+r] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"a1/edge": true, "a1/allowed": true, "a2/denied": true, "a4/escalated": true}
	if n != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recovered %d %v; want %v", n, got, want)
	}

	t.Run("memory-cache-refuses-recovered", func(t *testing.T) {
		m := gateway.NewMemoryReplay(1000)
		if _, err := gateway.RecoverMemoryReplay(ctx, m, lg, now); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			agent, req string
			first      bool
		}{{"a1", "allowed", false}, {"a4", "escalated", false}, {"a1", "old", true}, {"a3", "forged", true}} {
			if first, err := m.FirstSeen(ctx, c.agent, c.req, now); err != nil || first != c.first {
				t.Errorf("FirstSeen(%s, %s) = %v, %v; want %v", c.agent, c.req, first, err, c.first)
			}
		}
	})
	t.Run("empty-ledger", func(t *testing.T) {
		n, err := gateway.RecoverReplay(ctx, newLedgerAt(t, t0), now, gateway.ReplayLookback, func(string, string) error { return nil })
		if err != nil || n != 0 {
			t.Fatalf("RecoverReplay on an empty ledger: %d, %v", n, err)
		}
	})
	t.Run("error/remember-fails", func(t *testing.T) {
		_, err := gateway.RecoverReplay(ctx, lg, now, gateway.ReplayLookback, func(string, string) error { return gateway.ErrReplayCacheFull })
		if !errors.Is(err, gateway.ErrReplayCacheFull) {
			t.Fatalf("RecoverReplay with a failing cache: %v; want ErrReplayCacheFull", err)
		}
	})
}

// BenchmarkRecoverReplay: start-up cost of refilling the replay cache
// from a file ledger whose last 65 s hold 100,000 decisions (one op =
// one recovery of all of them).
func BenchmarkRecoverReplay(b *testing.B) {
	ctx := context.Background()
	t0 := time.Now()
	lg := newLedgerAt(b, t0)
	const n = 100_000
	agent := "4f0c5e1f7a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5"
	batch := make([]ledger.Event, 0, ledger.MaxBatch)
	for i := range n {
		batch = append(batch, decision(agent, fmt.Sprintf("0193a1b2-c3d4-7e5f-8a9b-%012x", i), ""))
		if len(batch) == cap(batch) || i == n-1 {
			if _, _, err := lg.AppendBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ResetTimer()
	for b.Loop() {
		m := gateway.NewMemoryReplay(4_000_000)
		got, err := gateway.RecoverMemoryReplay(ctx, m, lg, t0.Add(time.Second))
		if err != nil || got != n {
			b.Fatalf("recovered %d, %v", got, err)
		}
	}
}
