// Package memrelief gives memory back to the OS after a burst, for
// `sint-gateway serve`.
//
// After a connection spike the gateway holds its spike-time memory: the
// per-connection buffers, request garbage and the stacks of the HTTP
// server's idle workers are dead, but an idle gateway allocates almost
// nothing, so no collection runs to free them until the runtime's 2-minute
// forced collection, and the background scavenger then returns the pages
// slowly (docs/benchmarks.md: 210 MiB of RSS for a 13 MiB live heap 10 s
// after a 5,000-connection spike, still 186 MiB after 135 s). The soft
// memory limit (internal/memlimit) does not help below the limit.
//
// The relief loop reads a few runtime/metrics every Interval and, when the
// memory the process holds (Held: heap objects, free heap pages not yet
// returned, stacks of exited goroutines) has exceeded by more than Min what
// the latest release left (the baseline, 0 at the start) on two
// consecutive reads while the process was quiet (it allocated less than a
// quarter of Min since the read before), calls Release once: two full
// collections and an immediate return of every free page. Under load
// the process is never quiet, so the loop only reads metrics (a few
// microseconds per Interval) and never forces a collection; the collector
// paces itself (GOGC) as usual.
//
// The threshold is absolute and relative to the baseline, not to the live
// heap: the runtime's live-heap figure is the one of the latest collection,
// which after a spike is the spike's peak (the dead connections' buffers
// were live then), so a rule built on it would block exactly the release
// that is needed. Quietness is what protects a busy heap; the baseline is
// what keeps a large live heap, or the stacks of many open idle
// connections, from triggering a release at every read.
package memrelief

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Defaults of `serve --memory-relief` and `--memory-relief-min`.
const (
	DefaultInterval = 10 * time.Second
	DefaultMin      = 64 << 20
)

// Sample is one reading of the runtime's memory metrics (bytes unless
// named otherwise).
type Sample struct {
	HeapFree    uint64 // /memory/classes/heap/free: free heap pages not returned to the OS
	HeapObjects uint64 // /memory/classes/heap/objects: live objects and dead ones not yet swept
	HeapLive    uint64 // /gc/heap/live: the live heap marked by the latest collection
	Stacks      uint64 // /memory/classes/heap/stacks: heap memory reserved for stacks
	StackStart  uint64 // /gc/stack/starting-size: a new goroutine's stack
	Goroutines  uint64 // /sched/goroutines
	Allocs      uint64 // /gc/heap/allocs: bytes allocated since the start (cumulative)
}

// Held is the memory the process holds that a release could shrink: free
// heap pages not yet returned, the heap's objects (live and dead; which is
// which only the next collection knows: the live-heap figure of the latest
// collection is stale, after a spike it is the spike's peak) and stack
// memory beyond a starting-size stack per goroutine (the stacks of exited
// goroutines).
func (s Sample) Held() uint64 {
	stacks := uint64(0)
	if s.Stacks > s.Goroutines*s.StackStart {
		stacks = s.Stacks - s.Goroutines*s.StackStart
	}
	return s.HeapFree + s.HeapObjects + stacks
}

// State is what Decide carries from one read to the next; the zero value is
// the state before the first read.
type State struct {
	have         bool   // prev holds a read
	prev         Sample //
	streak       int    // consecutive reads that met the condition
	baseline     uint64 // what the latest release left (see Decide)
	afterRelease bool   // the next read is the first after a release
}

// Decide is the relief rule, a pure function of the previous state and a
// new sample: release when, on this read and the one before, the process
// was quiet (allocated less than min/4 since the read before) and held more
// than min above the baseline. The baseline is 0 from the start; the first
// read after a release sets it to what that release left (the live heap,
// the stacks of connections still open), and it follows Held down from
// there. So a release answers memory that grew by more than min since the
// latest one, never memory a release cannot give back.
func Decide(st State, s Sample, min uint64) (release bool, next State) {
	held := s.Held()
	if !st.have {
		next = State{have: true, prev: s, baseline: st.baseline}
		if st.afterRelease {
			next.baseline = held
		}
		return false, next
	}
	next = st
	next.prev = s
	next.baseline = minU(st.baseline, held)
	quiet := s.Allocs-st.prev.Allocs < min/4
	if quiet && held > next.baseline && held-next.baseline > min {
		next.streak++
	} else {
		next.streak = 0
	}
	if next.streak < 2 {
		return false, next
	}
	return true, State{afterRelease: true}
}

func minU(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

var names = []string{
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/objects:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/gc/stack/starting-size:bytes",
	"/sched/goroutines:goroutines",
	"/gc/heap/allocs:bytes",
}

// Reader reads Samples; it reuses its buffer, so one Reader serves one
// goroutine.
type Reader struct{ buf []metrics.Sample }

// NewReader prepares a Reader.
func NewReader() *Reader {
	r := &Reader{buf: make([]metrics.Sample, len(names))}
	for i, n := range names {
		r.buf[i].Name = n
	}
	return r
}

// Read samples the runtime.
func (r *Reader) Read() Sample {
	metrics.Read(r.buf)
	var v [7]uint64
	for i, m := range r.buf {
		if m.Value.Kind() == metrics.KindUint64 {
			v[i] = m.Value.Uint64()
		}
	}
	return Sample{HeapFree: v[0], HeapObjects: v[1], HeapLive: v[2], Stacks: v[3], StackStart: v[4], Goroutines: v[5], Allocs: v[6]}
}

// Config configures Run.
type Config struct {
	Interval time.Duration // between reads; 0 or less: Run returns at once
	Min      uint64        // bytes; the release threshold
	Log      *slog.Logger  // may be nil
	// Release gives memory back; nil means Release.
	Release func()
}

// Release gives back what a burst left behind: a collection, then
// debug.FreeOSMemory (a second collection and the return of every free
// page). Two collections because the first only moves the sync.Pool
// caches (the HTTP server's per-connection contexts and buffers) to their
// victim caches, which the second frees. The collections are the
// runtime's usual concurrent ones (short stop-the-world phases, the caller
// waits) and pages are returned chunk by chunk, so requests are still
// served meanwhile, but it costs CPU and the pages come back as page faults
// when the heap grows again: Run calls it only when the process is quiet.
func Release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// Run reads the runtime every Interval and releases by Decide until ctx
// ends.
func Run(ctx context.Context, c Config) {
	if c.Interval <= 0 {
		return
	}
	release := c.Release
	if release == nil {
		release = Release
	}
	r := NewReader()
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	var st State
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s := r.Read()
		var do bool
		do, st = Decide(st, s, c.Min)
		if c.Log != nil && c.Log.Enabled(ctx, slog.LevelDebug) {
			c.Log.Debug("memory relief read", "heldMiB", s.Held()>>20, "baselineMiB", st.baseline>>20, "heapFreeMiB", s.HeapFree>>20,
				"heapObjectsMiB", s.HeapObjects>>20, "liveHeapMiB", s.HeapLive>>20, "stacksMiB", s.Stacks>>20,
				"goroutines", s.Goroutines, "allocsMiB", s.Allocs>>20, "release", do)
		}
		if !do {
			continue
		}
		start := time.Now()
		release()
		if c.Log != nil {
			c.Log.Info("memory released to the OS", "heldMiB", s.Held()>>20, "liveHeapMiB", s.HeapLive>>20,
				"took", time.Since(start).Round(time.Microsecond).String())
		}
	}
}
