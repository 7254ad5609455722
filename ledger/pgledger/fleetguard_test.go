package pgledger

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
)

func tripEvent(id string) ledger.Event {
	return ledger.Event{EventType: "safety.estop.tripped", AgentID: "system", Payload: map[string]any{"epoch": 1, "source": "api", "kind": "api", "reason": "t", "tripId": id}}
}

func resetEvent(acks ...string) ledger.Event {
	return ledger.Event{EventType: "safety.estop.reset", AgentID: "operator:x", Payload: map[string]any{"epoch": 1, "reason": "r", "acks": acks}}
}

func guarded(i int) ledger.Event {
	ev := benchEvent(i)
	ev.Guard = func() error { return nil } // the replica's own breaker is armed
	return ev
}

// TestFleetEstopGuard: the chain's own e-stop state refuses guarded events
// between a trip entry with a tripId and the reset entry that acknowledges
// it, for every process appending to the chain, and only guarded ones.
func TestFleetEstopGuard(t *testing.T) {
	url := testenv.FreshPGDatabase(t)
	ctx := context.Background()
	open := func() *Store {
		s, err := Open(ctx, url, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open() // two replicas, one chain
	mustAppend := func(s *Store, ev ledger.Event) ledger.Entry {
		t.Helper()
		e, err := s.Append(ctx, ev)
		if err != nil {
			t.Fatalf("append %s: %v", ev.EventType, err)
		}
		return e
	}
	refused := func(s *Store, ev ledger.Event) {
		t.Helper()
		size, _ := s.Size(ctx)
		_, err := s.Append(ctx, ev)
		if codes.Of(err) != codes.EstopEngaged {
			t.Fatalf("guarded append while the fleet is tripped: %v, want ESTOP_ENGAGED", err)
		}
		if after, _ := s.Size(ctx); after != size {
			t.Fatalf("a refused append used a sequence: %d → %d", size, after)
		}
	}
	active := func(want ...string) {
		t.Helper()
		got, err := b.ActiveTrips(ctx)
		if err != nil || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("active trips %v (%v), want %v", got, err, want)
		}
	}

	mustAppend(b, guarded(0))
	mustAppend(a, tripEvent("gw/a/1"))
	active("gw/a/1")
	refused(b, guarded(1)) // the other replica, its own breaker still armed
	refused(a, guarded(2))
	mustAppend(b, benchEvent(3))        // unguarded (a deny) is always recorded
	mustAppend(b, tripEvent("gw/a/1"))  // the trip reaching b: no change
	mustAppend(b, tripEvent("gw/b/7"))  // a second trip on b
	mustAppend(a, resetEvent("gw/a/1")) // a reset that did not see b's trip
	active("gw/b/7")
	refused(a, guarded(4))
	mustAppend(b, resetEvent("gw/a/1", "gw/b/7"))
	active()
	mustAppend(a, guarded(5))
	// A late copy of an acknowledged trip does not trip the chain again.
	mustAppend(a, tripEvent("gw/a/1"))
	active()
	mustAppend(b, guarded(6))
	// A trip entry without a tripId (single node, or a replica's own bus
	// gap) does not change the fleet state.
	mustAppend(a, ledger.Event{EventType: "safety.estop.tripped", AgentID: "system", Payload: map[string]any{"epoch": 9, "source": "bus", "kind": "replica"}})
	mustAppend(b, guarded(7))

	// In one group, events before the trip entry pass and guarded events
	// after it are refused; unguarded ones are written.
	evs := []ledger.Event{guarded(8), tripEvent("gw/a/2"), guarded(9), benchEvent(10)}
	entries, errs, err := a.AppendBatch(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[1] != nil || errs[3] != nil || codes.Of(errs[2]) != codes.EstopEngaged {
		t.Fatalf("group errors %v", errs)
	}
	if entries[1].SequenceNumber != entries[0].SequenceNumber+1 || entries[3].SequenceNumber != entries[1].SequenceNumber+1 {
		t.Fatalf("sequences %d %d %d: the refused event used one", entries[0].SequenceNumber, entries[1].SequenceNumber, entries[3].SequenceNumber)
	}
	active("gw/a/2")

	// The error is the one Options.Tripped makes.
	sentinel := errors.New("tripped")
	c, err := Open(ctx, url, Options{Tripped: func(ids []string) error {
		if !slices.Equal(ids, []string{"gw/a/2"}) {
			t.Errorf("Tripped(%v)", ids)
		}
		return sentinel
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Append(ctx, guarded(11)); !errors.Is(err, sentinel) {
		t.Fatalf("custom Tripped: %v", err)
	}
	mustAppend(c, resetEvent("gw/a/2"))
	mustAppend(c, guarded(12))

	size, _ := a.Size(ctx)
	if vr, err := a.Verify(ctx, 1, size); err != nil || !vr.Valid {
		t.Fatalf("chain does not verify: %+v %v", vr, err)
	}
}
