package pgledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// pageSize is how many rows Verify and Export read per query.
const pageSize = 5000

func (s *Store) open() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ledger.ErrClosed
	}
	return nil
}

func decodeRow(seq int64, entry []byte) (ledger.Entry, error) {
	e, err := ledger.DecodeEntry(entry)
	if err != nil {
		return ledger.Entry{}, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: sequence %d is unreadable", seq), err)
	}
	return e, nil
}

func (s *Store) one(ctx context.Context, sql string, args ...any) (ledger.Entry, error) {
	if err := s.open(); err != nil {
		return ledger.Entry{}, err
	}
	var seq int64
	var entry []byte
	err := s.pool.QueryRow(ctx, sql, args...).Scan(&seq, &entry)
	if errors.Is(err, pgx.ErrNoRows) {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	if err != nil {
		return ledger.Entry{}, unavailable("read", err)
	}
	return decodeRow(seq, entry)
}

// Size implements ledger.Store.
func (s *Store) Size(ctx context.Context) (uint64, error) {
	if err := s.open(); err != nil {
		return 0, err
	}
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM sint_ledger_entries`).Scan(&n); err != nil {
		return 0, unavailable("size", err)
	}
	return uint64(n), nil
}

// Head implements ledger.Store.
func (s *Store) Head(ctx context.Context) (ledger.Entry, error) {
	return s.one(ctx, `SELECT seq, entry FROM sint_ledger_entries ORDER BY seq DESC LIMIT 1`)
}

// Get implements ledger.Store.
func (s *Store) Get(ctx context.Context, seq uint64) (ledger.Entry, error) {
	if seq < 1 || seq > ledger.MaxSequence {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	e, err := s.one(ctx, `SELECT seq, entry FROM sint_ledger_entries WHERE seq = $1`, int64(seq))
	if errors.Is(err, ledger.ErrNotFound) {
		return s.getArchived(ctx, seq)
	}
	return e, err
}

// GetByEventID implements ledger.Store.
func (s *Store) GetByEventID(ctx context.Context, eventID string) (ledger.Entry, error) {
	u, err := uuid.Parse(eventID)
	if err != nil || u.String() != eventID {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	e, err := s.one(ctx, `SELECT seq, entry FROM sint_ledger_entries WHERE event_id = $1`, u)
	if !errors.Is(err, ledger.ErrNotFound) {
		return e, err
	}
	seq, err := s.archivedSeq(ctx, u)
	if err != nil {
		return ledger.Entry{}, err
	}
	e, err = s.getArchived(ctx, seq)
	if err == nil && e.EventID != eventID {
		return ledger.Entry{}, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: archived entry %d is not event %s", seq, eventID))
	}
	return e, err
}

// LastOfType implements ledger.Store.
func (s *Store) LastOfType(ctx context.Context, eventType string) (ledger.Entry, error) {
	e, err := s.one(ctx, `SELECT seq, entry FROM sint_ledger_entries WHERE event_type = $1 ORDER BY seq DESC LIMIT 1`, eventType)
	if !errors.Is(err, ledger.ErrNotFound) {
		return e, err
	}
	// Rows removed by Archive sit below every live row of their type:
	// none live means none at all only for a retained type.
	st, serr := s.archiveState(ctx)
	if serr != nil {
		return ledger.Entry{}, serr
	}
	if st.purgedTo > 0 && !st.retained[eventType] {
		return ledger.Entry{}, belowBoundary("the last "+eventType+" entry", st)
	}
	return e, err
}

// List implements ledger.Store. Below the archive boundary an unfiltered
// page comes from the archive, and a filtered one only when its type is
// retained (else LEDGER_UNAVAILABLE).
func (s *Store) List(ctx context.Context, q ledger.ListQuery) ([]ledger.Entry, *uint64, error) {
	if err := s.open(); err != nil {
		return nil, nil, err
	}
	limit := q.EffectiveLimit()
	if q.After > ledger.MaxSequence {
		return nil, nil, nil
	}
	out, err := s.listLive(ctx, q, limit)
	if err != nil {
		return nil, nil, err
	}
	// The boundary is read after the rows: a removal that committed
	// before the query is seen.
	st, err := s.archiveState(ctx)
	if err != nil {
		return nil, nil, err
	}
	if q.After < st.purgedTo {
		switch {
		case q.EventType == "" && q.AgentID == "":
			if out, err = s.listArchived(ctx, st, q, limit); err != nil {
				return nil, nil, err
			}
		case q.AgentID != "" || !st.retained[q.EventType]:
			return nil, nil, belowBoundary("a filtered listing", st)
		}
	}
	if len(out) > limit {
		out = out[:limit]
		next := out[limit-1].SequenceNumber
		return out, &next, nil
	}
	return out, nil, nil
}

// listArchived is an unfiltered List page that starts below the boundary:
// archived entries (checked) up to purgedTo, then live rows. If the
// boundary moved while the live rows were read, the page is read again.
func (s *Store) listArchived(ctx context.Context, st *archState, q ledger.ListQuery, limit int) ([]ledger.Entry, error) {
	for {
		out, err := s.archivedEntries(ctx, st, q.After+1, min(st.purgedTo, q.After+uint64(limit)+1))
		if err != nil || len(out) > limit {
			return out, err
		}
		rest, err := s.listLive(ctx, ledger.ListQuery{After: st.purgedTo}, limit-len(out))
		if err != nil {
			return nil, err
		}
		now, err := s.archiveState(ctx)
		if err != nil {
			return nil, err
		}
		if now.purgedTo == st.purgedTo {
			return append(out, rest...), nil
		}
		st = now
	}
}

// listLive reads up to limit+1 rows past q.After matching q.
func (s *Store) listLive(ctx context.Context, q ledger.ListQuery, limit int) ([]ledger.Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, entry FROM sint_ledger_entries
		WHERE seq > $1 AND ($2 = '' OR event_type = $2) AND ($3 = '' OR agent_id = $3)
		ORDER BY seq LIMIT $4`, int64(q.After), q.EventType, q.AgentID, limit+1)
	if err != nil {
		return nil, unavailable("list", err)
	}
	defer rows.Close()
	var out []ledger.Entry
	for rows.Next() {
		var seq int64
		var entry []byte
		if err := rows.Scan(&seq, &entry); err != nil {
			return nil, unavailable("list", err)
		}
		e, err := decodeRow(seq, entry)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("list", err)
	}
	return out, nil
}

// reader reads committed stored hashes of a tree of n entries.
type reader struct {
	s   *Store
	ctx context.Context
	n   int64
}

func (r reader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	limit := tlog.StoredHashCount(r.n)
	for _, x := range idx {
		if x < 0 || x >= limit {
			return nil, fmt.Errorf("pgledger: stored hash %d outside tree %d", x, r.n)
		}
	}
	return r.s.readStored(r.ctx, r.s.pool, idx)
}

func (s *Store) sized(ctx context.Context, need uint64) (reader, error) {
	n, err := s.Size(ctx)
	if err != nil {
		return reader{}, err
	}
	if need > n {
		return reader{}, ledger.ErrBadRange
	}
	return reader{s, ctx, int64(n)}, nil
}

// TreeHash implements ledger.Store.
func (s *Store) TreeHash(ctx context.Context, size uint64) (tlog.Hash, error) {
	r, err := s.sized(ctx, size)
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.TreeHash(int64(size), r)
}

// InclusionProof implements ledger.Store.
func (s *Store) InclusionProof(ctx context.Context, index, treeSize uint64) ([]tlog.Hash, error) {
	if index >= treeSize {
		return nil, ledger.ErrBadRange
	}
	r, err := s.sized(ctx, treeSize)
	if err != nil {
		return nil, err
	}
	return tlog.ProveRecord(int64(treeSize), int64(index), r)
}

// ConsistencyProof implements ledger.Store.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([]tlog.Hash, error) {
	if from < 1 || from > to {
		return nil, ledger.ErrBadRange
	}
	r, err := s.sized(ctx, to)
	if err != nil {
		return nil, err
	}
	return tlog.ProveTree(int64(to), int64(from), r)
}

type row struct {
	seq   int64
	hash  []byte
	entry []byte
}

// pages calls f for every row with from ≤ seq ≤ to, in order, pageSize rows
// per query (constant memory). Rows removed by Archive come from the
// archive (unchecked: the callers check them).
func (s *Store) pages(ctx context.Context, from, to uint64, f func(rows []row) (bool, error)) error {
	next := int64(from)
	buf := make([]row, 0, pageSize)
	st, err := s.archiveState(ctx)
	if err != nil {
		return err
	}
	for next <= int64(to) {
		if uint64(next) <= st.purgedTo {
			rows, err := archivedRows(st, uint64(next), min(to, st.purgedTo, uint64(next)+pageSize-1))
			if err != nil {
				return err
			}
			more, err := f(rows)
			if err != nil || !more {
				return err
			}
			next = rows[len(rows)-1].seq + 1
			continue
		}
		rows, err := s.pool.Query(ctx, `SELECT seq, hash, entry FROM sint_ledger_entries
			WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3`, next, int64(to), pageSize)
		if err != nil {
			return unavailable("read", err)
		}
		buf = buf[:0]
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.hash, &r.entry); err != nil {
				rows.Close()
				return unavailable("read", err)
			}
			buf = append(buf, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return unavailable("read", err)
		}
		if len(buf) == 0 || buf[len(buf)-1].seq-buf[0].seq != int64(len(buf)-1) || buf[0].seq != next {
			// Removed meanwhile (only a retained row left at next)? The
			// boundary read after the query says.
			if st, err = s.archiveState(ctx); err != nil {
				return err
			}
			if uint64(next) <= st.purgedTo {
				continue
			}
		}
		if len(buf) == 0 {
			return nil
		}
		more, err := f(buf)
		if err != nil || !more {
			return err
		}
		next = buf[len(buf)-1].seq + 1
	}
	return nil
}

func clampRange(from, to, n uint64) (uint64, uint64) {
	if from == 0 {
		from = 1
	}
	if to == 0 || to > n {
		to = n
	}
	return from, to
}

// Verify implements ledger.Store: gap-free sequences, each row's JSON, hash
// and chain link, the hash column, each stored leaf hash and (from 1) the
// tree root.
func (s *Store) Verify(ctx context.Context, from, to uint64) (ledger.VerifyResult, error) {
	n, err := s.Size(ctx)
	if err != nil {
		return ledger.VerifyResult{}, err
	}
	from, to = clampRange(from, to, n)
	res := ledger.VerifyResult{Valid: true}
	if n == 0 || from > to {
		return res, nil
	}
	prev := ledger.ZeroHash
	if from > 1 {
		e, err := s.Get(ctx, from-1)
		if err != nil {
			if errors.Is(err, ledger.ErrNotFound) {
				seq := from - 1
				res.Valid, res.FirstBadSequence, res.Reason = false, &seq, "entry missing"
				return res, nil
			}
			return res, err
		}
		prev = e.Hash
	}
	cv := ledger.NewChainVerifier(from, prev)
	hr := reader{s, ctx, int64(n)}
	expect := from
	bad := func(seq uint64, reason string) (bool, error) {
		res.Valid, res.FirstBadSequence, res.Reason = false, &seq, reason
		return false, nil
	}
	err = s.pages(ctx, from, to, func(rows []row) (bool, error) {
		idx := make([]int64, len(rows))
		for i, r := range rows {
			idx[i] = tlog.StoredHashIndex(0, r.seq-1)
		}
		leaves, err := hr.ReadHashes(idx)
		if err != nil {
			return false, err
		}
		for i, r := range rows {
			if uint64(r.seq) != expect {
				return bad(expect, "entry missing")
			}
			expect++
			e, err := ledger.DecodeEntry(r.entry)
			if err != nil {
				return bad(uint64(r.seq), err.Error())
			}
			if err := cv.Add(&e); err != nil {
				return bad(uint64(r.seq), err.Error())
			}
			if hex.EncodeToString(r.hash) != e.Hash {
				return bad(uint64(r.seq), "hash column differs from the entry")
			}
			raw, _ := ledger.RawHash(e.Hash)
			if leaves[i] != ledger.LeafHash(raw) {
				return bad(uint64(r.seq), "stored leaf hash differs")
			}
			res.Checked++
		}
		return true, nil
	})
	if err != nil {
		return ledger.VerifyResult{}, err
	}
	if res.Valid && expect <= to {
		bad(expect, "entry missing")
	}
	if res.Valid {
		if root, ok := cv.Root(); ok {
			th, err := tlog.TreeHash(int64(to), hr)
			if err != nil {
				return ledger.VerifyResult{}, err
			}
			if th != root {
				bad(to, "stored tree hashes do not match the entries")
			}
		}
	}
	return res, nil
}

// Export implements ledger.Store: the stored canonical bytes, one per line.
func (s *Store) Export(ctx context.Context, w io.Writer, from, to uint64, progress func(done, total uint64)) error {
	n, err := s.Size(ctx)
	if err != nil {
		return err
	}
	from, to = clampRange(from, to, n)
	if from > to {
		return nil
	}
	total := to - from + 1
	bw := bufio.NewWriterSize(w, 256<<10)
	var done uint64
	err = s.pages(ctx, from, to, func(rows []row) (bool, error) {
		for _, r := range rows {
			if _, err := bw.Write(r.entry); err != nil {
				return false, err
			}
			if err := bw.WriteByte('\n'); err != nil {
				return false, err
			}
		}
		done += uint64(len(rows))
		if progress != nil {
			progress(done, total)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// ActiveTrips returns the fleet's active trip ids kept by the chain (trip
// entries with a tripId no reset entry has acknowledged, see migration
// 003), oldest first. While it is not empty every guarded append is
// refused.
func (s *Store) ActiveTrips(ctx context.Context) ([]string, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT trip_id FROM sint_ledger_estop_active ORDER BY seq, trip_id`)
	if err != nil {
		return nil, unavailable("read active trips", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, unavailable("read active trips", err)
	}
	return ids, nil
}

// EntriesOfTypes returns up to limit entries of the given event types with
// a sequence number greater than after, in sequence order. Entries become
// visible in sequence order (appends are serialised until COMMIT), so a
// reader that advances after to the last entry it got misses none.
func (s *Store) EntriesOfTypes(ctx context.Context, types []string, after uint64, limit int) ([]ledger.Entry, error) {
	if err := s.open(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, entry FROM sint_ledger_entries
		WHERE event_type = ANY($1) AND seq > $2 ORDER BY seq LIMIT $3`, types, int64(after), limit)
	if err != nil {
		return nil, unavailable("read entries by type", err)
	}
	defer rows.Close()
	var out []ledger.Entry
	for rows.Next() {
		var seq int64
		var b []byte
		if err := rows.Scan(&seq, &b); err != nil {
			return nil, unavailable("read entries by type", err)
		}
		e, err := decodeRow(seq, b)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read entries by type", err)
	}
	st, err := s.archiveState(ctx)
	if err != nil {
		return nil, err
	}
	if after < st.purgedTo {
		for _, t := range types {
			if !st.retained[t] {
				return nil, belowBoundary("a read of "+t+" entries", st)
			}
		}
	}
	return out, nil
}
