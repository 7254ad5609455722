package memrelief

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

const mib = 1 << 20

// spikeDone is the gateway 20 s after a 5,000-connection spike closed
// (figures read in a real run, docs/benchmarks.md): the workers exited,
// their stacks are free heap pages and the dead per-connection buffers
// dead objects (live at the latest collection, in the spike), nothing is
// returned, and nothing was allocated since.
var spikeDone = Sample{HeapFree: 71 * mib, HeapObjects: 103 * mib, HeapLive: 47 * mib, Stacks: 1 * mib, StackStart: 8 << 10, Goroutines: 28, Allocs: 199 * mib}

// idle is a gateway at rest: holds 25 MiB.
var idle = Sample{HeapFree: 4 * mib, HeapObjects: 20 * mib, HeapLive: 12 * mib, Stacks: 1 * mib, StackStart: 8 << 10, Goroutines: 28, Allocs: 50 * mib}

func withAllocs(s Sample, allocs uint64) Sample { s.Allocs = allocs; return s }

func TestHeld(t *testing.T) {
	cases := []struct {
		name string
		s    Sample
		want uint64
	}{
		{"free-plus-objects-plus-stacks-of-exited-goroutines", spikeDone, 71*mib + 103*mib + 1*mib - 28*(8<<10)},
		{"stacks-of-5000-idle-workers", Sample{Stacks: 56 * mib, StackStart: 8 << 10, Goroutines: 5029}, 56*mib - 5029*(8<<10)},
		{"stacks-below-starting-size-never-negative", Sample{HeapObjects: 10 * mib, Stacks: 1 * mib, StackStart: 8 << 10, Goroutines: 1000}, 10 * mib},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Held(); got != tc.want {
				t.Fatalf("held %d, want %d", got, tc.want)
			}
		})
	}
}

// TestDecide: the relief rule over sequences of reads (every read is one
// interval apart); want lists, per read, whether it releases.
func TestDecide(t *testing.T) {
	const min = 64 * mib
	// Under load: 600 MiB allocated per interval (3,000 decisions/s of
	// ~20 KiB for 10 s) with a big surplus the whole time.
	busy := func(n int) []Sample {
		var out []Sample
		for i := range n {
			out = append(out, withAllocs(spikeDone, uint64(i)*600*mib))
		}
		return out
	}
	// Open idle connections keep 80 MiB of stacks a release cannot give
	// back (10,000 goroutines with grown stacks).
	held := Sample{HeapFree: 2 * mib, HeapObjects: 30 * mib, HeapLive: 28 * mib, Stacks: 160 * mib, StackStart: 8 << 10, Goroutines: 10000, Allocs: 300 * mib}
	cases := []struct {
		name  string
		reads []Sample
		want  []bool
	}{
		{"first-read-never-releases", []Sample{spikeDone}, []bool{false}},
		{"quiet-surplus-on-two-consecutive-reads-releases",
			[]Sample{spikeDone, spikeDone, spikeDone}, []bool{false, false, true}},
		{"one-quiet-read-is-not-enough",
			[]Sample{idle, spikeDone, idle, spikeDone}, []bool{false, false, false, false}},
		{"at-rest-never-releases",
			[]Sample{idle, idle, idle, idle, idle}, []bool{false, false, false, false, false}},
		{"sustained-load-never-releases", busy(8), make([]bool, 8)},
		{"load-then-quiet-releases-after-two-quiet-reads",
			append(busy(3), withAllocs(spikeDone, 2*600*mib), withAllocs(spikeDone, 2*600*mib+mib)),
			[]bool{false, false, false, false, true}},
		{"just-under-the-quiet-bound-is-quiet",
			[]Sample{spikeDone, withAllocs(spikeDone, spikeDone.Allocs+min/4-1), withAllocs(spikeDone, spikeDone.Allocs+2*(min/4-1))},
			[]bool{false, false, true}},
		{"at-the-quiet-bound-is-busy",
			[]Sample{spikeDone, withAllocs(spikeDone, spikeDone.Allocs+min/4), withAllocs(spikeDone, spikeDone.Allocs+2*(min/4))},
			[]bool{false, false, false}},
		{"surplus-at-min-is-not-enough",
			[]Sample{{HeapFree: min}, {HeapFree: min}, {HeapFree: min}}, []bool{false, false, false}},
		// After a release the first read sets the baseline: what could not
		// be given back (stacks of open connections) never triggers again.
		{"what-a-release-cannot-give-back-does-not-repeat",
			[]Sample{held, held, held, held, held, held, held, held}, []bool{false, false, true, false, false, false, false, false}},
		{"a-new-burst-after-a-release-releases-again",
			[]Sample{spikeDone, spikeDone, spikeDone, idle, idle, spikeDone, spikeDone, spikeDone},
			[]bool{false, false, true, false, false, false, false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var st State
			for i, s := range tc.reads {
				var got bool
				got, st = Decide(st, s, min)
				if got != tc.want[i] {
					t.Fatalf("read %d: release=%v, want %v", i, got, tc.want[i])
				}
			}
		})
	}
}

// TestRunReleasesAfterABurstWhenQuiet: Run on the real runtime releases
// once after a burst of garbage (the process is quiet afterwards), and a
// disabled loop returns at once.
func TestRunReleasesAfterABurstWhenQuiet(t *testing.T) {
	var sink [][]byte
	for range 2048 {
		sink = append(sink, make([]byte, 64<<10)) // 128 MiB, garbage below
	}
	sink = nil
	_ = sink
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		Run(ctx, Config{Interval: 20 * time.Millisecond, Min: 16 * mib, Release: func() { n.Add(1); Release() }})
		close(done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n.Load() == 0 {
		t.Fatal("no release after 128 MiB of garbage in a quiet process")
	}
	cancel()
	<-done

	off := make(chan struct{})
	go func() { Run(context.Background(), Config{Interval: 0, Min: 16 * mib}); close(off) }()
	select {
	case <-off:
	case <-time.After(10 * time.Second):
		t.Fatal("Run with Interval 0 did not return")
	}
}

// BenchmarkRead: the cost of one read of the relief loop (one per
// Interval, 10 s by default).
func BenchmarkRead(b *testing.B) {
	r := NewReader()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Read()
	}
}
