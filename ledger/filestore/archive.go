package filestore

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/tlogarchive"
)

// Archive (retention). Sealed entries — whole bundles of 256 entries
// covered by a signed checkpoint — can be moved to an archive directory
// laid out like C2SP tlog-tiles (package tlogarchive, shared with the
// PostgreSQL store), immutable files that can be served statically.
//
// The live store keeps its derived files (stored hashes, offsets, event ids:
// ≈ 132 bytes per entry) and releases the archived frames' disk blocks
// (fallocate PUNCH_HOLE: offsets stay valid, the file keeps its size).
// Reads of archived entries (Get, GetByEventID, List, Verify, Export,
// duplicate checks) come from the bundles; proofs and checkpoints use the
// stored hashes as before. ledger.archived records how far the log is
// archived and where.
const (
	archivedName = "ledger.archived"
	bundleSize   = tlogarchive.BundleSize
	tileHeight   = tlogarchive.TileHeight
)

// archiveState is the content of ledger.archived.
type archiveState struct {
	UpTo       uint64 `json:"upTo"`       // entries 1..UpTo are in the archive
	LiveOffset int64  `json:"liveOffset"` // offset of the frame of UpTo+1
	Dir        string `json:"dir"`        // the archive directory (absolute)
}

func bundlePath(dir string, n uint64) string { return tlogarchive.BundlePath(dir, n) }

func (s *Store) loadArchive() error {
	b, err := os.ReadFile(filepath.Join(s.dir, archivedName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var a archiveState
	if err := json.Unmarshal(b, &a); err != nil || a.UpTo%bundleSize != 0 || a.LiveOffset < 0 || !filepath.IsAbs(a.Dir) {
		return fmt.Errorf("filestore: %s is damaged (%v): the archived entries cannot be located", archivedName, err)
	}
	s.arch = a
	return nil
}

// readBundle reads the canonical lines of entry bundle n.
func (s *Store) readBundle(a archiveState, n uint64) ([][]byte, error) {
	return tlogarchive.ReadBundle(a.Dir, n)
}

// archivedFrame turns the archived line of seq into a frame. Its id and
// raw hash are the entry's own fields (Verify recomputes the hash and the
// chain as for a live frame); one that cannot be parsed keeps zero fields
// and is reported by Verify when it decodes the JSON.
func archivedFrame(seq uint64, line []byte) *frame {
	fr := &frame{seq: seq, off: -1, json: line, crcOK: true}
	var h struct {
		EventID string `json:"eventId"`
		Hash    string `json:"hash"`
	}
	if json.Unmarshal(line, &h) == nil {
		if u, err := uuid.Parse(h.EventID); err == nil {
			fr.id = [16]byte(u)
		}
		fr.raw, _ = ledger.RawHash(h.Hash)
	}
	return fr
}

func (s *Store) readOne(v view, seq uint64) (*frame, error) {
	s.archMu.RLock()
	defer s.archMu.RUnlock()
	if seq <= s.arch.UpTo {
		lines, err := s.readBundle(s.arch, (seq-1)/bundleSize)
		if err != nil {
			return nil, err
		}
		return archivedFrame(seq, lines[(seq-1)%bundleSize]), nil
	}
	return s.readOneLive(v, seq)
}

// framesChunk is how many frames frames reads under one hold of archMu:
// a long reader (an export to a slow client, the background check) never
// keeps Archive waiting for more than one chunk.
const framesChunk = 4096

func (s *Store) frames(ctx context.Context, v view, from, to uint64, f func(fr *frame) (bool, error)) error {
	if from < 1 || to > v.n || from > to {
		return nil
	}
	stopped := false
	g := func(fr *frame) (bool, error) {
		more, err := f(fr)
		stopped = !more
		return more, err
	}
	for lo := from; lo <= to; {
		hi := min(to, (lo-1)/framesChunk*framesChunk+framesChunk)
		if err := s.framesHeld(ctx, v, lo, hi, g); err != nil || stopped {
			return err
		}
		lo = hi + 1
	}
	return nil
}

// framesHeld reads frames from..to with archMu held (shared): archived ones
// from the bundles, the others from the log.
func (s *Store) framesHeld(ctx context.Context, v view, from, to uint64, f func(fr *frame) (bool, error)) error {
	s.archMu.RLock()
	defer s.archMu.RUnlock()
	a := s.arch
	for seq := from; seq <= min(to, a.UpTo); {
		if err := ctx.Err(); err != nil {
			return err
		}
		lines, err := s.readBundle(a, (seq-1)/bundleSize)
		if err != nil {
			return err
		}
		for ; seq <= min(to, a.UpTo); seq++ {
			more, err := f(archivedFrame(seq, lines[(seq-1)%bundleSize]))
			if err != nil || !more {
				return err
			}
			if seq%bundleSize == 0 {
				seq++
				break
			}
		}
	}
	if to <= a.UpTo {
		return nil
	}
	return s.framesLive(ctx, v, max(from, a.UpTo+1), to, f)
}

func (s *Store) confirmID(seq uint64, id [16]byte) (bool, error) {
	s.archMu.RLock()
	defer s.archMu.RUnlock()
	return s.confirmIDNoLock(seq, id)
}

// confirmIDNoLock is confirmID for a caller that holds archMu (shared).
func (s *Store) confirmIDNoLock(seq uint64, id [16]byte) (bool, error) {
	if seq <= s.arch.UpTo {
		lines, err := s.readBundle(s.arch, (seq-1)/bundleSize)
		if err != nil {
			return false, err
		}
		return archivedFrame(seq, lines[(seq-1)%bundleSize]).id == id, nil
	}
	return s.confirmIDLive(seq, id)
}

// deriveArchived feeds the archived entries to d (a rebuild after the
// derived files were lost): their offsets are where their frames were.
func (s *Store) deriveArchived(d *deriver) error {
	var off int64
	for n := uint64(0); n < s.arch.UpTo/bundleSize; n++ {
		lines, err := s.readBundle(s.arch, n)
		if err != nil {
			return err
		}
		for i, line := range lines {
			fr := archivedFrame(n*bundleSize+uint64(i)+1, line)
			if err := d.add(off, fr.id, fr.raw); err != nil {
				return err
			}
			off += hdrSize + fixedBody + int64(len(line))
		}
	}
	if off != s.arch.LiveOffset {
		return fmt.Errorf("filestore: the archived entries end at %d, the live log starts at %d", off, s.arch.LiveOffset)
	}
	return nil
}

// ArchiveReport says what Archive did.
type ArchiveReport struct {
	UpTo       uint64 // entries 1..UpTo are archived
	Bundles    int    // entry bundles written by this call
	Tiles      int    // hash tiles written by this call
	FreedBytes int64  // log bytes whose blocks were released
}

// Archive moves the entries up to upTo (rounded down to whole bundles of
// 256, and to the latest checkpoint: only sealed entries move) into the
// archive directory dir, then releases their blocks in ledger.log. The
// entries are checked first (hash chain from the last archived entry,
// stored leaf hashes); a range that does not verify is not archived.
// Files are written to a temporary name, synced and renamed, so an
// interrupted Archive leaves the store as it was (re-running it completes
// it). The archive directory must stay where it is while the store uses it.
func (s *Store) Archive(ctx context.Context, dir string, upTo uint64) (ArchiveReport, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ArchiveReport{}, err
	}
	v, err := s.view()
	if err != nil {
		return ArchiveReport{}, err
	}
	l := &ledger.Ledger{Store: s}
	cp, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return ArchiveReport{}, fmt.Errorf("filestore: archive needs a checkpoint: %w", err)
	}
	s.archMu.RLock()
	old := s.arch
	s.archMu.RUnlock()
	if old.UpTo > 0 && old.Dir != dir {
		return ArchiveReport{}, fmt.Errorf("filestore: the store is archived to %s", old.Dir)
	}
	// Sealed: covered by the checkpoint, and the last two entries stay
	// live (Open checks them).
	upTo = min(upTo, cp.TreeSize, v.n-min(v.n, 2))
	upTo -= upTo % bundleSize
	rep := ArchiveReport{UpTo: old.UpTo}
	if upTo <= old.UpTo {
		return rep, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "tile", "entries"), 0o700); err != nil {
		return rep, err
	}
	// Entry bundles, from checked entries.
	prev := ledger.ZeroHash
	if old.UpTo > 0 {
		pf, err := s.readOne(v, old.UpTo)
		if err != nil {
			return rep, err
		}
		prev = hex.EncodeToString(pf.raw[:])
	}
	cv := ledger.NewChainVerifier(old.UpTo+1, prev)
	win := &hashWindow{s: s, limit: tlog.StoredHashCount(int64(v.n))}
	var bundle bytes.Buffer
	var liveOff int64
	err = s.frames(ctx, v, old.UpTo+1, upTo, func(fr *frame) (bool, error) {
		e, err := ledger.DecodeEntry(fr.json)
		if err == nil {
			err = cv.Add(&e)
		}
		if err == nil && (!fr.crcOK || hex.EncodeToString(fr.raw[:]) != e.Hash) {
			err = errors.New("frame does not match its entry")
		}
		if err == nil {
			var stored tlog.Hash
			if stored, err = win.read(tlog.StoredHashIndex(0, int64(fr.seq-1))); err == nil && stored != ledger.LeafHash(fr.raw) {
				err = errors.New("stored leaf hash differs")
			}
		}
		if err != nil {
			return false, fmt.Errorf("filestore: not archived: entry %d does not verify: %w", fr.seq, err)
		}
		bundle.Write(fr.json)
		bundle.WriteByte('\n')
		liveOff = fr.off + hdrSize + fixedBody + int64(len(fr.json))
		if fr.seq%bundleSize == 0 {
			if err := writeImmutable(bundlePath(dir, (fr.seq-1)/bundleSize), bundle.Bytes()); err != nil {
				return false, err
			}
			rep.Bundles++
			bundle.Reset()
		}
		return true, nil
	})
	if err != nil {
		return rep, err
	}
	// Hash tiles of the archived tree, and the checkpoint.
	// Partial tiles have their width in their path, so they are immutable
	// too (C2SP tlog-tiles).
	tiles, err := tlogarchive.WriteTiles(dir, int64(upTo), hashReader{s, int64(v.n)})
	rep.Tiles += tiles
	if err != nil {
		return rep, err
	}
	if err := tlogarchive.WriteCheckpoint(dir, cp.Note); err != nil {
		return rep, err
	}
	// The derived files must be durable past the archived range before the
	// frames go: a rebuild after that reads the archive.
	if err := s.syncMark(int64(v.n)); err != nil {
		return rep, err
	}
	na := archiveState{UpTo: upTo, LiveOffset: liveOff, Dir: dir}
	b, _ := json.Marshal(na)
	// Switch readers to the archive, then release the frames. TryLock:
	// waiting with Lock would block new readers (the writer's duplicate
	// checks among them) behind a slow export.
	for !s.archMu.TryLock() {
		select {
		case <-ctx.Done():
			return rep, context.Cause(ctx)
		case <-time.After(5 * time.Millisecond):
		}
	}
	defer s.archMu.Unlock()
	if err := writeFileSync(filepath.Join(s.dir, archivedName), b); err != nil {
		return rep, err
	}
	s.arch = na
	rep.UpTo = upTo
	const punchHole, keepSize = 0x02, 0x01 // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
	if err := syscall.Fallocate(int(s.log.Fd()), punchHole|keepSize, old.LiveOffset, liveOff-old.LiveOffset); err != nil {
		return rep, fmt.Errorf("filestore: archived, but the log's blocks were not released: %w", err)
	}
	rep.FreedBytes = liveOff - old.LiveOffset
	return rep, nil
}

func writeImmutable(path string, data []byte) error { return tlogarchive.WriteImmutable(path, data) }

func writeFileSync(path string, data []byte) error { return tlogarchive.WriteFileSync(path, data) }
