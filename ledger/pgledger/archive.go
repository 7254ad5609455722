package pgledger

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/tlogarchive"
)

// Archive (retention, migration 004). Sealed entries — whole bundles of 256
// covered by the latest signed checkpoint, never the head — are written to
// an archive directory in the tlog-tiles layout the embedded store uses
// (package tlogarchive), checked against the stored tree, recorded as the
// boundary row of sint_ledger_archive, and only then their rows are removed
// from sint_ledger_entries in bounded batches. sint_ledger_tree is kept
// whole (proofs and checkpoints need no archive), the removed rows' event
// ids stay in sint_ledger_archived_ids (duplicates are still refused) and
// the rows of RetainedTypes stay (the gateway reads them by type from the
// chain's start). Reads of removed entries come from the archive, each
// checked against its stored leaf hash; a read the archive cannot answer
// (no directory, a missing or altered bundle, a type-filtered listing below
// the boundary) is a LEDGER_UNAVAILABLE error, never a shorter answer.

// RetainedTypes are the event types whose rows Archive keeps in
// sint_ledger_entries: what the gateway reads by type from the start of the
// chain (the revocations and circuits it re-applies at start, the changes
// replicas catch up on, the fleet e-stop, checkpoints).
var RetainedTypes = []string{
	"agent.circuit.closed", "agent.circuit.opened", "apikey.created", "apikey.deleted", "approval.granted",
	"approval.standing.revoked", ledger.EventTypeCheckpoint, "root.added", "root.removed", "safety.estop.reset",
	"safety.estop.tripped", "token.revoked",
}

// purgeBatch is how many sequence numbers one removal transaction covers.
var purgeBatch uint64 = 20000

// archState is the boundary row as this process last read it.
type archState struct {
	upTo, purgedTo uint64
	location       string // where the archiver wrote
	dir            string // where this process reads (Options.ArchiveDir or location)
	retained       map[string]bool
}

// archiveState reads the boundary row.
func (s *Store) archiveState(ctx context.Context) (*archState, error) {
	var upTo, purged int64
	var loc string
	var types []string
	err := s.pool.QueryRow(ctx, `SELECT up_to, purged_to, location, retained_types FROM sint_ledger_archive`).
		Scan(&upTo, &purged, &loc, &types)
	if errors.Is(err, pgx.ErrNoRows) {
		return &archState{}, nil
	}
	if err != nil {
		return nil, unavailable("read the archive boundary", err)
	}
	st := &archState{upTo: uint64(upTo), purgedTo: uint64(purged), location: loc, dir: loc, retained: map[string]bool{}}
	if s.opts.ArchiveDir != "" {
		st.dir = s.opts.ArchiveDir
	}
	for _, t := range types {
		st.retained[t] = true
	}
	return st, nil
}

// archivedLine reads the canonical line of archived entry seq.
func archivedLine(st *archState, seq uint64) ([]byte, error) {
	if st.dir == "" {
		return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: entry %d is archived and no archive directory is configured", seq))
	}
	lines, err := tlogarchive.ReadBundle(st.dir, (seq-1)/tlogarchive.BundleSize)
	if err != nil {
		return nil, err
	}
	return lines[(seq-1)%tlogarchive.BundleSize], nil
}

// archivedEntry reads archived entry seq and checks it against its stored
// leaf hash: an altered archive is an error, not an answer.
func (s *Store) archivedEntry(ctx context.Context, st *archState, seq uint64) (ledger.Entry, error) {
	es, err := s.archivedEntries(ctx, st, seq, seq)
	if err != nil {
		return ledger.Entry{}, err
	}
	return es[0], nil
}

// archivedEntries reads archived entries from..to, each checked against
// its hash and its stored leaf hash.
func (s *Store) archivedEntries(ctx context.Context, st *archState, from, to uint64) ([]ledger.Entry, error) {
	rows, err := archivedRows(st, from, to)
	if err != nil {
		return nil, err
	}
	idx := make([]int64, len(rows))
	for i, r := range rows {
		idx[i] = tlog.StoredHashIndex(0, r.seq-1)
	}
	leaves, err := s.readStored(ctx, s.pool, idx)
	if err != nil {
		return nil, err
	}
	out := make([]ledger.Entry, len(rows))
	for i, r := range rows {
		e, err := decodeRow(r.seq, r.entry)
		if err != nil {
			return nil, err
		}
		raw, rerr := ledger.RawHash(e.Hash)
		h, herr := ledger.HashEntry(&e)
		if e.SequenceNumber != uint64(r.seq) || rerr != nil || herr != nil || h != e.Hash || leaves[i] != ledger.LeafHash(raw) {
			return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: archived entry %d does not match the stored tree", r.seq))
		}
		out[i] = e
	}
	return out, nil
}

// getArchived answers a read of seq that found no row: from the archive
// when seq is archived (the boundary is read after the miss, so a removal
// that committed before it is seen), else ErrNotFound.
func (s *Store) getArchived(ctx context.Context, seq uint64) (ledger.Entry, error) {
	st, err := s.archiveState(ctx)
	if err != nil {
		return ledger.Entry{}, err
	}
	if seq > st.purgedTo {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	return s.archivedEntry(ctx, st, seq)
}

// archivedRows returns the rows from..to (all ≤ st.upTo) from the archive,
// unchecked: Verify checks them, Export's reader does. Each bundle is read
// once.
func archivedRows(st *archState, from, to uint64) ([]row, error) {
	if st.dir == "" {
		return nil, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: entry %d is archived and no archive directory is configured", from))
	}
	out := make([]row, 0, to-from+1)
	var lines [][]byte
	bundle := ^uint64(0)
	for seq := from; seq <= to; seq++ {
		if n := (seq - 1) / tlogarchive.BundleSize; n != bundle {
			var err error
			if lines, err = tlogarchive.ReadBundle(st.dir, n); err != nil {
				return nil, err
			}
			bundle = n
		}
		line := lines[(seq-1)%tlogarchive.BundleSize]
		var h struct {
			Hash string `json:"hash"`
		}
		r := row{seq: int64(seq), entry: line}
		if json.Unmarshal(line, &h) == nil {
			r.hash, _ = hex.DecodeString(h.Hash)
		}
		out = append(out, r)
	}
	return out, nil
}

// belowBoundary is the error of a by-type read that the rows left in
// PostgreSQL cannot answer completely.
func belowBoundary(what string, st *archState) error {
	return codes.New(codes.LedgerUnavailable, fmt.Sprintf(
		"ledger: %s reaches below the archive boundary (entries 1..%d are in the archive at %s): read them with an unfiltered listing or from the archive",
		what, st.purgedTo, st.location))
}

// ArchiveReport says what Archive did.
type ArchiveReport struct {
	UpTo     uint64 // entries 1..UpTo are archived (the boundary row)
	PurgedTo uint64 // rows up to PurgedTo are removed (except RetainedTypes)
	Bundles  int    // entry bundles written by this call
	Tiles    int    // hash tiles written by this call
	Removed  int64  // rows removed by this call
}

// Archive moves the sealed entries up to upTo (rounded down to whole
// bundles of 256, to the latest checkpoint, and below the head) to the
// archive directory dir and removes their rows. It must run as the owner
// of the ledger tables (the gateway role cannot delete); gateways keep
// running meanwhile. Order, each step durable before the next:
//
//  1. the entries are checked (chain from the last archived entry, hash
//     column, stored leaf hashes) and the latest checkpoint against the
//     stored tree; a range that does not verify is not archived;
//  2. bundles, hash tiles and the checkpoint are written (immutable files,
//     synced) and read back: every line against its stored leaf hash and
//     the chain, the tiles against the stored tree hash;
//  3. the boundary row is recorded (readers then read those entries from
//     the archive when their rows are gone);
//  4. rows are removed in batches of purgeBatch sequence numbers, each in
//     one transaction with the recording of its event ids and the new
//     purged_to.
//
// An interruption at any point leaves a ledger that verifies; running
// Archive again completes it.
func (s *Store) Archive(ctx context.Context, dir string, upTo uint64) (ArchiveReport, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ArchiveReport{}, err
	}
	n, err := s.Size(ctx)
	if err != nil {
		return ArchiveReport{}, err
	}
	cp, err := (&ledger.Ledger{Store: s}).LatestCheckpoint(ctx)
	if err != nil {
		return ArchiveReport{}, fmt.Errorf("pgledger: archive needs a checkpoint: %w", err)
	}
	if th, err := s.TreeHash(ctx, cp.TreeSize); err != nil || hex.EncodeToString(th[:]) != cp.RootHash {
		return ArchiveReport{}, fmt.Errorf("pgledger: not archived: the latest checkpoint (size %d) does not match the stored tree (%v)", cp.TreeSize, err)
	}
	st, err := s.archiveState(ctx)
	if err != nil {
		return ArchiveReport{}, err
	}
	if st.upTo > 0 && st.location != dir {
		return ArchiveReport{}, fmt.Errorf("pgledger: the ledger is archived to %s", st.location)
	}
	upTo = min(upTo, cp.TreeSize, n-min(n, 2))
	upTo -= upTo % tlogarchive.BundleSize
	rep := ArchiveReport{UpTo: st.upTo, PurgedTo: st.purgedTo}
	if upTo > st.upTo {
		if err := s.writeArchive(ctx, dir, st, upTo, n, &rep); err != nil {
			return rep, err
		}
		if err := s.hook("written"); err != nil {
			return rep, err
		}
		if err := s.checkArchive(ctx, dir, st.upTo, upTo); err != nil {
			return rep, err
		}
		if err := s.hook("checked"); err != nil {
			return rep, err
		}
		if _, err := s.pool.Exec(ctx, `INSERT INTO sint_ledger_archive (up_to, location, retained_types, checkpoint)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (one) DO UPDATE SET up_to = EXCLUDED.up_to, checkpoint = EXCLUDED.checkpoint, updated_at = now()`,
			int64(upTo), dir, RetainedTypes, cp.Note); err != nil {
			return rep, unavailable("record the archive boundary", err)
		}
		rep.UpTo = upTo
		if err := s.hook("recorded"); err != nil {
			return rep, err
		}
		if st, err = s.archiveState(ctx); err != nil {
			return rep, err
		}
	}
	types := make([]string, 0, len(st.retained))
	for t := range st.retained {
		types = append(types, t)
	}
	slices.Sort(types)
	for lo := st.purgedTo; lo < st.upTo; {
		hi := min(lo+purgeBatch, st.upTo)
		var removed int64
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO sint_ledger_archived_ids (event_id, seq)
				SELECT event_id, seq FROM sint_ledger_entries
				WHERE seq > $1 AND seq <= $2 AND NOT event_type = ANY ($3)
				ON CONFLICT (event_id) DO NOTHING`, int64(lo), int64(hi), types); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `DELETE FROM sint_ledger_entries
				WHERE seq > $1 AND seq <= $2 AND NOT event_type = ANY ($3)`, int64(lo), int64(hi), types)
			if err != nil {
				return err
			}
			removed = tag.RowsAffected()
			_, err = tx.Exec(ctx, `UPDATE sint_ledger_archive SET purged_to = $1, updated_at = now()`, int64(hi))
			return err
		})
		if err != nil {
			return rep, unavailable("remove archived rows", err)
		}
		rep.Removed += removed
		rep.PurgedTo = hi
		lo = hi
		if err := s.hook("purged"); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) hook(step string) error {
	if s.archiveHook != nil {
		return s.archiveHook(step)
	}
	return nil
}

// writeArchive writes the bundles of entries st.upTo+1..upTo from checked
// rows, the hash tiles of the tree of upTo entries and the checkpoint.
func (s *Store) writeArchive(ctx context.Context, dir string, st *archState, upTo, n uint64, rep *ArchiveReport) error {
	prev := ledger.ZeroHash
	if st.upTo > 0 {
		e, err := s.Get(ctx, st.upTo)
		if err != nil {
			return err
		}
		prev = e.Hash
	}
	cv := ledger.NewChainVerifier(st.upTo+1, prev)
	hr := reader{s, ctx, int64(n)}
	var lines [][]byte
	err := s.pages(ctx, st.upTo+1, upTo, func(rows []row) (bool, error) {
		idx := make([]int64, len(rows))
		for i, r := range rows {
			idx[i] = tlog.StoredHashIndex(0, r.seq-1)
		}
		leaves, err := hr.ReadHashes(idx)
		if err != nil {
			return false, err
		}
		for i, r := range rows {
			e, err := ledger.DecodeEntry(r.entry)
			if err == nil {
				err = cv.Add(&e)
			}
			if err == nil && hex.EncodeToString(r.hash) != e.Hash {
				err = errors.New("hash column differs from the entry")
			}
			if err == nil {
				if raw, _ := ledger.RawHash(e.Hash); leaves[i] != ledger.LeafHash(raw) {
					err = errors.New("stored leaf hash differs")
				}
			}
			if err == nil && uint64(r.seq) != st.upTo+1+uint64(len(lines))+uint64(rep.Bundles)*tlogarchive.BundleSize {
				err = errors.New("entry missing")
			}
			if err != nil {
				return false, fmt.Errorf("pgledger: not archived: entry %d does not verify: %w", r.seq, err)
			}
			lines = append(lines, r.entry)
			if len(lines) == tlogarchive.BundleSize {
				if err := tlogarchive.WriteBundle(dir, uint64(r.seq-1)/tlogarchive.BundleSize, lines); err != nil {
					return false, err
				}
				rep.Bundles++
				lines = nil
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if want := int(upTo-st.upTo) / tlogarchive.BundleSize; rep.Bundles != want {
		return fmt.Errorf("pgledger: not archived: %d of %d bundles read", rep.Bundles, want)
	}
	tiles, err := tlogarchive.WriteTiles(dir, int64(upTo), hr)
	rep.Tiles += tiles
	if err != nil {
		return err
	}
	cp, err := (&ledger.Ledger{Store: s}).LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	return tlogarchive.WriteCheckpoint(dir, cp.Note)
}

// checkArchive reads back what writeArchive wrote: every line of the new
// bundles against the chain and its stored leaf hash, and the archive's
// hash tiles against the stored tree hash of upTo entries.
func (s *Store) checkArchive(ctx context.Context, dir string, from, upTo uint64) error {
	st := &archState{dir: dir}
	prev := ledger.ZeroHash
	if from > 0 {
		line, err := archivedLine(st, from)
		if err != nil {
			return err
		}
		e, err := ledger.DecodeEntry(line)
		if err != nil {
			return err
		}
		prev = e.Hash
	}
	cv := ledger.NewChainVerifier(from+1, prev)
	n, err := s.Size(ctx)
	if err != nil {
		return err
	}
	hr := reader{s, ctx, int64(n)}
	for lo := from + 1; lo <= upTo; lo += tlogarchive.BundleSize {
		rows, err := archivedRows(st, lo, lo+tlogarchive.BundleSize-1)
		if err != nil {
			return err
		}
		idx := make([]int64, len(rows))
		for i, r := range rows {
			idx[i] = tlog.StoredHashIndex(0, r.seq-1)
		}
		leaves, err := hr.ReadHashes(idx)
		if err != nil {
			return err
		}
		for i, r := range rows {
			e, err := ledger.DecodeEntry(r.entry)
			if err == nil {
				err = cv.Add(&e)
			}
			if raw, _ := ledger.RawHash(e.Hash); err == nil && leaves[i] != ledger.LeafHash(raw) {
				err = errors.New("stored leaf hash differs")
			}
			if err != nil {
				return fmt.Errorf("pgledger: not archived: archived entry %d reads back wrong: %w", r.seq, err)
			}
		}
	}
	th, err := s.TreeHash(ctx, upTo)
	if err != nil {
		return err
	}
	thr := tlog.TileHashReader(tlog.Tree{N: int64(upTo), Hash: th}, dirTiles(dir))
	if _, err := tlog.TreeHash(int64(upTo), thr); err != nil {
		return fmt.Errorf("pgledger: not archived: the archive's hash tiles do not match the stored tree: %w", err)
	}
	return nil
}

// dirTiles reads hash tiles from an archive directory.
type dirTiles string

func (d dirTiles) Height() int { return tlogarchive.TileHeight }
func (d dirTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := os.ReadFile(filepath.Join(string(d), filepath.FromSlash(t.Path())))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// archivedSeq returns the sequence number of an archived event id, or
// ErrNotFound.
func (s *Store) archivedSeq(ctx context.Context, u uuid.UUID) (uint64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM sint_ledger_archived_ids WHERE event_id = $1`, u).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, ledger.ErrNotFound
	}
	if err != nil {
		return 0, unavailable("read archived ids", err)
	}
	return uint64(seq), nil
}
