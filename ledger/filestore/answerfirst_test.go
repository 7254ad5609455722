package filestore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/ledger"
)

// TestAnsweredBeforeIndexed: a group is answered once it is durable and
// readable by sequence, before its event ids are in the index; meanwhile
// GetByEventID still finds its entries (from the log), and a later append
// of the same caller-chosen id is still refused as a duplicate.
func TestAnsweredBeforeIndexed(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	s.beforeIndex = func(first uint64) { // set before the writer's first group
		if first == 2 {
			entered <- struct{}{}
			<-release
		}
	}
	if _, err := s.Append(ctx, ledger.Event{EventType: "x", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	id := uuid.Must(uuid.NewV7()).String()
	type res struct {
		e   ledger.Entry
		err error
	}
	done := make(chan res, 1)
	go func() {
		e, err := s.Append(ctx, ledger.Event{EventID: id, EventType: "x", AgentID: "a", Payload: map[string]any{"k": 1}})
		done <- res{e, err}
	}()
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the writer never reached the index")
	}
	var r res
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		close(release)
		t.Fatal("the append was not answered before its id was indexed")
	}
	if r.err != nil || r.e.SequenceNumber != 2 {
		close(release)
		t.Fatalf("append: %v %v", r.e, r.err)
	}
	got, err := s.GetByEventID(ctx, id)
	if err != nil || got.SequenceNumber != 2 || got.Hash != r.e.Hash {
		close(release)
		t.Fatalf("GetByEventID while unindexed = %v, %v", got, err)
	}
	if byseq, err := s.Get(ctx, 2); err != nil || byseq.EventID != id {
		close(release)
		t.Fatalf("Get(2) while unindexed = %v, %v", byseq, err)
	}
	if _, err := s.GetByEventID(ctx, uuid.Must(uuid.NewV7()).String()); !errors.Is(err, ledger.ErrNotFound) {
		close(release)
		t.Fatalf("an unknown id: %v", err)
	}
	dup := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, ledger.Event{EventID: id, EventType: "x", AgentID: "a"})
		dup <- err
	}()
	close(release)
	if err := <-dup; !errors.Is(err, ledger.ErrDuplicateEvent) {
		t.Fatalf("the same id again: %v, want ErrDuplicateEvent", err)
	}
	if got, err := s.GetByEventID(ctx, id); err != nil || got.SequenceNumber != 2 {
		t.Fatalf("GetByEventID once indexed = %v, %v", got, err)
	}
	s.mu.RLock()
	pending := s.unindexed
	s.mu.RUnlock()
	if pending != 0 {
		t.Fatalf("unindexed = %d after the index caught up", pending)
	}
}
