package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"golang.org/x/mod/sumdb/tlog"
)

// Revocation-like changes recorded in the ledger are re-applied to the
// store before the gateway loads its state from the store (docs/store.md,
// "The ledger's revocations win at start").
//
// A standing approval's revocation is appended to the ledger before the
// store is updated, and an opened circuit is persisted by a store write
// whose failure does not stop its ledger event from being appended (the
// write is retried while the gateway runs, circuitpersist.go): in both
// cases the change is in force in memory and recorded, but a store write
// that failed (or a crash before it) leaves the store without it. The in-memory state of a restarted gateway is loaded from the store,
// so without this step a full restart (every replica of a fleet, or the
// single node) brought the revoked standing approval back and closed the
// circuit. Token revocations are written to the store first; they are
// re-applied all the same (a no-op when the store has them).

// reconcileTypes are the ledger events whose effect the store must hold.
var reconcileTypes = []string{"token.revoked", "approval.standing.revoked", "agent.circuit.opened", "agent.circuit.closed",
	"root.removed", "root.added", "apikey.deleted", "apikey.created"}

// indexedReconcileTypes are the ones read through a ledger's type index (a
// fleet's PostgreSQL ledger, read from its start on every start). A token
// revocation is committed to the store before its ledger entry is
// appended, so the store always has it; reading every token.revoked entry
// of the fleet's history at each start would cost in proportion to all
// revocations ever made, for nothing. The embedded pass streams every
// entry anyway and keeps it (a check that costs nothing more there).
var indexedReconcileTypes = []string{"approval.standing.revoked", "agent.circuit.opened", "agent.circuit.closed",
	"root.removed", "root.added", "apikey.deleted", "apikey.created"}

// reconcileMark names the store mark that holds the embedded gateway's
// reconciliation cursor: the ledger size up to which the store is known to
// hold every revocation-like change (8 bytes, big endian), followed by the
// ledger's tree hash at that size (32 bytes).
//
// The cursor lives in the store, not beside it: a store file restored from
// a backup brings back the cursor of its own moment, so the revocations
// recorded since are read and re-applied. (A cursor kept in a separate file
// stayed at the newer position, so a restored store's missing revocations
// were skipped and a revoked token was accepted again.) The tree hash binds
// the cursor to one ledger: a cursor that does not match the ledger beside
// it (another ledger, a restored or rewritten one) reads as 0, everything.
const reconcileMark = "reconciled"

// legacyReconcileFile is where earlier versions kept the cursor; it is no
// longer trusted and is removed at start.
const legacyReconcileFile = "store.reconciled"

// storeMarks keeps small records inside the store (embedded.Store).
type storeMarks interface {
	Mark(ctx context.Context, name string) ([]byte, error)
	PutMark(ctx context.Context, name string, v []byte) error
}

// typedEntries is a ledger that reads entries of given event types past a
// sequence number through an index (ledger/pgledger).
type typedEntries interface {
	EntriesOfTypes(ctx context.Context, types []string, after uint64, limit int) ([]ledger.Entry, error)
}

// reconcileResult says what a reconciliation read and wrote.
type reconcileResult struct {
	Through  uint64 // every change at or below this sequence number is in the store
	Read     int    // change entries read
	Repaired int    // store writes made
}

// lastCircuit is the last circuit event of one agent.
type lastCircuit struct {
	open  bool
	cause string
	at    time.Time
}

// standingRev is one recorded standing revocation.
type standingRev struct {
	operator  string
	at, until int64
}

// reconcileStore re-applies to st every revocation-like change the ledger
// recorded after sequence number after: token revocations (RevokeToken,
// only for ids the store does not list as revoked), standing revocations
// still within their window, and circuits whose last recorded event is an
// open that the store does not show. A circuit whose last event is a close
// but that the store holds open is left open (fail closed: the close's own
// store write failed, or an open's ledger append did). Any store error
// stops it: the caller refuses to start rather than load a store that may
// lack a revocation.
func reconcileStore(ctx context.Context, st store.Store, lg ledger.Store, after uint64, now time.Time) (reconcileResult, error) {
	if fs, ok := st.(*fleetStore); ok {
		st = fs.Store // no announcements: nothing is running yet
	}
	size, err := lg.Size(ctx)
	if err != nil {
		return reconcileResult{}, fmt.Errorf("ledger size: %w", err)
	}
	if after > size {
		after = 0 // a cursor past the ledger's end (another ledger): read it all
	}
	res := reconcileResult{Through: size}
	var revoked []string
	revokedAt := map[string]time.Time{}
	standing := map[string]standingRev{}
	var standingOrder []string
	circuits := map[string]lastCircuit{}
	var circuitOrder []string
	// Trust roots and operator API keys: whether the last recorded event
	// of each removed it. A root or key removed and not added again since
	// must not be in the store (a store restored from a backup brought
	// back a compromised root or a dismissed operator's key); one added
	// again is left as the store has it (adding is no revocation).
	rootRemoved, keyDeleted := map[string]bool{}, map[string]bool{}
	var rootOrder, keyOrder []string
	var recorded time.Time // the newest timestamp among the entries read
	err = changeEntries(ctx, lg, after, size, func(e ledger.Entry) {
		res.Read++
		var p struct {
			TokenID    string `json:"tokenId"`
			ApprovalID string `json:"approvalId"`
			OperatorID string `json:"operatorId"`
			AgentID    string `json:"agentId"`
			Cause      string `json:"cause"`
			Until      int64  `json:"until"`
			PublicKey  string `json:"publicKey"` // root.*
			ID         string `json:"id"`        // apikey.*
		}
		_ = json.Unmarshal(e.Payload, &p)
		at, terr := ledger.ParseTimestamp(e.Timestamp)
		if terr != nil {
			at = now
		} else if at.After(recorded) {
			recorded = at
		}
		switch e.EventType {
		case "token.revoked":
			id := p.TokenID
			if id == "" {
				id = e.TokenID
			}
			if _, seen := revokedAt[id]; id != "" && !seen {
				revokedAt[id] = at
				revoked = append(revoked, id)
			}
		case "approval.standing.revoked":
			if _, seen := standing[p.ApprovalID]; p.ApprovalID != "" && !seen {
				standing[p.ApprovalID] = standingRev{operator: p.OperatorID, at: at.UnixMilli(), until: p.Until}
				standingOrder = append(standingOrder, p.ApprovalID)
			}
		case "root.removed", "root.added":
			if p.PublicKey == "" {
				return
			}
			if _, seen := rootRemoved[p.PublicKey]; !seen {
				rootOrder = append(rootOrder, p.PublicKey)
			}
			rootRemoved[p.PublicKey] = e.EventType == "root.removed"
		case "apikey.deleted", "apikey.created":
			if p.ID == "" {
				return
			}
			if _, seen := keyDeleted[p.ID]; !seen {
				keyOrder = append(keyOrder, p.ID)
			}
			keyDeleted[p.ID] = e.EventType == "apikey.deleted"
		case "agent.circuit.opened", "agent.circuit.closed":
			id := p.AgentID
			if id == "" {
				id = e.AgentID
			}
			if id == "" {
				return
			}
			if _, seen := circuits[id]; !seen {
				circuitOrder = append(circuitOrder, id)
			}
			circuits[id] = lastCircuit{open: e.EventType == "agent.circuit.opened", cause: p.Cause, at: at}
		}
	})
	if err != nil {
		return res, err
	}
	if len(revoked) > 0 {
		have, err := st.RevokedTokens(ctx)
		if err != nil {
			return res, fmt.Errorf("list revocations: %w", err)
		}
		slices.Sort(have)
		for _, id := range revoked {
			if _, ok := slices.BinarySearch(have, id); ok {
				continue
			}
			if _, err := st.RevokeToken(ctx, id, revokedAt[id]); err != nil && !errors.Is(err, store.ErrNotFound) {
				return res, fmt.Errorf("re-apply the revocation of token %s: %w", id, err)
			}
			res.Repaired++
		}
	}
	if len(rootOrder) > 0 {
		have, err := st.ListRoots(ctx)
		if err != nil {
			return res, fmt.Errorf("list trust roots: %w", err)
		}
		for _, pub := range rootOrder {
			if !rootRemoved[pub] || !slices.ContainsFunc(have, func(r store.Root) bool { return r.PublicKey == pub }) {
				continue
			}
			if err := st.DeleteRoot(ctx, pub); err != nil && !errors.Is(err, store.ErrNotFound) {
				return res, fmt.Errorf("re-apply the removal of trust root %s: %w", pub, err)
			}
			res.Repaired++
		}
	}
	for _, id := range keyOrder {
		if !keyDeleted[id] {
			continue
		}
		if _, err := st.GetAPIKey(ctx, id); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return res, fmt.Errorf("read API key %s: %w", id, err)
		}
		if err := st.DeleteAPIKey(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return res, fmt.Errorf("re-apply the deletion of API key %s: %w", id, err)
		}
		res.Repaired++
	}
	// A standing approval is taken as lapsed by the earlier of the clock
	// and the newest time the ledger recorded, never by the clock alone: a
	// clock far ahead at start (a wrong RTC, an NTP step) would skip a
	// revocation, the cursor would move past it, and once the clock was
	// corrected the revoked approval would cover again.
	lapsedBy := now
	if recorded.Before(lapsedBy) {
		lapsedBy = recorded
	}
	for _, id := range standingOrder {
		r := standing[id]
		if r.until > 0 && r.until <= lapsedBy.UnixMilli() {
			continue // lapsed: it could not cover anything any more
		}
		wrote, err := approvals.RepairStandingRevocation(ctx, st, id, r.operator, r.at)
		if err != nil {
			return res, fmt.Errorf("re-apply the revocation of standing approval %s: %w", id, err)
		}
		if wrote {
			res.Repaired++
		}
	}
	for _, id := range circuitOrder {
		c := circuits[id]
		if !c.open {
			continue
		}
		a, err := st.GetAgent(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			a, err = store.Agent{AgentID: id, RegisteredAt: c.at.UnixMilli()}, nil
		}
		if err != nil {
			return res, fmt.Errorf("read agent %s: %w", id, err)
		}
		if a.CircuitOpen {
			continue
		}
		if c.cause == "" {
			c.cause = "recorded in the ledger"
		}
		a.CircuitOpen, a.CircuitCause, a.CircuitSince = true, c.cause, c.at.UnixMilli()
		if err := st.PutAgent(ctx, a); err != nil {
			return res, fmt.Errorf("re-open the circuit of agent %s: %w", id, err)
		}
		res.Repaired++
	}
	return res, nil
}

// changeEntries calls fn for every entry of reconcileTypes with a sequence
// number in (after, size], in order: through the ledger's type index when
// it has one, else by reading the entries.
func changeEntries(ctx context.Context, lg ledger.Store, after, size uint64, fn func(ledger.Entry)) error {
	if te, ok := lg.(typedEntries); ok {
		for after < size {
			es, err := te.EntriesOfTypes(ctx, indexedReconcileTypes, after, ledger.MaxListLimit)
			if err != nil {
				return fmt.Errorf("read the ledger's revocations: %w", err)
			}
			for _, e := range es {
				if e.SequenceNumber > size {
					return nil
				}
				fn(e)
				after = e.SequenceNumber
			}
			if len(es) < ledger.MaxListLimit {
				return nil
			}
		}
		return nil
	}
	// Read the stored lines (no decoding) and decode only those that
	// name a reconciled type: a full decode of every entry cost ≈ 20 µs
	// per entry, the byte test a fraction of that.
	if after >= size {
		return nil
	}
	// In an entry's canonical JSON the first `"eventType":"` is its own
	// member (keys are sorted and come before "payload"; inside a string
	// the quotes would be escaped).
	key := []byte(`"eventType":"`)
	var derr error
	w := &lineWriter{fn: func(line []byte) error {
		i := bytes.Index(line, key)
		if i < 0 {
			return nil
		}
		rest, match := line[i+len(key):], false
		for _, t := range reconcileTypes {
			if len(rest) > len(t) && rest[len(t)] == '"' && string(rest[:len(t)]) == t {
				match = true
				break
			}
		}
		if !match {
			return nil
		}
		e, err := ledger.DecodeEntry(line)
		if err != nil {
			derr = fmt.Errorf("decode a ledger entry: %w", err)
			return derr
		}
		if slices.Contains(reconcileTypes, e.EventType) { // not a payload's look-alike
			fn(e)
		}
		return nil
	}}
	if err := lg.Export(ctx, w, after+1, size, nil); err != nil {
		if derr != nil {
			return derr
		}
		return fmt.Errorf("read the ledger's revocations: %w", err)
	}
	return nil
}

// lineWriter calls fn with each newline-terminated line written to it (an
// NDJSON export of the ledger).
type lineWriter struct {
	buf []byte
	fn  func(line []byte) error
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			break
		}
		line := p[:i]
		if len(w.buf) > 0 {
			w.buf = append(w.buf, line...)
			line = w.buf
		}
		if err := w.fn(line); err != nil {
			return 0, err
		}
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// readReconciled reads the store's reconciliation cursor: 0 (read
// everything) when there is none, it cannot be read, it lies past the
// ledger's end or the ledger's tree hash at its position differs from the
// one recorded with it.
func readReconciled(ctx context.Context, m storeMarks, lg ledger.Store) uint64 {
	if m == nil {
		return 0
	}
	v, err := m.Mark(ctx, reconcileMark)
	if err != nil || len(v) != 8+len(tlog.Hash{}) {
		return 0
	}
	through := binary.BigEndian.Uint64(v)
	size, err := lg.Size(ctx)
	if err != nil || through > size {
		return 0
	}
	h, err := lg.TreeHash(ctx, through)
	if err != nil || !bytes.Equal(h[:], v[8:]) {
		return 0
	}
	return through
}

// writeReconciled durably records in the store that it holds every
// revocation-like change up to ledger size through (with the ledger's tree
// hash at that size). A cursor that claims more than the store holds would
// skip a revocation at the next start, so it is written only after the
// changes it covers are.
func writeReconciled(ctx context.Context, m storeMarks, lg ledger.Store, through uint64) error {
	if m == nil {
		return nil
	}
	h, err := lg.TreeHash(ctx, through)
	if err != nil {
		return fmt.Errorf("tree hash at %d: %w", through, err)
	}
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(h)), through)
	return m.PutMark(ctx, reconcileMark, append(v, h[:]...))
}

// reconcileAtStart re-applies the ledger's revocation-like changes to the
// store before anything is loaded from it, and refuses to start when it
// cannot (fail closed). A shared ledger (PostgreSQL) is read from its
// start through its type index: other replicas append and write the store
// too, so no one replica's cursor covers it. An embedded gateway reads
// from its data dir's cursor, and reconciles again at a clean shutdown so
// that the next start reads only what was appended after it.
func reconcileAtStart(ctx context.Context, g *Gateway, o Options, be *Backend) error {
	var after uint64
	g.marks = be.Marks
	if !g.sharedLedger {
		after = readReconciled(ctx, be.Marks, be.Ledger)
		_ = os.Remove(filepath.Join(o.DataDir, legacyReconcileFile))
	}
	start := time.Now()
	res, err := reconcileStore(ctx, be.Store, be.Ledger, after, o.Clock())
	if err != nil {
		return fmt.Errorf("re-apply the ledger's revocations to the store: %w", err)
	}
	o.Log.Info("ledger revocations re-applied to the store", "from", after, "through", res.Through, "read", res.Read,
		"repaired", res.Repaired, "took", time.Since(start).String())
	if res.Repaired > 0 {
		o.Log.Warn("the store lacked revocation-like changes the ledger holds; re-applied", "repaired", res.Repaired)
	}
	if g.sharedLedger {
		return nil
	}
	if err := writeReconciled(ctx, be.Marks, be.Ledger, res.Through); err != nil {
		return fmt.Errorf("record the store's reconciliation: %w", err)
	}
	st, lg, marks, clock, log := be.Store, be.Ledger, be.Marks, o.Clock, o.Log
	var mu sync.Mutex // one pass and one cursor write at a time
	g.background = append(g.background, func(ctx context.Context) {
		t := time.NewTicker(reconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				mu.Lock()
				advanceReconciled(ctx, st, lg, marks, clock(), log)
				mu.Unlock()
			}
		}
	})
	g.closers = append(g.closers, func() error {
		mu.Lock()
		defer mu.Unlock()
		// Clean shutdown: the server has stopped, nothing changes the
		// store any more. A failure only costs a longer read at the next
		// start (the cursor stays where it was).
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := reconcileStore(sctx, st, lg, readReconciled(sctx, marks, lg), clock())
		if err == nil {
			err = writeReconciled(sctx, marks, lg, res.Through)
		}
		if err != nil {
			log.Warn("shutdown: ledger revocations not re-applied to the store (the next start reads them again)", "err", err)
		}
		return nil
	})
	return nil
}

// reconcileEvery is how often a running embedded gateway moves its
// reconciliation cursor forward (a variable for tests).
var reconcileEvery = 10 * time.Second

// advanceReconciled moves a running embedded gateway's cursor to the
// ledger's end when the store holds every revocation-like change appended
// since the cursor. Without it the cursor moved only at a clean shutdown,
// so a gateway that crashed after a day at 1,000 decisions/s re-read 86
// million entries (about a minute and a half) before it was ready.
//
// A standing revocation the store lacks is written (its store write
// failed; it is already in force in memory and in the ledger, and the
// write only records it), so one failed write cannot pin the cursor and
// make every later pass read more. Token revocations are written to the
// store first and circuits are retried by circuitPersister, so those are
// only checked: a pass that saw a circuit's open before its close was
// appended must not re-open it. A change still missing leaves the cursor
// where it is, and the next start re-applies it.
func advanceReconciled(ctx context.Context, st store.Store, lg ledger.Store, marks storeMarks, now time.Time, log *slog.Logger) {
	after := readReconciled(ctx, marks, lg)
	res, err := reconcileStore(ctx, &runningStore{Store: st}, lg, after, now)
	if err != nil || res.Repaired > 0 || res.Through <= after {
		if err != nil {
			log.Warn("reconciliation cursor not moved", "err", err)
		}
		return
	}
	if err := writeReconciled(ctx, marks, lg, res.Through); err != nil {
		log.Warn("reconciliation cursor not moved", "err", err)
	}
}

// runningStore is the store as a running gateway's reconciliation sees it:
// standing revocations are written through, the other writes are answered
// without being made, so reconcileStore counts them in Repaired (the store
// lacks them) and the cursor stays.
type runningStore struct{ store.Store }

func (d *runningStore) RevokeToken(context.Context, string, time.Time) ([]string, error) {
	return nil, nil
}

func (d *runningStore) PutAgent(context.Context, store.Agent) error { return nil }

func (d *runningStore) DeleteRoot(context.Context, string) error { return nil }

func (d *runningStore) DeleteAPIKey(context.Context, string) error { return nil }
