package filestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sintgate/sintgate/ledger"
)

// TestLastOfTypeIncremental: LastOfType remembers what it found and scans
// only the entries appended since its last answer; the answers must stay
// exactly those of a full scan whatever the interleaving of appends and
// lookups of several types (and a type that never occurs), appended one by one
// and in groups.
func TestLastOfTypeIncremental(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	types := []string{"policy.evaluated", ledger.EventTypeCheckpoint, "estop.tripped", "never.appended"}
	last := map[string]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 600; i++ {
		if rng.IntN(5) == 0 {
			// A group of several entries: the writer advances the
			// remembered answers by a whole group (advanceLast).
			evs := make([]ledger.Event, 1+rng.IntN(6))
			for k := range evs {
				evs[k] = ledger.Event{EventType: types[rng.IntN(3)], AgentID: ledger.AgentSystem, Payload: map[string]any{"i": i, "k": k}}
			}
			entries, errs, err := s.AppendBatch(ctx, evs)
			if err != nil {
				t.Fatal(err)
			}
			for k, e := range entries {
				if errs[k] != nil {
					t.Fatal(errs[k])
				}
				last[e.EventType] = e.SequenceNumber
			}
			continue
		}
		if rng.IntN(3) > 0 {
			typ := types[rng.IntN(3)]
			e, err := s.Append(ctx, ledger.Event{EventType: typ, AgentID: ledger.AgentSystem, Payload: map[string]any{"i": i}})
			if err != nil {
				t.Fatal(err)
			}
			last[typ] = e.SequenceNumber
			continue
		}
		for _, typ := range types {
			e, err := s.LastOfType(ctx, typ)
			want, ok := last[typ]
			switch {
			case !ok && !errors.Is(err, ledger.ErrNotFound):
				t.Fatalf("step %d: LastOfType(%s) = %d, %v; want not found", i, typ, e.SequenceNumber, err)
			case ok && (err != nil || e.SequenceNumber != want || e.EventType != typ):
				t.Fatalf("step %d: LastOfType(%s) = %d %s, %v; want %d", i, typ, e.SequenceNumber, e.EventType, err, want)
			}
		}
	}
	if got := fmt.Sprint(len(last)); got != "3" {
		t.Fatalf("appended types %s, want 3", got)
	}
}

// TestLastOfTypeFollowsTheWriter: once LastOfType has answered for a type,
// the writer keeps that answer current as groups commit, so the next lookup
// (the checkpointer's, once per checkpoint) reads no entry appended since,
// whether or not one of them is of that type.
func TestLastOfTypeFollowsTheWriter(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cp := ledger.EventTypeCheckpoint
	if _, err := s.Append(ctx, ledger.Event{EventType: cp, AgentID: ledger.AgentSystem}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LastOfType(ctx, cp); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		withCP bool
	}{{"no entry of the type since", false}, {"one entry of the type in a group", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var want uint64
			if e, err := s.LastOfType(ctx, cp); err == nil {
				want = e.SequenceNumber
			}
			for i := range 50 {
				evs := make([]ledger.Event, 1+i%4)
				for k := range evs {
					evs[k] = ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]any{"i": i, "k": k}}
				}
				if tt.withCP && i == 30 {
					evs[len(evs)/2].EventType = cp
				}
				entries, errs, err := s.AppendBatch(ctx, evs)
				if err != nil {
					t.Fatal(err)
				}
				for k, e := range entries {
					if errs[k] != nil {
						t.Fatal(errs[k])
					}
					if e.EventType == cp {
						want = e.SequenceNumber
					}
				}
			}
			s.lastScanned.Store(0)
			e, err := s.LastOfType(ctx, cp)
			if err != nil || e.SequenceNumber != want || e.EventType != cp {
				t.Fatalf("LastOfType = %d %s, %v; want %d", e.SequenceNumber, e.EventType, err, want)
			}
			if n := s.lastScanned.Load(); n != 0 {
				t.Fatalf("LastOfType read %d entries appended since its last answer, want 0", n)
			}
		})
	}
}
