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
// lookups of several types (and a type that never occurs).
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
