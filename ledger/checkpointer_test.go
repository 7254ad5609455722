package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeLedger counts entries; sign records a checkpoint over all of them
// (plus its own entry, as Ledger.Checkpoint does).
type fakeLedger struct {
	mu     sync.Mutex
	size   uint64
	signed []uint64 // tree sizes of the checkpoints signed
	calls  atomic.Int64
}

func (f *fakeLedger) append(n uint64) { f.mu.Lock(); f.size += n; f.mu.Unlock() }

func (f *fakeLedger) sign(context.Context) (Checkpoint, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.size == 0 {
		return Checkpoint{}, ErrNotFound
	}
	if k := len(f.signed); k > 0 && f.size <= f.signed[k-1]+1 {
		return Checkpoint{TreeSize: f.signed[k-1]}, nil
	}
	cp := Checkpoint{TreeSize: f.size}
	f.signed = append(f.signed, f.size)
	f.size++ // the checkpoint's own entry
	return cp, nil
}

func (f *fakeLedger) sizeOf(context.Context) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size, nil
}

func (f *fakeLedger) checkpoints() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.signed...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCheckpointerTriggers: a checkpoint is signed at start (for what a
// previous run left), when Entries entries were appended, on the interval,
// and by Final; nothing is signed for fewer entries before the interval.
func TestCheckpointerTriggers(t *testing.T) {
	start := func(t *testing.T, f *fakeLedger, interval time.Duration) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		c := &Checkpointer{Sign: f.sign, Size: f.sizeOf, Interval: interval, Entries: 100, poll: time.Millisecond}
		go func() { defer close(done); c.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	t.Run("start/covers-what-is-there", func(t *testing.T) {
		f := &fakeLedger{size: 183_123}
		start(t, f, time.Hour)
		waitFor(t, "the start checkpoint", func() bool { return len(f.checkpoints()) == 1 })
		if got := f.checkpoints()[0]; got != 183_123 {
			t.Fatalf("start checkpoint covers %d entries, want 183123", got)
		}
	})
	t.Run("start/empty-ledger-is-not-an-error", func(t *testing.T) {
		f := &fakeLedger{}
		start(t, f, time.Hour)
		waitFor(t, "a sign attempt", func() bool { return f.calls.Load() >= 1 })
		if n := len(f.checkpoints()); n != 0 {
			t.Fatalf("%d checkpoints of an empty ledger", n)
		}
	})
	t.Run("entries/every-N", func(t *testing.T) {
		f := &fakeLedger{size: 10}
		start(t, f, time.Hour)
		waitFor(t, "the start checkpoint", func() bool { return len(f.checkpoints()) == 1 })
		f.append(98) // 10 + 1 (checkpoint) + 98 = 109 < 10 + 100
		time.Sleep(50 * time.Millisecond)
		if n := len(f.checkpoints()); n != 1 {
			t.Fatalf("%d checkpoints after 98 entries; want none before 100", n)
		}
		f.append(2)
		waitFor(t, "the entry-count checkpoint", func() bool { return len(f.checkpoints()) == 2 })
		if got := f.checkpoints()[1]; got != 111 {
			t.Fatalf("entry-count checkpoint covers %d, want 111", got)
		}
	})
	t.Run("interval", func(t *testing.T) {
		f := &fakeLedger{size: 5}
		start(t, f, 20*time.Millisecond)
		waitFor(t, "the start checkpoint", func() bool { return len(f.checkpoints()) == 1 })
		f.append(3)
		waitFor(t, "the interval checkpoint", func() bool { return len(f.checkpoints()) == 2 })
	})
	t.Run("entries/failed-sign-is-not-retried-every-poll", func(t *testing.T) {
		var calls atomic.Int64
		failing := func(context.Context) (Checkpoint, error) { calls.Add(1); return Checkpoint{}, ErrClosed }
		size := func(context.Context) (uint64, error) { return 500, nil }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		c := &Checkpointer{Sign: failing, Size: size, Interval: time.Hour, Entries: 100, poll: time.Millisecond}
		go func() { defer close(done); c.Run(ctx) }()
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done
		if n := calls.Load(); n != 2 {
			t.Fatalf("%d sign attempts in 100 polls; want 2 (start, then one for the entries)", n)
		}
	})
	t.Run("final", func(t *testing.T) {
		f := &fakeLedger{size: 7}
		c := &Checkpointer{Sign: f.sign, Size: f.sizeOf}
		if err := c.Final(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := f.checkpoints(); len(got) != 1 || got[0] != 7 {
			t.Fatalf("final checkpoints %v, want [7]", got)
		}
		if err := (&Checkpointer{Sign: (&fakeLedger{}).sign}).Final(context.Background()); err != nil {
			t.Fatalf("final on an empty ledger: %v", err)
		}
	})
}
