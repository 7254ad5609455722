package estop

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// flakyLedger is a recorder and persister that fails while down and
// records each trip event id once (as the ledger does by event id).
type flakyLedger struct {
	mu      sync.Mutex
	down    bool
	order   []string // "trip:<eventId>" / "reset"
	byID    map[string]int
	saved   []State
	noMetas int
}

var errDown = errors.New("store unavailable")

func (f *flakyLedger) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *flakyLedger) RecordTrip(ctx context.Context, s State, src Source, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	m := TripMetaOf(ctx)
	if m.EventID == "" {
		f.noMetas++
		return nil
	}
	if f.byID == nil {
		f.byID = map[string]int{}
	}
	if f.byID[m.EventID] > 0 {
		return nil // duplicate event id: the ledger keeps the first
	}
	f.byID[m.EventID]++
	f.order = append(f.order, "trip:"+src.String())
	return nil
}

func (f *flakyLedger) RecordReset(ctx context.Context, s State, operator, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.order = append(f.order, "reset")
	return nil
}

func (f *flakyLedger) Save(ctx context.Context, s State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errDown
	}
	f.saved = append(f.saved, s)
	return nil
}

func (f *flakyLedger) snapshot() ([]string, []State) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...), append([]State(nil), f.saved...)
}

func openTestJournal(t *testing.T, path string, l *flakyLedger) (*Journal, *Breaker) {
	t.Helper()
	j, err := OpenJournal(path, l, l, JournalTryFor(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	b := NewBreaker(WithRecorder(j), WithPersister(j), WithInitial(j.Initial(State{})))
	j.Attach(b)
	return j, b
}

// TestJournalTripWithStoreDown: with the ledger and store down a trip
// succeeds at once (journaled), a reset is refused while the trip is not in
// the ledger, and once they are back the trip is recorded exactly once
// (however often the drain runs), before the reset entry, and persisted.
func TestJournalTripWithStoreDown(t *testing.T) {
	l := &flakyLedger{down: true}
	j, b := openTestJournal(t, filepath.Join(t.TempDir(), "estop.journal"), l)
	ctx := context.Background()
	if s, _ := b.Trip(WithAuthorization(ctx, "cached"), Source{ID: "operator:alice", Kind: KindAPI}, "store down"); !s.Tripped || !b.Tripped() {
		t.Fatal("not tripped")
	}
	if got := j.Pending(); len(got) != 1 || got[0].Auth != "cached" || got[0].Source != "operator:alice" {
		t.Fatalf("pending %+v", got)
	}
	if _, err := b.Reset(ctx, "operator:bob", "too early"); err == nil || !b.Tripped() {
		t.Fatalf("reset with the trip unrecorded: err %v tripped %v", err, b.Tripped())
	}
	l.setDown(false)
	for range 3 {
		if err := j.Drain(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Reset(ctx, "operator:bob", "clear"); err != nil {
		t.Fatal(err)
	}
	order, saved := l.snapshot()
	if len(order) != 2 || order[0] != "trip:api:operator:alice" || order[1] != "reset" {
		t.Fatalf("ledger order %v; want the trip once, then the reset", order)
	}
	if len(saved) == 0 || !saved[0].Tripped || saved[len(saved)-1].Tripped {
		t.Fatalf("persisted %+v; want tripped, then armed last", saved)
	}
	if len(j.Pending()) != 0 {
		t.Fatal("journal not empty")
	}
}

// TestJournalRestart: a trip journaled while the store was down survives a
// restart: the gateway boots tripped even though the persisted state says
// armed, and the trip is recorded once when drained, even if the first
// recording's answer was lost (the same event id again).
func TestJournalRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "estop.journal")
	l := &flakyLedger{down: true}
	j, b := openTestJournal(t, path, l)
	if _, err := b.Trip(context.Background(), Source{ID: "BTN", Kind: KindGPIO}, "pressed"); !b.Tripped() {
		t.Fatalf("not tripped: %v", err)
	}
	first := j.Pending()[0]
	_ = j.Close()
	if fi, err := os.Stat(path); err != nil || fi.Size() != JournalPrealloc {
		t.Fatalf("journal file: %v size %d, want preallocated %d", err, fi.Size(), JournalPrealloc)
	}
	// A torn record after the first one (crash while writing) is ignored.
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	data, _ := os.ReadFile(path)
	end := int64(len(data))
	for i, c := range data {
		if c == 0 {
			end = int64(i)
			break
		}
	}
	_, _ = f.WriteAt([]byte(`{"eventId":"torn`), end)
	_ = f.Close()

	l.setDown(false)
	// The first recording reached the ledger but its answer was lost.
	_ = l.RecordTrip(WithTripMeta(context.Background(), TripMeta{EventID: first.EventID}), State{}, Source{ID: "BTN", Kind: KindGPIO}, "pressed")
	j2, b2 := openTestJournal(t, path, l)
	if got := j2.Pending(); len(got) != 1 || got[0].EventID != first.EventID {
		t.Fatalf("pending after restart %+v", got)
	}
	if s := b2.Snapshot(); !s.Tripped || s.Epoch != 1 {
		t.Fatalf("booted %+v; want tripped at epoch 1", s)
	}
	if err := j2.Drain(context.Background(), time.Second); err != nil {
		t.Fatal(err)
	}
	order, saved := l.snapshot()
	if len(order) != 1 || len(saved) != 1 || !saved[0].Tripped {
		t.Fatalf("ledger %v persisted %+v; want the trip once and a tripped state", order, saved)
	}
	_ = j2.Close()
	j3, _ := openTestJournal(t, path, l)
	if len(j3.Pending()) != 0 {
		t.Fatalf("drained journal still holds %+v", j3.Pending())
	}
}

// TestJournalRunDrains: Run records a trip once the ledger is back, without
// a reset or a restart.
func TestJournalRunDrains(t *testing.T) {
	l := &flakyLedger{down: true}
	j, b := openTestJournal(t, filepath.Join(t.TempDir(), "j"), l)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go j.Run(ctx, 5*time.Millisecond)
	_, _ = b.Trip(context.Background(), Source{ID: "detector", Kind: KindAnomaly}, "anomaly")
	l.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for len(j.Pending()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("not drained")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if order, _ := l.snapshot(); len(order) != 1 {
		t.Fatalf("ledger %v", order)
	}
}

// FuzzParseJournal: any file content parses without panicking, to records
// that end within the data, each re-encoding to a line the parser reads
// back the same.
func FuzzParseJournal(f *testing.F) {
	f.Add([]byte(`{"eventId":"01900000-0000-7000-8000-000000000001","epoch":1,"at":5,"source":"BTN","kind":"gpio","reason":"x"}` + "\n\x00\x00"))
	f.Add([]byte(`{"eventId":"a"}` + "\n" + `{"eventId":"torn`))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, end := parseJournal(data)
		if end < 0 || end > int64(len(data)) {
			t.Fatalf("end %d outside %d bytes", end, len(data))
		}
		again, end2 := parseJournal(data[:end])
		if end2 != end || len(again) != len(recs) {
			t.Fatalf("reparse of the records: %d/%d records, end %d/%d", len(again), len(recs), end2, end)
		}
	})
}

// hungLedger is a recorder and persister that, while hung, does not answer
// and does not honour its context either (a write already sent to a
// black-holed server waits for the client's own bound), then behaves as
// flakyLedger once released.
type hungLedger struct {
	flakyLedger
	release chan struct{}
}

func (h *hungLedger) RecordTrip(ctx context.Context, s State, src Source, reason string) error {
	<-h.release
	return h.flakyLedger.RecordTrip(ctx, s, src, reason)
}

func (h *hungLedger) Save(ctx context.Context, s State) error {
	<-h.release
	return h.flakyLedger.Save(ctx, s)
}

// TestJournalTripWithStoreHung: with a ledger and store that never answer
// (and ignore their contexts), a trip still returns, a second trip from
// another source is not held up by the first, and once the store answers
// again each trip is recorded exactly once and a reset succeeds.
func TestJournalTripWithStoreHung(t *testing.T) {
	l := &hungLedger{release: make(chan struct{})}
	j, err := OpenJournal(filepath.Join(t.TempDir(), "estop.journal"), l, l, JournalTryFor(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	b := NewBreaker(WithRecorder(j), WithPersister(j))
	j.Attach(b)
	ctx := context.Background()
	trip := func(src Source) {
		t.Helper()
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = b.Trip(ctx, src, "store hung")
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("trip by %v did not return with the store hung", src)
		}
	}
	trip(Source{ID: "operator:alice", Kind: KindAPI})
	trip(Source{ID: "detector", Kind: "anomaly"})
	if !b.Tripped() || len(j.Pending()) != 2 {
		t.Fatalf("tripped %v, pending %d; want tripped with 2 journaled trips", b.Tripped(), len(j.Pending()))
	}
	close(l.release)
	if err := j.Drain(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reset(ctx, "operator:bob", "clear"); err != nil {
		t.Fatal(err)
	}
	order, _ := l.snapshot()
	if len(order) != 3 || order[0] != "trip:api:operator:alice" || order[1] != "trip:anomaly:detector" || order[2] != "reset" {
		t.Fatalf("ledger order %v; want each trip once, then the reset", order)
	}
}

// TestJournalResetWithLedgerHung: a reset whose trips cannot reach a hung
// ledger fails within the reset bound instead of holding the breaker's lock
// (and so every later trip) until the ledger answers.
func TestJournalResetWithLedgerHung(t *testing.T) {
	l := &hungLedger{release: make(chan struct{})}
	t.Cleanup(func() { close(l.release) })
	j, err := OpenJournal(filepath.Join(t.TempDir(), "estop.journal"), l, l,
		JournalTryFor(50*time.Millisecond), JournalResetBound(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = j.Close() })
	b := NewBreaker(WithRecorder(j), WithPersister(j))
	j.Attach(b)
	ctx := context.Background()
	if _, err := b.Trip(ctx, Source{ID: "operator:alice", Kind: KindAPI}, "store hung"); err != nil && !b.Tripped() {
		t.Fatal(err)
	}
	reset := make(chan error, 1)
	go func() { _, err := b.Reset(ctx, "operator:bob", "clear"); reset <- err }()
	select {
	case err := <-reset:
		if err == nil {
			t.Fatal("reset succeeded while its trip is not in the ledger")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reset did not return with the ledger hung")
	}
	if !b.Tripped() {
		t.Fatal("the breaker re-armed")
	}
	tripped := make(chan struct{})
	go func() { _, _ = b.Trip(ctx, Source{ID: "detector", Kind: "anomaly"}, "again"); close(tripped) }()
	select {
	case <-tripped:
	case <-time.After(5 * time.Second):
		t.Fatal("a trip after the failed reset did not return")
	}
}
