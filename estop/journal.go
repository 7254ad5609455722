package estop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
)

// TripMeta is what a journaled trip carries to the ledger recorder through
// the context (TripMetaOf): the trip entry's event id, chosen when the trip
// was journaled so that recording it again after a failure or a restart
// writes it at most once (the ledger refuses a second entry with the same
// event id), when the trip happened, and how the requester's authority was
// checked.
type TripMeta struct {
	EventID string
	AtMs    int64
	Auth    string
}

type tripMetaKey struct{}
type tripAuthKey struct{}

// WithTripMeta returns ctx carrying m for the recorder.
func WithTripMeta(ctx context.Context, m TripMeta) context.Context {
	return context.WithValue(ctx, tripMetaKey{}, m)
}

// TripMetaOf returns the TripMeta in ctx (zero without a journal).
func TripMetaOf(ctx context.Context) TripMeta {
	m, _ := ctx.Value(tripMetaKey{}).(TripMeta)
	return m
}

// WithAuthorization returns ctx saying how the trip's requester was
// authorised (for example that its token could only be checked against a
// cache because the store was unavailable); the journal records it with the
// trip.
func WithAuthorization(ctx context.Context, auth string) context.Context {
	return context.WithValue(ctx, tripAuthKey{}, auth)
}

type storeDownKey struct{}

// WithStoreUnavailable returns ctx saying that the caller has just seen the
// store not answer (a trip whose requester had to be checked without it):
// the journal then does not wait for the ledger and the store before
// returning from the trip, it only journals it and leaves the recording to
// Run.
func WithStoreUnavailable(ctx context.Context) context.Context {
	return context.WithValue(ctx, storeDownKey{}, true)
}

func storeUnavailable(ctx context.Context) bool {
	down, _ := ctx.Value(storeDownKey{}).(bool)
	return down
}

func authorizationOf(ctx context.Context) string {
	a, _ := ctx.Value(tripAuthKey{}).(string)
	return a
}

// JournalRecord is one trip as written to the journal (one JSON line).
type JournalRecord struct {
	EventID string `json:"eventId"`
	Epoch   uint64 `json:"epoch"`
	AtMs    int64  `json:"at"`
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Reason  string `json:"reason"`
	Auth    string `json:"auth,omitempty"`
}

// JournalPrealloc is the size the journal file is preallocated to (zeros),
// so that trips are written into blocks the file already owns: a full disk
// does not keep a trip from being journaled.
const JournalPrealloc = 1 << 20

// Journal is the write-ahead journal of trips. It sits between the breaker
// and the ledger recorder and the state persister (WithRecorder,
// WithPersister): a trip is written to a local file and fsynced, then
// recorded in the ledger and persisted; if the ledger or the store is
// unavailable (PostgreSQL down, a full disk), RecordTrip still succeeds and
// the journal records the trip as soon as they can take it (Run, every
// Reset, and the next start), with the event id chosen at the trip, so that
// the ledger holds each trip exactly once. A trip thus never waits longer
// than TryFor for, nor fails because of, a store or a network.
//
// A Reset first drains the journal (the trip entries precede the reset
// entry) and fails while it cannot: re-arming needs the ledger. A gateway
// that restarts with trips still in the journal boots tripped (Initial).
//
// The file is preallocated (JournalPrealloc) and overwritten in place:
// lines of JSON from offset 0, zeros after them; when every trip is
// recorded and persisted, the written part is zeroed again.
type Journal struct {
	next   Recorder
	per    Persister
	log    *slog.Logger
	tryFor time.Duration
	// resetBound bounds a reset's drain (RecordReset).
	resetBound time.Duration
	now        func() time.Time

	drainMu sync.Mutex // one drain at a time

	mu      sync.Mutex // file, pending, dirty, snap
	f       *os.File
	end     int64 // offset after the last record
	pending []JournalRecord
	dirty   bool // the persisted state may be behind the breaker
	snap    func() State
	kick    chan struct{}
}

// JournalOption configures a Journal.
type JournalOption func(*Journal)

// JournalTryFor bounds how long RecordTrip and a tripped state's Save wait
// for the ledger and the store before leaving the work to Run (default
// 250 ms).
func JournalTryFor(d time.Duration) JournalOption { return func(j *Journal) { j.tryFor = d } }

// JournalResetBound sets how long a reset waits for the journal's trips to
// reach the ledger before it fails (default 5 s).
func JournalResetBound(d time.Duration) JournalOption { return func(j *Journal) { j.resetBound = d } }

// JournalLog sets the logger.
func JournalLog(l *slog.Logger) JournalOption { return func(j *Journal) { j.log = l } }

// JournalClock replaces time.Now.
func JournalClock(now func() time.Time) JournalOption { return func(j *Journal) { j.now = now } }

// OpenJournal opens (or creates) the journal file at path over the ledger
// recorder next and the persister per (either may be nil). Trips found in
// the file are pending: they are recorded by the next drain.
func OpenJournal(path string, next Recorder, per Persister, opts ...JournalOption) (*Journal, error) {
	j := &Journal{next: next, per: per, log: slog.New(slog.DiscardHandler), tryFor: 250 * time.Millisecond, resetBound: 5 * time.Second,
		now: time.Now, kick: make(chan struct{}, 1)}
	for _, o := range opts {
		o(j)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("estop journal: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("estop journal: read: %w", err)
	}
	j.f = f
	j.pending, j.end = parseJournal(data)
	if len(j.pending) > 0 {
		j.dirty = true // the persisted state may not show these trips
	}
	if int64(len(data)) < JournalPrealloc {
		if err := j.zero(int64(len(data)), JournalPrealloc); err != nil {
			// Not fatal: records are appended instead (which a full disk
			// may refuse); the trip itself never depends on it.
			j.log.Warn("estop journal: preallocation failed", "err", err)
		}
	}
	return j, nil
}

// parseJournal reads the records before the first zero byte; a torn last
// line (a crash while writing it) is ignored.
func parseJournal(data []byte) ([]JournalRecord, int64) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	var recs []JournalRecord
	var end int64
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		var r JournalRecord
		if err := json.Unmarshal(data[:i], &r); err != nil || r.EventID == "" {
			break
		}
		recs = append(recs, r)
		end += int64(i + 1)
		data = data[i+1:]
	}
	return recs, end
}

// zero writes zeros over [from, to) and syncs.
func (j *Journal) zero(from, to int64) error {
	if j.f == nil {
		return ErrJournalClosed
	}
	buf := make([]byte, 64<<10)
	for off := from; off < to; {
		n := min(int64(len(buf)), to-off)
		if _, err := j.f.WriteAt(buf[:n], off); err != nil {
			return err
		}
		off += n
	}
	return j.f.Sync()
}

// Attach gives the journal the breaker whose state it persists after a
// drain. Call it once the breaker exists, before it trips.
func (j *Journal) Attach(b *Breaker) {
	j.mu.Lock()
	j.snap = b.Snapshot
	j.mu.Unlock()
}

// Pending returns the trips not yet recorded and persisted.
func (j *Journal) Pending() []JournalRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]JournalRecord(nil), j.pending...)
}

// Initial returns the state a gateway starts in, given the persisted one:
// tripped if the journal holds a trip not yet recorded (the persisted state
// may predate it), otherwise persisted unchanged.
func (j *Journal) Initial(persisted State) State {
	p := j.Pending()
	if len(p) == 0 {
		return persisted
	}
	last := p[len(p)-1]
	s := persisted.clone()
	if !s.Tripped || s.Epoch < last.Epoch {
		s.Tripped = true
		s.Epoch = max(s.Epoch, last.Epoch)
		s.Since = time.UnixMilli(last.AtMs)
		s.Reason = last.Reason
	}
	for _, r := range p {
		if findSource(s.Sources, Source{ID: r.Source, Kind: r.Kind}) < 0 {
			// Latches come back clear (FromStore): the hardware re-asserts them.
			s.Sources = append(s.Sources, SourceState{ID: r.Source, Kind: r.Kind, State: SourceClear, Since: time.UnixMilli(r.AtMs)})
		}
	}
	return s
}

// RecordTrip implements Recorder: the trip is journaled (fsynced), then
// recorded in the ledger and persisted if that succeeds within TryFor;
// otherwise Run does it when it can. It returns an error only when the
// trip could neither be journaled nor recorded (it is still kept in memory
// and recorded when the ledger can take it).
func (j *Journal) RecordTrip(ctx context.Context, s State, src Source, reason string) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	r := JournalRecord{EventID: id.String(), Epoch: s.Epoch, AtMs: j.now().UnixMilli(), Source: src.ID, Kind: src.Kind,
		Reason: reason, Auth: authorizationOf(ctx)}
	j.mu.Lock()
	werr := j.write(r)
	j.pending = append(j.pending, r)
	j.dirty = true
	j.mu.Unlock()
	if werr != nil {
		j.log.Error("estop journal: trip not journaled (kept in memory until the ledger takes it)", "err", werr)
	}
	if storeUnavailable(ctx) || !j.drainMu.TryLock() {
		// The store was just seen not answering, or a drain is running:
		// Run or that drain records this trip.
		j.wake()
		return werr
	}
	// The drain runs on its own goroutine and is waited for at most TryFor:
	// a ledger that does not answer at all (a black-holed network) may hold
	// a write it has already sent until its own bound, and the trip must
	// not wait for that. A drain still running then finishes (or fails and
	// wakes Run) in the background.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.tryFor)
	derr := j.bounded(func() error {
		defer cancel()
		defer j.drainMu.Unlock()
		err := j.drainLocked(dctx)
		if err != nil {
			j.wake()
		}
		return err
	})
	if derr != nil {
		j.log.Warn("estop journal: trip not recorded yet (retrying)", "eventId", r.EventID, "err", derr)
		j.wake()
		return werr
	}
	return nil
}

// errTryFor is the error of work that did not finish within TryFor (it
// goes on in the background).
var errTryFor = errors.New("estop journal: not done within the try bound; continuing in the background")

// errStoreUnavailable is Save's error for a tripped state the caller
// said the store cannot take now (WithStoreUnavailable): Run saves it.
var errStoreUnavailable = errors.New("estop journal: store unavailable; the state is saved when it answers")

// bounded runs f on its own goroutine and waits for it at most TryFor
// (plus a little for f to observe a context bounded by TryFor).
func (j *Journal) bounded(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	t := time.NewTimer(j.tryFor + j.tryFor/5)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errTryFor
	}
}

// RecordReset implements Recorder: every journaled trip is recorded (and the
// state persisted) first, so that the reset entry follows its trip entries;
// if that fails the reset fails (re-arming needs the ledger).
//
// The breaker holds its lock across this call, so every trip waits for it:
// the drain is bounded by resetDrainBound even when the ledger ignores its
// context or another drain holds drainMu (it goes on in the background, and
// the reset fails: the breaker stays tripped, which is the safe side).
func (j *Journal) RecordReset(ctx context.Context, s State, operator, reason string) error {
	done := make(chan error, 1)
	go func() {
		j.drainMu.Lock()
		defer j.drainMu.Unlock()
		done <- j.drainLocked(ctx)
	}()
	t := time.NewTimer(j.resetBound)
	defer t.Stop()
	var err error
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("the ledger did not take them within %v", j.resetBound)
	}
	if err != nil {
		return fmt.Errorf("trips not yet recorded: %w", err)
	}
	if j.next == nil {
		return nil
	}
	return j.next.RecordReset(ctx, s, operator, reason)
}

// Save implements Persister. A tripped state that cannot be saved within
// TryFor is saved by the next drain (the journal holds the trip, so a
// restart boots tripped meanwhile); any other failure is returned (a reset
// that cannot be persisted does not happen).
func (j *Journal) Save(ctx context.Context, s State) error {
	if j.per == nil {
		return nil
	}
	if !s.Tripped {
		return j.save(ctx, s)
	}
	if storeUnavailable(ctx) {
		j.mu.Lock()
		j.dirty = true
		j.mu.Unlock()
		j.wake()
		return errStoreUnavailable
	}
	// A tripped state is waited for at most TryFor (see RecordTrip): a
	// store that does not answer keeps the save in the background, and the
	// next drain saves the breaker's state anyway.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.tryFor)
	return j.bounded(func() error {
		defer cancel()
		return j.save(sctx, s)
	})
}

func (j *Journal) save(ctx context.Context, s State) error {
	err := j.per.Save(ctx, s)
	j.mu.Lock()
	if err != nil {
		j.dirty = true
	} else if len(j.pending) == 0 {
		j.dirty = false
	}
	j.mu.Unlock()
	if err != nil {
		j.wake()
	}
	return err
}

// Run drains the journal until ctx ends: at once when woken by a trip that
// could not be recorded, and every interval while anything is pending.
func (j *Journal) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-j.kick:
		case <-t.C:
		}
		if !j.busy() {
			continue
		}
		if err := j.Drain(ctx, 5*time.Second); err != nil && ctx.Err() == nil {
			j.log.Warn("estop journal: trips not recorded yet (retrying)", "pending", len(j.Pending()), "err", err)
		}
	}
}

// Drain records every pending trip and persists the breaker's state,
// waiting at most timeout.
func (j *Journal) Drain(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	j.drainMu.Lock()
	defer j.drainMu.Unlock()
	return j.drainLocked(ctx)
}

func (j *Journal) busy() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.pending) > 0 || j.dirty
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// drainLocked records the pending trips in order, persists the current
// state, then forgets the trips (zeroing the file). Recording a trip that
// is already in the ledger (a retry after an answer that was lost, or after
// a restart) is a no-op for the recorder, by its event id. Caller holds
// drainMu.
func (j *Journal) drainLocked(ctx context.Context) error {
	j.mu.Lock()
	recs := append([]JournalRecord(nil), j.pending...)
	dirty, snap := j.dirty, j.snap
	j.mu.Unlock()
	if j.next != nil {
		for _, r := range recs {
			rctx := WithTripMeta(ctx, TripMeta{EventID: r.EventID, AtMs: r.AtMs, Auth: r.Auth})
			if err := j.next.RecordTrip(rctx, State{Tripped: true, Epoch: r.Epoch}, Source{ID: r.Source, Kind: r.Kind}, r.Reason); err != nil {
				return err
			}
		}
	}
	if dirty && j.per != nil && snap != nil {
		if err := j.per.Save(ctx, snap()); err != nil {
			return fmt.Errorf("persist e-stop state: %w", err)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.pending = j.pending[len(recs):] // trips journaled meanwhile stay
	if len(j.pending) > 0 {
		return nil // the next drain records them (and persists again)
	}
	j.dirty = false
	if j.end > 0 {
		if err := j.zero(0, j.end); err != nil {
			// The records stay readable: recorded again at the next
			// start, which the event ids make harmless.
			return nil
		}
		j.end = 0
	}
	return nil
}

// write appends r at the end of the records and syncs. Caller holds mu.
func (j *Journal) write(r JournalRecord) error {
	if j.f == nil {
		return ErrJournalClosed
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := j.f.WriteAt(b, j.end); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return err
	}
	j.end += int64(len(b))
	return nil
}

// Close closes the file. Pending trips stay in it for the next start.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// ErrJournalClosed is returned by writes after Close.
var ErrJournalClosed = errors.New("estop journal: closed")
