package estop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// Source kinds (PROTOCOL.md §8).
const (
	KindGPIO       = "gpio"       // a hardware input on this host; latching
	KindController = "controller" // the e-stop controller link; latching
	KindAPI        = "api"        // POST /v1/estop/trip or sintctl; momentary
	KindAnomaly    = "anomaly"    // the anomaly detector; momentary
	KindReplica    = "replica"    // another gateway replica; momentary
)

// Source states as they appear on the wire.
const (
	SourceTripped = "tripped" // latched: blocks Reset until cleared
	SourceClear   = "clear"
)

// Latching reports whether a trip from a source of this kind holds the
// breaker until the source itself clears (Breaker.Clear). Hardware inputs and
// the controller link latch; API, anomaly and replica trips are momentary:
// they trip the breaker but do not block an operator's Reset.
func Latching(kind string) bool { return kind == KindGPIO || kind == KindController }

// Source identifies what tripped the breaker.
type Source struct{ ID, Kind string }

func (s Source) String() string { return s.Kind + ":" + s.ID }

// SourceState is a source that contributed to the current trip.
type SourceState struct {
	ID    string
	Kind  string
	State string // SourceTripped (latched) or SourceClear
	Since time.Time
}

// State is an immutable snapshot of the breaker. Never modify a State you
// did not build: Snapshot shares it between goroutines.
type State struct {
	Tripped bool
	// Epoch is bumped by every armed → tripped transition (monotonic).
	Epoch   uint64
	Since   time.Time // when the current state (armed or tripped) began
	Reason  string    // the first trip reason of this epoch, or the reset reason
	Sources []SourceState
}

// Latched returns the sources that still hold the breaker tripped.
func (s State) Latched() []SourceState {
	var out []SourceState
	for _, src := range s.Sources {
		if src.State == SourceTripped {
			out = append(out, src)
		}
	}
	return out
}

// String renders "armed" or "tripped".
func (s State) String() string {
	if s.Tripped {
		return "tripped"
	}
	return "armed"
}

func (s State) clone() State {
	c := s
	c.Sources = append([]SourceState(nil), s.Sources...)
	return c
}

// ErrTripped is the error every trip-related error matches with errors.Is:
// the cause of a Track'ed context cancelled by a trip, Guard's error and
// TrippedError. Its code is ESTOP_ENGAGED.
var ErrTripped error = codes.New(codes.EstopEngaged, "e-stop engaged")

// TrippedError is the cancellation cause of Track'ed contexts and the error
// of Guard while the breaker is tripped. It matches ErrTripped and carries the
// code ESTOP_ENGAGED (codes.Of).
type TrippedError struct {
	Epoch  uint64
	Source Source // the source whose trip cancelled the work (zero for Guard)
	Reason string
}

func (e *TrippedError) Error() string {
	return fmt.Sprintf("e-stop engaged (epoch %d, %s): %s", e.Epoch, e.Source, e.Reason)
}

// Unwrap returns ErrTripped.
func (e *TrippedError) Unwrap() error { return ErrTripped }

// LatchedError is returned by Reset while a latching source (a held button, a
// lost controller) still holds the breaker. Its code is CONFLICT (HTTP 409).
type LatchedError struct{ Sources []SourceState }

func (e *LatchedError) Error() string {
	names := make([]string, len(e.Sources))
	for i, s := range e.Sources {
		names[i] = s.Kind + ":" + s.ID
	}
	return "e-stop reset refused: sources still latched: " + strings.Join(names, ", ")
}

// Unwrap lets codes.Of report CONFLICT.
func (e *LatchedError) Unwrap() error {
	return codes.New(codes.Conflict, "e-stop sources still latched")
}

// Recorder writes the trip and reset entries to the evidence ledger. It is
// the ledger adapter; RecordTrip must append with a sequence number greater
// than that of every allow whose Guard passed before the trip (the ledger
// runs Guard under its sequencing lock, and the breaker flips before it
// records, so any ordinary append gives this).
type Recorder interface {
	RecordTrip(ctx context.Context, s State, src Source, reason string) error
	RecordReset(ctx context.Context, s State, operator, reason string) error
}

// Persister saves the breaker state so that it survives restarts (an adapter
// over store.Estop, see StorePersister).
type Persister interface {
	Save(ctx context.Context, s State) error
}

// Option configures a Breaker.
type Option func(*Breaker)

// WithRecorder records trips and resets in the ledger.
func WithRecorder(r Recorder) Option { return func(b *Breaker) { b.rec = r } }

// WithPersister persists every state change.
func WithPersister(p Persister) Option { return func(b *Breaker) { b.per = p } }

// WithInitial starts the breaker in state s (for example the persisted state,
// or tripped at boot when hardware is configured; see BootTripped).
func WithInitial(s State) Option { return func(b *Breaker) { b.initial = s.clone() } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(b *Breaker) { b.now = now } }

// BootTripped is the initial state of a gateway with hardware configured
// (PROTOCOL.md §8: it boots tripped and needs a reset). The given latching
// sources start latched; each clears when its hardware reports healthy.
func BootTripped(now time.Time, epoch uint64, latched ...Source) State {
	s := State{Tripped: true, Epoch: epoch + 1, Since: now, Reason: "boot: hardware e-stop configured"}
	for _, src := range latched {
		s.Sources = append(s.Sources, SourceState{ID: src.ID, Kind: src.Kind, State: SourceTripped, Since: now})
	}
	return s
}

// Breaker is the e-stop breaker. All methods are safe for concurrent use.
// Snapshot, Tripped, Guard and Track are lock-free on the fast path; Trip,
// Clear and Reset serialise on a mutex.
type Breaker struct {
	tripped atomic.Bool
	state   atomic.Pointer[State]
	epoch   atomic.Pointer[epochCtx]

	mu      sync.Mutex // serialises Trip, Clear, Reset
	initial State
	now     func() time.Time
	rec     Recorder
	per     Persister

	subMu sync.Mutex
	subs  map[*subscriber]struct{}
}

// epochCtx is the context shared by all work tracked during one armed
// period; Trip cancels it with a *TrippedError cause (trip).
type epochCtx struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	// causes, set by trip right after ctx is cancelled: contexts
	// cancelled with the same cause, which the views answer
	// context.Cause from after the trip. context.Cause takes the mutex
	// of the cancel context it finds; 1,000 requests woken by one trip
	// all asking the epoch context's one mutex queue on it. (A view
	// woken before they are set answers from ctx: the same cause.)
	causes atomic.Pointer[[causeShards]context.Context]
}

// causeShards is the number of cause contexts per trip.
const causeShards = 16

// trip cancels the epoch context with cause, then sets the cause contexts
// (off the path from Trip to the wake-up).
func (ec *epochCtx) trip(cause error) {
	ec.cancel(cause)
	var cs [causeShards]context.Context
	for i := range cs {
		c, cancel := context.WithCancelCause(context.Background())
		cancel(cause)
		cs[i] = c
	}
	ec.causes.Store(&cs)
}

func newEpochCtx() *epochCtx {
	ctx, cancel := context.WithCancelCause(context.Background())
	return &epochCtx{ctx: ctx, cancel: cancel}
}

// NewBreaker returns an armed breaker at epoch 0 unless WithInitial says
// otherwise.
func NewBreaker(opts ...Option) *Breaker {
	b := &Breaker{now: time.Now, subs: map[*subscriber]struct{}{}}
	for _, o := range opts {
		o(b)
	}
	s := b.initial.clone()
	b.initial = State{}
	if s.Since.IsZero() {
		s.Since = b.now()
	}
	ec := newEpochCtx()
	if s.Tripped {
		ec.trip(&TrippedError{Epoch: s.Epoch, Reason: s.Reason})
	}
	b.epoch.Store(ec)
	b.state.Store(&s)
	b.tripped.Store(s.Tripped)
	return b
}

// Snapshot returns the current state (an atomic load; do not modify it).
func (b *Breaker) Snapshot() State { return *b.state.Load() }

// Tripped reports whether the breaker is tripped (an atomic load).
func (b *Breaker) Tripped() bool { return b.tripped.Load() }

// Guard returns nil while armed, else a *TrippedError. The ledger runs it
// under its sequencing lock for allow entries (ledger.Event.Guard), which
// makes trips linearisable with allows.
func (b *Breaker) Guard() error {
	if !b.tripped.Load() {
		return nil
	}
	s := b.state.Load()
	return &TrippedError{Epoch: s.Epoch, Reason: s.Reason}
}

// Track derives a context that a trip cancels with a *TrippedError cause
// (errors.Is(context.Cause(ctx), ErrTripped)). If the breaker is already
// tripped the returned context is already cancelled. Call the returned func
// when the work is done (it releases the registration).
//
// A trip cancels every tracked context synchronously, with no goroutine per
// request; values and the deadline come from ctx. When ctx can never be
// cancelled (ctx.Done() == nil: context.Background, the HTTP server's user
// context), the tracked context is a view of the breaker's per-epoch context
// itself: Track registers nothing and takes no lock, and a trip wakes all
// such waiters by closing one channel. (Contexts derived from it are then
// children of the epoch context: cancel them when done, as go vet asks,
// rather than relying on the release.) Otherwise it is a child of the
// per-epoch context, and ctx's cancellation is propagated
// (context.AfterFunc) with ctx's cause; when ctx ends first, the tracked
// context's Err is context.Canceled (use context.Cause to tell deadline
// from cancel). After release, either reports context.Canceled.
func (b *Breaker) Track(ctx context.Context) (context.Context, func()) {
	ec := b.epoch.Load()
	if ctx.Done() == nil {
		v := &epochView{ec: ec, epoch: ec.ctx, req: ctx, shard: uint8(rand.Uint32N(causeShards))}
		return v, v.release
	}
	c, cancel := context.WithCancelCause(ec.ctx)
	t := &trackedCtx{Context: c, req: ctx}
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	return t, func() {
		stop()
		cancel(context.Canceled)
	}
}

// trackedCtx is a cancel context under the epoch context that takes its
// values and deadline from the request's context.
type trackedCtx struct {
	context.Context                 // child of the epoch context: Done, Err, cause
	req             context.Context // the request's context: values, deadline
}

func (t *trackedCtx) Deadline() (time.Time, bool) { return t.req.Deadline() }

// Value answers from the cancel chain first (it holds no user values, only
// the context package's own key, which keeps context.Cause and derived
// contexts working), then from the request's context.
func (t *trackedCtx) Value(key any) any {
	if v := t.Context.Value(key); v != nil {
		return v
	}
	return t.req.Value(key)
}

// epochView is the tracked context of work whose own context can never be
// cancelled (see Track). Until released it is the epoch context (Done, Err,
// the trip as cause) with the work's values and deadline; once released it
// reports context.Canceled, as a cancelled child would.
type epochView struct {
	ec       *epochCtx
	epoch    context.Context
	req      context.Context
	shard    uint8 // which of ec.causes answers Value after the trip
	released atomic.Bool
}

// releasedCtx is what a released epochView reports: cancelled, cause
// context.Canceled.
var releasedCtx = func() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}()

func (v *epochView) cur() context.Context {
	if v.released.Load() {
		return releasedCtx
	}
	return v.epoch
}

func (v *epochView) release()                    { v.released.Store(true) }
func (v *epochView) Deadline() (time.Time, bool) { return v.req.Deadline() }
func (v *epochView) Done() <-chan struct{}       { return v.cur().Done() }
func (v *epochView) Err() error                  { return v.cur().Err() }

// Value answers from the epoch context first (it holds no user values, only
// the context package's own key, which makes context.Cause report the trip
// and lets derived contexts attach to the epoch context without a
// goroutine), then from the work's context. Once the epoch is tripped, one
// of the trip's cause contexts answers instead of the epoch context: the
// same cause, cancelled as well, so context.Cause and derived contexts
// behave the same, but the woken requests do not all take one mutex.
func (v *epochView) Value(key any) any {
	c := v.cur()
	if c == v.epoch {
		if cs := v.ec.causes.Load(); cs != nil {
			c = cs[v.shard]
		}
	}
	if val := c.Value(key); val != nil {
		return val
	}
	return v.req.Value(key)
}

// Trip trips the breaker from src. It is idempotent: a trip while tripped
// adds or re-latches the source without bumping the epoch, and a repeated
// trip from a source that is already latched changes nothing.
//
// Order: the state flips first (Guard fails from here on, so no allow can
// commit after the trip entry), tracked contexts are cancelled with the trip
// as cause, subscribers are told, then the trip entry is recorded and the
// state persisted. The breaker is tripped even when the returned error (from
// the recorder or persister) is not nil.
func (b *Breaker) Trip(ctx context.Context, src Source, reason string) (State, error) {
	return b.trip(ctx, src, reason, Latching(src.Kind))
}

// TripLatched trips the breaker from src and latches the source whatever
// its kind: Reset is refused until Clear(src). It is for conditions of this
// gateway that hold while they last although their kind is momentary (the
// replica fan-out's broken bus subscription, estop/replica). A repeated
// call while the source is latched changes nothing; a call after Clear
// latches it again (no new epoch while tripped).
func (b *Breaker) TripLatched(ctx context.Context, src Source, reason string) (State, error) {
	return b.trip(ctx, src, reason, true)
}

func (b *Breaker) trip(ctx context.Context, src Source, reason string, latch bool) (State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	cur := b.state.Load()
	next := cur.clone()
	srcState := SourceClear
	if latch {
		srcState = SourceTripped
	}
	i := findSource(next.Sources, src)
	if cur.Tripped && i >= 0 && next.Sources[i].State == SourceTripped {
		return *cur, nil // already latched: nothing new
	}
	if cur.Tripped && i >= 0 && !latch {
		return *cur, nil // momentary source already recorded in this epoch
	}
	if i >= 0 {
		next.Sources[i].State = srcState
		next.Sources[i].Since = now
	} else {
		next.Sources = append(next.Sources, SourceState{ID: src.ID, Kind: src.Kind, State: srcState, Since: now})
	}
	if !cur.Tripped {
		next.Tripped = true
		next.Epoch++
		next.Since = now
		next.Reason = reason
	}
	b.state.Store(&next)
	b.tripped.Store(true)
	if !cur.Tripped {
		b.epoch.Load().trip(&TrippedError{Epoch: next.Epoch, Source: src, Reason: reason})
	}
	b.notify(next)
	var errs []error
	if b.rec != nil {
		if err := b.rec.RecordTrip(ctx, next, src, reason); err != nil {
			errs = append(errs, fmt.Errorf("estop: record trip: %w", err))
		}
	}
	if b.per != nil {
		if err := b.per.Save(ctx, next); err != nil {
			errs = append(errs, fmt.Errorf("estop: persist trip: %w", err))
		}
	}
	return next, errors.Join(errs...)
}

// Clear marks a latching source as clear (button released, controller link
// healthy again). It never re-arms the breaker: that takes a Reset. Clearing
// an unknown or already-clear source does nothing.
func (b *Breaker) Clear(src Source) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.state.Load()
	i := findSource(cur.Sources, src)
	if i < 0 || cur.Sources[i].State == SourceClear {
		return
	}
	next := cur.clone()
	next.Sources[i].State = SourceClear
	next.Sources[i].Since = b.now()
	b.state.Store(&next)
	b.notify(next)
	if b.per != nil {
		// Best effort: a lost clear only makes a restart stricter.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.per.Save(ctx, next)
		cancel()
	}
}

// Reset re-arms the breaker. It fails with *LatchedError while any latching
// source is still tripped. The reset entry is recorded before the breaker
// re-arms; if recording or persisting fails, the breaker stays tripped.
// Resetting an armed breaker is a no-op.
func (b *Breaker) Reset(ctx context.Context, operator, reason string) (State, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	cur := b.state.Load()
	if !cur.Tripped {
		return *cur, nil
	}
	if l := cur.Latched(); len(l) > 0 {
		return *cur, &LatchedError{Sources: l}
	}
	next := State{Tripped: false, Epoch: cur.Epoch, Since: b.now(), Reason: reason}
	if b.rec != nil {
		if err := b.rec.RecordReset(ctx, next, operator, reason); err != nil {
			return *cur, fmt.Errorf("estop: record reset: %w", err)
		}
	}
	if b.per != nil {
		if err := b.per.Save(ctx, next); err != nil {
			return *cur, fmt.Errorf("estop: persist reset: %w", err)
		}
	}
	b.epoch.Store(newEpochCtx())
	b.state.Store(&next)
	b.tripped.Store(false)
	b.notify(next)
	return next, nil
}

func findSource(ss []SourceState, src Source) int {
	for i, s := range ss {
		if s.ID == src.ID && s.Kind == src.Kind {
			return i
		}
	}
	return -1
}

// subscriber has a one-slot mailbox: a slow reader sees the latest state.
type subscriber struct{ ch chan State }

// Subscribe returns a channel that receives every state change (the current
// state first). Delivery never blocks the breaker: a subscriber that has not
// read the previous state gets only the latest. Call the returned func to
// unsubscribe; the channel is then closed.
func (b *Breaker) Subscribe() (<-chan State, func()) {
	s := &subscriber{ch: make(chan State, 1)}
	b.subMu.Lock()
	b.subs[s] = struct{}{}
	s.ch <- b.Snapshot()
	b.subMu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.subMu.Lock()
			delete(b.subs, s)
			close(s.ch)
			b.subMu.Unlock()
		})
	}
}

func (b *Breaker) notify(s State) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	for sub := range b.subs {
		select {
		case sub.ch <- s:
			continue
		default:
		}
		select { // drop the stale state, deliver the latest
		case <-sub.ch:
		default:
		}
		select {
		case sub.ch <- s:
		default:
		}
	}
}

// WatchTrips calls f for every trip of b until ctx ends: once per epoch, in
// order, on the caller's goroutine. It is how approvals (cancel all pending)
// and bridges (safe stop) react to trips from any source. f receives the
// state as observed: if a trip and its reset both happened between two
// deliveries, f still runs once for that epoch with the (armed) state seen.
// Trips before WatchTrips was called are not reported, except that a
// breaker already tripped at the call is reported at once.
func WatchTrips(ctx context.Context, b *Breaker, f func(State)) error {
	ch, unsub := b.Subscribe()
	defer unsub()
	first := true
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case s := <-ch:
			switch {
			case first:
				first = false
				seen = s.Epoch
				if s.Tripped {
					f(s)
				}
			case s.Epoch > seen:
				seen = s.Epoch
				f(s)
			}
		}
	}
}
