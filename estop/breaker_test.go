package estop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

var (
	t0     = time.UnixMilli(1763928000000)
	srcAPI = Source{ID: "alice", Kind: KindAPI}
	srcBtn = Source{ID: "GPIO17", Kind: KindGPIO}
	srcCtl = Source{ID: "controller", Kind: KindController}
)

// fakeClock is a manually advanced clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seqLedger is a fake sequential ledger: Append runs the guard under the lock
// that assigns sequence numbers, like the real ledger's append.
type seqLedger struct {
	mu      sync.Mutex
	seq     uint64
	entries []entry
	failRec bool
}

type entry struct {
	seq   uint64
	kind  string // "allow", "trip", "reset"
	epoch uint64
}

func (l *seqLedger) Append(kind string, epoch uint64, guard func() error) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if guard != nil {
		if err := guard(); err != nil {
			return 0, err
		}
	}
	l.seq++
	l.entries = append(l.entries, entry{seq: l.seq, kind: kind, epoch: epoch})
	return l.seq, nil
}

func (l *seqLedger) RecordTrip(_ context.Context, s State, _ Source, _ string) error {
	if l.failRec {
		return errors.New("ledger down")
	}
	_, err := l.Append("trip", s.Epoch, nil)
	return err
}

func (l *seqLedger) RecordReset(_ context.Context, s State, _, _ string) error {
	if l.failRec {
		return errors.New("ledger down")
	}
	_, err := l.Append("reset", s.Epoch, nil)
	return err
}

type memPersister struct {
	mu    sync.Mutex
	saved []State
}

func (p *memPersister) Save(_ context.Context, s State) error {
	p.mu.Lock()
	p.saved = append(p.saved, s)
	p.mu.Unlock()
	return nil
}

func TestBreakerTransitions(t *testing.T) {
	type step struct {
		op      string // trip, clear, reset
		src     Source
		wantErr error // errors.Is target, nil = no error
		tripped bool
		epoch   uint64
		latched int
	}
	tests := []struct {
		name    string
		initial *State
		steps   []step
	}{
		{name: "trip/api-then-reset", steps: []step{
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
			{op: "reset", tripped: false, epoch: 1},
		}},
		{name: "trip/idempotent-same-source", steps: []step{
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
		}},
		{name: "trip/second-source-no-epoch-bump", steps: []step{
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
			{op: "trip", src: srcBtn, tripped: true, epoch: 1, latched: 1},
		}},
		{name: "trip/epoch-bumps-after-reset", steps: []step{
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
			{op: "reset", epoch: 1},
			{op: "trip", src: srcAPI, tripped: true, epoch: 2},
		}},
		{name: "deny/reset-while-button-held", steps: []step{
			{op: "trip", src: srcBtn, tripped: true, epoch: 1, latched: 1},
			{op: "reset", wantErr: ErrLatchedTarget, tripped: true, epoch: 1, latched: 1},
			{op: "clear", src: srcBtn, tripped: true, epoch: 1},
			{op: "reset", tripped: false, epoch: 1},
		}},
		{name: "deny/reset-while-controller-lost", steps: []step{
			{op: "trip", src: srcAPI, tripped: true, epoch: 1},
			{op: "trip", src: srcCtl, tripped: true, epoch: 1, latched: 1},
			{op: "reset", wantErr: ErrLatchedTarget, tripped: true, epoch: 1, latched: 1},
		}},
		{name: "clear/does-not-rearm", steps: []step{
			{op: "trip", src: srcBtn, tripped: true, epoch: 1, latched: 1},
			{op: "clear", src: srcBtn, tripped: true, epoch: 1},
		}},
		{name: "clear/unknown-source-noop", steps: []step{
			{op: "clear", src: srcBtn, tripped: false, epoch: 0},
		}},
		{name: "trip/relatch-after-clear", steps: []step{
			{op: "trip", src: srcBtn, tripped: true, epoch: 1, latched: 1},
			{op: "clear", src: srcBtn, tripped: true, epoch: 1},
			{op: "trip", src: srcBtn, tripped: true, epoch: 1, latched: 1},
		}},
		{name: "boot/tripped-with-hardware", initial: ptr(BootTripped(t0, 4, srcBtn)), steps: []step{
			{op: "reset", wantErr: ErrLatchedTarget, tripped: true, epoch: 5, latched: 1},
			{op: "clear", src: srcBtn, tripped: true, epoch: 5},
			{op: "reset", tripped: false, epoch: 5},
		}},
		{name: "reset/armed-noop", steps: []step{
			{op: "reset", tripped: false, epoch: 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{t: t0}
			opts := []Option{WithClock(clk.Now)}
			if tc.initial != nil {
				opts = append(opts, WithInitial(*tc.initial))
			}
			b := NewBreaker(opts...)
			ctx := context.Background()
			for i, st := range tc.steps {
				clk.Add(time.Millisecond)
				var err error
				switch st.op {
				case "trip":
					_, err = b.Trip(ctx, st.src, "test")
				case "clear":
					b.Clear(st.src)
				case "reset":
					_, err = b.Reset(ctx, "bob", "ok")
				}
				if st.wantErr == nil && err != nil {
					t.Fatalf("step %d %s: unexpected error %v", i, st.op, err)
				}
				if st.wantErr != nil {
					var le *LatchedError
					if !errors.As(err, &le) {
						t.Fatalf("step %d %s: error %v, want *LatchedError", i, st.op, err)
					}
					if codes.Of(err) != codes.Conflict {
						t.Fatalf("step %d: code %s, want CONFLICT", i, codes.Of(err))
					}
				}
				s := b.Snapshot()
				if s.Tripped != st.tripped || b.Tripped() != st.tripped || s.Epoch != st.epoch || len(s.Latched()) != st.latched {
					t.Fatalf("step %d %s: state tripped=%v epoch=%d latched=%d, want %v %d %d",
						i, st.op, s.Tripped, s.Epoch, len(s.Latched()), st.tripped, st.epoch, st.latched)
				}
				if (b.Guard() == nil) == st.tripped {
					t.Fatalf("step %d: Guard()=%v with tripped=%v", i, b.Guard(), st.tripped)
				}
			}
		})
	}
}

// ErrLatchedTarget marks table steps that expect a *LatchedError.
var ErrLatchedTarget = errors.New("latched")

func ptr[T any](v T) *T { return &v }

func TestTrackCancelledWithTripCause(t *testing.T) {
	t.Run("deny/in-flight-cancelled", func(t *testing.T) {
		b := NewBreaker()
		ctx, done := b.Track(context.Background())
		defer done()
		if ctx.Err() != nil {
			t.Fatal("tracked context cancelled while armed")
		}
		b.Trip(context.Background(), srcAPI, "operator")
		<-ctx.Done()
		cause := context.Cause(ctx)
		if !errors.Is(cause, ErrTripped) {
			t.Fatalf("cause %v does not match ErrTripped", cause)
		}
		var te *TrippedError
		if !errors.As(cause, &te) || te.Source != srcAPI || te.Epoch != 1 {
			t.Fatalf("cause %#v, want TrippedError from %v epoch 1", cause, srcAPI)
		}
		if codes.Of(cause) != codes.EstopEngaged {
			t.Fatalf("code %s", codes.Of(cause))
		}
	})
	t.Run("deny/track-while-tripped", func(t *testing.T) {
		b := NewBreaker()
		b.Trip(context.Background(), srcAPI, "operator")
		ctx, done := b.Track(context.Background())
		defer done()
		if !errors.Is(context.Cause(ctx), ErrTripped) {
			t.Fatalf("Track while tripped: cause %v", context.Cause(ctx))
		}
	})
	t.Run("allow/after-reset", func(t *testing.T) {
		b := NewBreaker()
		b.Trip(context.Background(), srcAPI, "operator")
		if _, err := b.Reset(context.Background(), "bob", "clear"); err != nil {
			t.Fatal(err)
		}
		ctx, done := b.Track(context.Background())
		defer done()
		if ctx.Err() != nil {
			t.Fatalf("tracked context after reset is cancelled: %v", context.Cause(ctx))
		}
	})
	t.Run("allow/done-releases", func(t *testing.T) {
		b := NewBreaker()
		ctx, done := b.Track(context.Background())
		done()
		b.Trip(context.Background(), srcAPI, "x")
		if errors.Is(context.Cause(ctx), ErrTripped) {
			t.Fatal("a finished request was reported as cancelled by the trip")
		}
	})
	t.Run("allow/values-deadline-and-derived-contexts", func(t *testing.T) {
		type key struct{}
		b := NewBreaker()
		dl := time.Now().Add(time.Hour)
		parent, cancel := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), dl)
		defer cancel()
		ctx, done := b.Track(parent)
		defer done()
		if ctx.Value(key{}) != "v" {
			t.Fatal("request value lost")
		}
		if d, ok := ctx.Deadline(); !ok || !d.Equal(dl) {
			t.Fatal("request deadline lost")
		}
		derived, dcancel := context.WithTimeout(ctx, time.Hour)
		defer dcancel()
		b.Trip(context.Background(), srcAPI, "x")
		<-derived.Done()
		if !errors.Is(context.Cause(derived), ErrTripped) {
			t.Fatalf("derived context cause %v", context.Cause(derived))
		}
	})
	t.Run("deny/never-cancelled-parent-values-and-derived-contexts", func(t *testing.T) {
		// context.WithValue(context.Background()) can never be cancelled:
		// Track returns a view of the epoch context.
		type key struct{}
		b := NewBreaker()
		ctx, done := b.Track(context.WithValue(context.Background(), key{}, "v"))
		defer done()
		if ctx.Value(key{}) != "v" {
			t.Fatal("request value lost")
		}
		if _, ok := ctx.Deadline(); ok {
			t.Fatal("deadline invented")
		}
		if ctx.Err() != nil || context.Cause(ctx) != nil {
			t.Fatalf("armed: err %v cause %v", ctx.Err(), context.Cause(ctx))
		}
		derived, dcancel := context.WithTimeout(ctx, time.Hour)
		defer dcancel()
		b.Trip(context.Background(), srcAPI, "x")
		select {
		case <-ctx.Done():
		default:
			t.Fatal("not cancelled when Trip returned")
		}
		<-derived.Done()
		for _, c := range []context.Context{ctx, derived} {
			var te *TrippedError
			if !errors.As(context.Cause(c), &te) || te.Source != srcAPI || !errors.Is(c.Err(), context.Canceled) {
				t.Fatalf("cause %v err %v", context.Cause(c), c.Err())
			}
		}
	})
	t.Run("allow/release-cancels-with-canceled", func(t *testing.T) {
		cancelable, cancel := context.WithCancel(context.Background())
		defer cancel()
		for name, parent := range map[string]context.Context{"background": context.Background(), "cancelable": cancelable} {
			b := NewBreaker()
			ctx, done := b.Track(parent)
			done()
			select {
			case <-ctx.Done():
			default:
				t.Fatalf("%s: not done after release", name)
			}
			b.Trip(context.Background(), srcAPI, "x")
			if !errors.Is(ctx.Err(), context.Canceled) || context.Cause(ctx) != context.Canceled {
				t.Fatalf("%s: err %v cause %v after release and trip", name, ctx.Err(), context.Cause(ctx))
			}
		}
	})
	t.Run("allow/parent-cancel-is-not-trip", func(t *testing.T) {
		b := NewBreaker()
		parent, cancel := context.WithCancel(context.Background())
		ctx, done := b.Track(parent)
		defer done()
		cancel()
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), ErrTripped) {
			t.Fatal("client cancel reported as trip")
		}
	})
}

// TestPreemption holds 1,000 intercepts in flight in a late stage and trips:
// every one must see the cancellation with the trip as cause.
func TestPreemption(t *testing.T) {
	const n = 1000
	b := NewBreaker()
	var ready, finished sync.WaitGroup
	causes := make([]error, n)
	ready.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer finished.Done()
			ctx, done := b.Track(context.Background())
			defer done()
			ready.Done()
			<-ctx.Done() // a late stage: waiting for the ledger, an approval…
			causes[i] = context.Cause(ctx)
		}()
	}
	ready.Wait()
	if _, err := b.Trip(context.Background(), srcAPI, "preempt"); err != nil {
		t.Fatal(err)
	}
	finished.Wait()
	for i, c := range causes {
		var te *TrippedError
		if !errors.As(c, &te) || te.Reason != "preempt" {
			t.Fatalf("intercept %d: cause %v", i, c)
		}
	}
}

// TestNoAllowAfterTrip interleaves allows, trips and resets at random against
// a sequential ledger whose appends run the breaker's Guard under the
// sequencing lock, and checks that no allow has a sequence number between a
// trip entry and the next reset entry.
func TestNoAllowAfterTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			l := &seqLedger{}
			b := NewBreaker(WithRecorder(l))
			var wg sync.WaitGroup
			for w := 0; w < 8; w++ {
				wg.Add(1)
				r := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
				go func() {
					defer wg.Done()
					for i := 0; i < 300; i++ {
						// the allow path: checks, then a guarded append
						if b.Tripped() {
							continue
						}
						if r.IntN(4) == 0 {
							time.Sleep(time.Duration(r.IntN(20)) * time.Microsecond)
						}
						l.Append("allow", b.Snapshot().Epoch, b.Guard)
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					time.Sleep(time.Duration(rng.IntN(50)) * time.Microsecond)
					if rng.IntN(2) == 0 {
						b.Trip(context.Background(), srcAPI, "x")
					} else {
						b.Reset(context.Background(), "bob", "y")
					}
				}
			}()
			wg.Wait()
			tripped := false
			trips := 0
			for _, e := range l.entries {
				switch e.kind {
				case "trip":
					tripped = true
					trips++
				case "reset":
					tripped = false
				case "allow":
					if tripped {
						t.Fatalf("allow at sequence %d after a trip entry with no reset in between", e.seq)
					}
				}
			}
			if trips == 0 {
				t.Fatal("no trips happened; the test exercised nothing")
			}
		})
	}
}

func TestRecorderAndPersister(t *testing.T) {
	t.Run("trip/recorder-failure-still-trips", func(t *testing.T) {
		l := &seqLedger{failRec: true}
		b := NewBreaker(WithRecorder(l))
		s, err := b.Trip(context.Background(), srcAPI, "x")
		if err == nil || !s.Tripped || !b.Tripped() {
			t.Fatalf("Trip with failing recorder: state %v err %v; want tripped and an error", s, err)
		}
	})
	t.Run("deny/reset-fails-closed-when-ledger-down", func(t *testing.T) {
		l := &seqLedger{}
		b := NewBreaker(WithRecorder(l))
		b.Trip(context.Background(), srcAPI, "x")
		l.failRec = true
		if _, err := b.Reset(context.Background(), "bob", "y"); err == nil || !b.Tripped() {
			t.Fatalf("Reset with ledger down: err %v tripped %v; want error and still tripped", err, b.Tripped())
		}
	})
	t.Run("persist/every-change", func(t *testing.T) {
		p := &memPersister{}
		b := NewBreaker(WithPersister(p))
		b.Trip(context.Background(), srcBtn, "x")
		b.Clear(srcBtn)
		b.Reset(context.Background(), "bob", "y")
		if len(p.saved) != 3 || !p.saved[0].Tripped || p.saved[1].Sources[0].State != SourceClear || p.saved[2].Tripped {
			t.Fatalf("saved %+v", p.saved)
		}
		back := FromStore(ToStore(p.saved[0]))
		if !back.Tripped || back.Epoch != 1 || len(back.Sources) != 1 || len(back.Latched()) != 0 {
			t.Fatalf("store round trip: %+v, want tripped, epoch 1, the source kept but not latched", back)
		}
		armedLatched := ToStore(p.saved[0])
		armedLatched.State = "armed"
		if !FromStore(armedLatched).Tripped {
			t.Fatal("a persisted latched source read back as armed")
		}
	})
}

func TestSubscribe(t *testing.T) {
	t.Run("notify/current-then-latest", func(t *testing.T) {
		b := NewBreaker()
		ch, unsub := b.Subscribe()
		defer unsub()
		if s := <-ch; s.Tripped {
			t.Fatal("first state should be armed")
		}
		b.Trip(context.Background(), srcAPI, "a")
		b.Trip(context.Background(), srcBtn, "b") // slow reader: only the latest is kept
		s := <-ch
		if !s.Tripped || len(s.Sources) != 2 {
			t.Fatalf("got %+v, want the latest tripped state with 2 sources", s)
		}
		select {
		case s := <-ch:
			t.Fatalf("unexpected extra state %+v", s)
		default:
		}
	})
	t.Run("notify/unsubscribe-closes", func(t *testing.T) {
		b := NewBreaker()
		ch, unsub := b.Subscribe()
		unsub()
		unsub()
		<-ch // the initial state may be buffered
		if _, ok := <-ch; ok {
			t.Fatal("channel not closed")
		}
		b.Trip(context.Background(), srcAPI, "a") // must not panic
	})
}

func BenchmarkTrack(b *testing.B) {
	br := NewBreaker()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, done := br.Track(ctx)
			done()
		}
	})
}

func BenchmarkTripped(b *testing.B) {
	br := NewBreaker()
	for i := 0; i < b.N; i++ {
		if br.Tripped() {
			b.Fatal("tripped")
		}
	}
}

// BenchmarkTripPreempt1000 measures, per trip, the time from calling Trip to
// the last of 1,000 in-flight intercepts observing the cancellation, and
// reports p50/p99 over the iterations.
func BenchmarkTripPreempt1000(b *testing.B) {
	const n = 1000
	lat := make([]time.Duration, 0, b.N)
	cancelled := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		br := NewBreaker()
		var ready, finished sync.WaitGroup
		ready.Add(n)
		finished.Add(n)
		var mu sync.Mutex
		var last time.Time
		for j := 0; j < n; j++ {
			go func() {
				ctx, done := br.Track(context.Background())
				ready.Done()
				<-ctx.Done()
				now := time.Now()
				mu.Lock()
				if now.After(last) {
					last = now
				}
				mu.Unlock()
				done()
				finished.Done()
			}()
		}
		ready.Wait()
		start := time.Now()
		br.Trip(context.Background(), srcAPI, "bench")
		cancelled = append(cancelled, time.Since(start))
		finished.Wait()
		lat = append(lat, last.Sub(start))
	}
	reportPercentiles(b, "answered", lat)
	reportPercentiles(b, "cancelled", cancelled)
}

func reportPercentiles(b *testing.B, name string, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sortDurations(lat)
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	b.ReportMetric(float64(pct(0.50).Microseconds()), name+"-p50-µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), name+"-p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), name+"-max-µs")
}

func sortDurations(d []time.Duration) { slices.Sort(d) }

func TestWatchTrips(t *testing.T) {
	b := NewBreaker()
	got := make(chan State, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- WatchTrips(ctx, b, func(s State) { got <- s }) }()
	next := func() State {
		select {
		case s := <-got:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("no trip reported")
			return State{}
		}
	}
	for epoch := uint64(1); epoch <= 3; epoch++ {
		b.Trip(context.Background(), srcAPI, "x")
		b.Trip(context.Background(), srcBtn, "same epoch: not reported again")
		b.Clear(srcBtn)
		if s := next(); s.Epoch != epoch {
			t.Fatalf("reported epoch %d, want %d", s.Epoch, epoch)
		}
		b.Reset(context.Background(), "bob", "y")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		t.Fatalf("extra report %+v", s)
	default:
	}
}

// TestTripLatched: a momentary kind latched by TripLatched refuses Reset
// until Clear, and latches again after a Clear without a new epoch.
func TestTripLatched(t *testing.T) {
	ctx := context.Background()
	b := NewBreaker()
	src := Source{ID: "bus", Kind: KindReplica}
	b.TripLatched(ctx, src, "bus down")
	var le *LatchedError
	if _, err := b.Reset(ctx, "op", "x"); !errors.As(err, &le) {
		t.Fatalf("reset while latched: %v", err)
	}
	b.Clear(src)
	b.TripLatched(ctx, src, "bus down again")
	if s := b.Snapshot(); s.Epoch != 1 || len(s.Latched()) != 1 {
		t.Fatalf("re-latch: %+v", s)
	}
	b.Clear(src)
	if _, err := b.Reset(ctx, "op", "x"); err != nil || b.Tripped() {
		t.Fatalf("reset after clear: %v", err)
	}
}

// Requests tracked with a context that cannot be cancelled are views of the
// epoch context; after a trip each answers context.Cause from one of the
// trip's cause contexts. Every view, whichever it uses, reports the same
// trip, and a context derived from a view after the trip is cancelled with
// it; a released view reports context.Canceled; views of the next epoch are
// not cancelled.
func TestViewsReportTheTripAfterIt(t *testing.T) {
	b := NewBreaker(WithClock(func() time.Time { return t0 }))
	type tracked struct {
		ctx     context.Context
		release func()
	}
	var views []tracked
	for range 4 * causeShards {
		ctx, release := b.Track(context.Background())
		views = append(views, tracked{ctx, release})
	}
	before, cancelBefore := context.WithCancel(views[0].ctx) // attached to the epoch before the trip
	defer cancelBefore()
	if _, err := b.Trip(context.Background(), srcAPI, "test"); err != nil {
		t.Fatal(err)
	}
	var first error
	for i, v := range views {
		cause := context.Cause(v.ctx)
		var te *TrippedError
		if !errors.As(cause, &te) || te.Epoch != 1 || te.Reason != "test" {
			t.Fatalf("view %d: cause %v", i, cause)
		}
		if first == nil {
			first = cause
		} else if cause != first {
			t.Fatalf("view %d: a different cause value %p, want %p", i, cause, first)
		}
		derived, cancel := context.WithCancel(v.ctx)
		select {
		case <-derived.Done():
		default:
			t.Fatalf("view %d: a context derived after the trip is not cancelled", i)
		}
		if c := context.Cause(derived); c != first {
			t.Fatalf("view %d: derived cause %v", i, c)
		}
		cancel()
	}
	if c := context.Cause(before); c != first {
		t.Fatalf("a context derived before the trip: cause %v", c)
	}
	views[0].release()
	if c := context.Cause(views[0].ctx); !errors.Is(c, context.Canceled) {
		t.Fatalf("released view: cause %v", c)
	}
	if _, err := b.Reset(context.Background(), "op", "done"); err != nil {
		t.Fatal(err)
	}
	next, release := b.Track(context.Background())
	defer release()
	if next.Err() != nil || context.Cause(next) != nil {
		t.Fatalf("a view of the next epoch: err %v cause %v", next.Err(), context.Cause(next))
	}
}
