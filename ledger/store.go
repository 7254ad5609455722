package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
)

// Errors returned by stores. Test with errors.Is; codes.Of gives the wire
// code.
var (
	ErrNotFound       = codes.New(codes.NotFound, "ledger: no such entry")
	ErrDuplicateEvent = codes.New(codes.Conflict, "ledger: eventId already recorded")
	ErrClosed         = codes.New(codes.LedgerUnavailable, "ledger: store closed")
	// ErrFailed means a write failed in a way the store cannot prove it
	// recovered from (for example fdatasync failed); every later append
	// fails until the store is reopened.
	ErrFailed = codes.New(codes.LedgerUnavailable, "ledger: store failed")
	// ErrBadRange is returned for sizes or indexes outside the ledger.
	ErrBadRange = codes.New(codes.MalformedRequest, "ledger: range outside the ledger")
)

// Limits on queries.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
	// MaxBatch bounds the events of one AppendBatch call.
	MaxBatch = 1024
)

// ListQuery selects entries in ascending order: sequence > After, at most
// Limit (0 = DefaultListLimit, capped at MaxListLimit), optionally only one
// event type and/or agent.
type ListQuery struct {
	After     uint64
	Limit     int
	EventType string
	AgentID   string
}

// EffectiveLimit returns the limit List applies.
func (q ListQuery) EffectiveLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultListLimit
	case q.Limit > MaxListLimit:
		return MaxListLimit
	}
	return q.Limit
}

// VerifyResult is the answer of Store.Verify (the body of POST
// /v1/ledger/verify). FirstBadSequence is nil when Valid.
type VerifyResult struct {
	Valid            bool    `json:"valid"`
	Checked          uint64  `json:"checked"`
	FirstBadSequence *uint64 `json:"firstBadSequence"`
	Reason           string  `json:"-"` // for logs; not on the wire
}

// Store is a durable ledger. All methods are safe for concurrent use.
type Store interface {
	// Append assigns sequence, timestamp (from the store's clock, at the
	// serialisation point, never earlier than the previous entry's) and
	// hashes, and returns only once the entry is durable. Concurrent
	// appenders share one sync (group commit). After an error nothing
	// partial is visible.
	Append(ctx context.Context, ev Event) (Entry, error)
	// AppendBatch appends evs in order as consecutive entries where their
	// guards allow it. errs[i] is the error of evs[i] (a guard error or an
	// invalid event; such events get no entry and consume no sequence);
	// entries[i] is the zero Entry when errs[i] != nil. The final error is
	// set when nothing was written (durability failure, ctx, closed).
	AppendBatch(ctx context.Context, evs []Event) (entries []Entry, errs []error, err error)
	Size(ctx context.Context) (uint64, error)
	// Head returns the last entry; ErrNotFound when the ledger is empty.
	Head(ctx context.Context) (Entry, error)
	Get(ctx context.Context, seq uint64) (Entry, error)
	GetByEventID(ctx context.Context, eventID string) (Entry, error)
	// LastOfType returns the most recent entry of an event type.
	LastOfType(ctx context.Context, eventType string) (Entry, error)
	// List returns entries matching q; next is the After value for the next
	// page, nil when there are no more entries.
	List(ctx context.Context, q ListQuery) (entries []Entry, next *uint64, err error)
	// TreeHash returns the RFC 6962 root of the first size entries.
	TreeHash(ctx context.Context, size uint64) (tlog.Hash, error)
	// InclusionProof proves leaf index (= sequence − 1) in the tree of
	// treeSize entries, in O(log n) reads of stored hashes.
	InclusionProof(ctx context.Context, index, treeSize uint64) ([]tlog.Hash, error)
	// ConsistencyProof proves the tree of size from is a prefix of the tree
	// of size to.
	ConsistencyProof(ctx context.Context, from, to uint64) ([]tlog.Hash, error)
	// Verify re-reads entries from..to (1-based, inclusive; 0 means the
	// first / the last) from storage, recomputes every hash, the chain
	// links and the stored leaf hashes, and reports the first bad sequence.
	Verify(ctx context.Context, from, to uint64) (VerifyResult, error)
	// Export writes entries from..to (as in Verify) as NDJSON in constant
	// memory, calling progress (if non-nil) as it goes.
	Export(ctx context.Context, w io.Writer, from, to uint64, progress func(done, total uint64)) error
	Close() error
}

// Ledger adds checkpoints on top of a Store. The gateway calls Checkpoint on
// a ticker.
type Ledger struct {
	Store Store
	Now   func() time.Time // clock for checkpoint timestamps
}

// Checkpoint signs the current tree head and records it as a
// ledger.checkpoint event (agentId "system", payload = the checkpoint). The
// checkpoint covers the entries before its own entry. If nothing but the
// latest checkpoint's own entry was appended since, it returns the latest
// checkpoint without writing.
func (l *Ledger) Checkpoint(ctx context.Context, s CheckpointSigner) (Checkpoint, error) {
	return l.checkpoint(ctx, s, 0)
}

// CheckpointCovering returns a checkpoint whose tree contains sequence seq:
// the latest one if it does, else a new one (recorded even if the ledger is
// otherwise idle, so that a proof for the latest checkpoint's own entry can
// be served). The proof endpoint uses it.
func (l *Ledger) CheckpointCovering(ctx context.Context, s CheckpointSigner, seq uint64) (Checkpoint, error) {
	return l.checkpoint(ctx, s, seq)
}

func (l *Ledger) checkpoint(ctx context.Context, s CheckpointSigner, cover uint64) (Checkpoint, error) {
	size, err := l.Store.Size(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if cover > size {
		return Checkpoint{}, ErrBadRange
	}
	last, err := l.LatestCheckpoint(ctx)
	haveLast := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return Checkpoint{}, err
	case err == nil && cover != 0 && last.TreeSize >= cover:
		return last, nil
	case err == nil && cover == 0 && size <= last.TreeSize+1:
		return last, nil
	}
	if size == 0 {
		return Checkpoint{}, fmt.Errorf("ledger: nothing to checkpoint: %w", ErrNotFound)
	}
	root, err := l.Store.TreeHash(ctx, size)
	if err != nil {
		return Checkpoint{}, err
	}
	if haveLast && last.TreeSize > 0 {
		if err := l.extends(ctx, last, size, root); err != nil {
			return Checkpoint{}, err
		}
	}
	c, err := SignCheckpoint(s, size, root, l.Now())
	if err != nil {
		return Checkpoint{}, err
	}
	if _, err := l.Store.Append(ctx, Event{EventType: EventTypeCheckpoint, AgentID: AgentSystem, Payload: c}); err != nil {
		return Checkpoint{}, err
	}
	return c, nil
}

// ErrTreeDiverges is returned (wrapped) when the stored tree is not an
// extension of the latest recorded checkpoint: nothing is signed.
var ErrTreeDiverges = codes.New(codes.LedgerUnavailable, "ledger: the stored tree does not extend the latest checkpoint")

// extends checks, before a new root is signed, that the tree of size with
// root extends the latest checkpoint's tree (a consistency proof from the
// store's stored hashes, checked against the root the latest checkpoint
// recorded). Stored hashes that were damaged or edited behind the store's
// back therefore stop checkpointing instead of being signed.
func (l *Ledger) extends(ctx context.Context, last Checkpoint, size uint64, root tlog.Hash) error {
	if last.TreeSize > size {
		return codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: the latest checkpoint covers %d entries, the store has %d", last.TreeSize, size), ErrTreeDiverges)
	}
	old, err := ParseHexHash(last.RootHash)
	if err != nil {
		return codes.Wrap(codes.LedgerUnavailable, "ledger: the latest checkpoint's root is unreadable", errors.Join(ErrTreeDiverges, err))
	}
	if last.TreeSize == size {
		if old != root {
			return codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: the stored root at %d differs from the latest checkpoint's", size), ErrTreeDiverges)
		}
		return nil
	}
	p, err := l.Store.ConsistencyProof(ctx, last.TreeSize, size)
	if err != nil {
		return err
	}
	if err := VerifyConsistency(p, last.TreeSize, size, old, root); err != nil {
		return codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: the stored tree at %d does not extend the checkpoint at %d", size, last.TreeSize), errors.Join(ErrTreeDiverges, err))
	}
	return nil
}

// LatestCheckpoint returns the payload of the last ledger.checkpoint entry;
// ErrNotFound if there is none.
func (l *Ledger) LatestCheckpoint(ctx context.Context) (Checkpoint, error) {
	e, err := l.Store.LastOfType(ctx, EventTypeCheckpoint)
	if err != nil {
		return Checkpoint{}, err
	}
	var c Checkpoint
	if err := json.Unmarshal(e.Payload, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: checkpoint entry %d: %w", e.SequenceNumber, err)
	}
	return c, nil
}

// Prepared is an event validated and canonicalised outside the store's lock.
type Prepared struct {
	Event   Event
	Payload json.RawMessage
}

// Prepare validates ev and canonicalises its payload; stores call it in the
// appender's goroutine so the serialisation point only hashes.
func Prepare(ev Event) (Prepared, error) {
	if err := ValidateEvent(&ev); err != nil {
		return Prepared{}, err
	}
	p, err := CanonicalPayload(ev.Payload)
	if err != nil {
		return Prepared{}, err
	}
	return Prepared{Event: ev, Payload: p}, nil
}

// Next builds and seals the entry that follows a head with hash prevHash and
// timestamp prevTS (both "" for the first entry) at sequence seq. The
// timestamp is max(now, prevTS). eventID must be set.
func (p *Prepared) Next(seq uint64, eventID, prevHash, prevTS string, now time.Time) (Entry, []byte) {
	ts := FormatTimestamp(now)
	if ts < prevTS {
		ts = prevTS
	}
	if prevHash == "" {
		prevHash = ZeroHash
	}
	e := Entry{
		EventID:        eventID,
		SequenceNumber: seq,
		Timestamp:      ts,
		EventType:      p.Event.EventType,
		AgentID:        p.Event.AgentID,
		TokenID:        p.Event.TokenID,
		Payload:        p.Payload,
		PreviousHash:   prevHash,
	}
	enc := Seal(&e)
	return e, enc
}

// RunGuard runs g, turning a panic into an error so that one bad guard
// cannot take the store's writer down.
func RunGuard(g func() error) (err error) {
	if g == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ledger: guard panicked: %v", r)
		}
	}()
	return g()
}

// RunSequenced calls f(seq) if f is set, ignoring a panic so that one bad
// hook cannot take the store's writer down (its caller then never learns the
// sequence early and uses the entry Append returns).
func RunSequenced(f func(seq uint64), seq uint64) {
	if f == nil {
		return
	}
	defer func() { _ = recover() }()
	f(seq)
}

// BatchAppender is the batch side of a Store.
type BatchAppender interface {
	AppendBatch(ctx context.Context, evs []Event) ([]Entry, []error, error)
}

// AppendOne appends a single event through a store's AppendBatch: the one
// Append implementation both stores share.
func AppendOne(ctx context.Context, b BatchAppender, ev Event) (Entry, error) {
	es, errs, err := b.AppendBatch(ctx, []Event{ev})
	if err != nil {
		return Entry{}, err
	}
	if errs[0] != nil {
		return Entry{}, errs[0]
	}
	return es[0], nil
}

// PrepareBatch validates and canonicalises a batch outside the store's lock
// and gives every event an id (newID for those without one). errs[i] is set
// for an event that is refused on its own; err means the batch cannot be
// taken at all (too large, or no id could be made).
func PrepareBatch(evs []Event, newID func() (string, error)) (preps []Prepared, ids []string, errs []error, err error) {
	if len(evs) > MaxBatch {
		return nil, nil, nil, codes.New(codes.MalformedRequest, fmt.Sprintf("ledger: batch over %d events", MaxBatch))
	}
	preps, ids, errs = make([]Prepared, len(evs)), make([]string, len(evs)), make([]error, len(evs))
	for i := range evs {
		p, perr := Prepare(evs[i])
		if perr != nil {
			errs[i] = perr
			continue
		}
		preps[i] = p
		ids[i] = evs[i].EventID
		if ids[i] == "" {
			if ids[i], err = newID(); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return preps, ids, errs, nil
}
