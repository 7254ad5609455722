package filestore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/ledger"
)

// TestSequencedHook: the store announces an event's sequence at its
// serialisation point, after the guard and before the group is durable (the
// entry is not yet part of the ledger's size), once per written event and
// with the sequence Append returns; events refused by their guard or as
// duplicates are never announced, and a panicking hook does not break the
// append.
func TestSequencedHook(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type call struct {
		ev   int
		seq  uint64
		size uint64
	}
	var mu sync.Mutex
	var calls []call
	hook := func(ev int) func(uint64) {
		return func(seq uint64) {
			// White-box: the hook must not call the store in general; the
			// size here only shows that the entry is not yet visible.
			size, err := s.Size(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			calls = append(calls, call{ev, seq, size})
			mu.Unlock()
		}
	}
	boom := errors.New("refused")
	dup := uuid.Must(uuid.NewV7()).String()
	if _, err := s.Append(ctx, ledger.Event{EventID: dup, EventType: "x", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	evs := []ledger.Event{
		{EventType: "x", AgentID: "a", Sequenced: hook(0)},
		{EventType: "x", AgentID: "a", Guard: func() error { return boom }, Sequenced: hook(1)},
		{EventType: "x", AgentID: "a", Sequenced: hook(2)},
		{EventID: dup, EventType: "x", AgentID: "a", Sequenced: hook(3)},
		{EventType: "x", AgentID: "a", Sequenced: func(uint64) { panic("bad hook") }},
		{EventType: "x", AgentID: "a", Sequenced: hook(5)},
	}
	entries, errs, err := s.AppendBatch(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[1], boom) || !errors.Is(errs[3], ledger.ErrDuplicateEvent) {
		t.Fatalf("errors %v", errs)
	}
	for _, i := range []int{0, 2, 4, 5} {
		if errs[i] != nil {
			t.Fatalf("event %d: %v", i, errs[i])
		}
	}
	want := []call{{0, entries[0].SequenceNumber, 1}, {2, entries[2].SequenceNumber, 1}, {5, entries[5].SequenceNumber, 1}}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("hook calls %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("hook calls %+v, want %+v", calls, want)
		}
	}
	for _, i := range []int{0, 2, 4, 5} {
		got, err := s.Get(ctx, entries[i].SequenceNumber)
		if err != nil || got.EventID != entries[i].EventID {
			t.Fatalf("entry %d: %v %v", i, got, err)
		}
	}
}
