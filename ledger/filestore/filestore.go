// Package filestore is the embedded, durable ledger store: an append-only
// segment file of length+CRC32C framed entries synced with fdatasync by a
// single writer goroutine (group commit), a fixed-width file of RFC 6962
// stored hashes (golang.org/x/mod/sumdb/tlog layout), a file of frame
// offsets and an on-disk event id index. Open costs the same at any ledger
// size and memory at rest does not grow with it: nothing per entry is kept
// in memory, and the derived files are checked against the log in the
// background after Open (see the Restart section of docs/ledger.md).
//
// # Files in the store directory
//
//	ledger.log          frames: u32le len | u32le crc32c(body) | body
//	                    body = 16-byte eventId | 32-byte entry hash | canonical entry JSON
//	ledger.hashes       32-byte tlog stored hashes, index = tlog.StoredHashIndex
//	ledger.offsets      u64le frame offset per entry (index.go)
//	ledger.ids          event id → sequence hash tables (index.go)
//	ledger.hashes.mark  u64le count of entries whose derived data (hashes,
//	                    offsets, event ids) is known synced
//	LOCK                flock held while the store is open
//
// # Durability and recovery
//
// Append returns after the frame is written and ledger.log is fdatasync'ed.
// Stored hashes, offsets and event ids are derived data: they are written
// after the log sync and synced lazily (every HashSyncEvery entries and at
// Close), and the mark records how far they are known durable. Open checks
// the derived files at the mark against the log and scans the log past the
// mark only (rebuilding everything from the log if the check fails): a torn tail
// (a frame cut short or failing its CRC with nothing valid after it) is
// copied to ledger.log.torn-<offset> and truncated; a frame that fails its
// CRC in the middle of valid frames is kept (it is evidence of tampering or
// bit rot, and Verify reports its sequence; frames before the mark are
// CRC-checked by the background check). Derived data past the mark is
// recomputed from the log.
//
// All methods are safe for concurrent use. One process may open a directory
// at a time.
package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

const (
	logName   = "ledger.log"
	hashName  = "ledger.hashes"
	markName  = "ledger.hashes.mark"
	lockName  = "LOCK"
	hdrSize   = 8
	fixedBody = 16 + 32
	maxBody   = fixedBody + ledger.MaxEntryBytes
)

// PreallocChunk is how far the log file is extended with zeros at a time.
const PreallocChunk = 16 << 20

// preallocChunk is PreallocChunk; tests that open many small stores lower it.
var preallocChunk int64 = PreallocChunk

// HashSyncEvery is how many entries may be appended between syncs of the
// stored-hash file (they are recomputed from the log at open if lost).
const HashSyncEvery = 8192

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Options configure a Store. The zero value is usable.
type Options struct {
	// CheckDuty is the share of one core the background check of the
	// derived files may use (default 0.25; ≥ 1 runs it flat out).
	CheckDuty float64
	// Clock stamps entries at the serialisation point. Default time.Now.
	Clock func() time.Time
	// NewEventID generates ids for events without one. Default UUIDv7.
	NewEventID func() (string, error)
	// MaxGroup bounds the entries of one group commit. Default 1024.
	MaxGroup int
	// Linger bounds how long the writer, before syncing a group, waits for
	// appenders that are already inside Append (validating their event) but
	// not yet queued. It never waits when no appender is on its way.
	// Default 200 µs; negative disables.
	Linger time.Duration
}

// Store is the embedded ledger store.
type Store struct {
	// lastOf caches LastOfType's answers (read.go).
	lastMu sync.Mutex
	lastOf map[string]lastSeen
	// lastScanned counts the entries LastOfType's scans read.
	lastScanned atomic.Uint64

	dir   string
	opts  Options
	log   *os.File
	hashf *os.File
	markf *os.File
	lockf *os.File
	offf  *os.File
	idf   *os.File

	offsets offsetFile
	idx     *idIndex // the writer's (its probe buffer is not shared)

	// archMu is held shared by every read of a frame and exclusively by
	// Archive while it switches reads to the archive and releases frames.
	archMu sync.RWMutex
	arch   archiveState

	reqs    chan *request
	sendMu  sync.RWMutex // held shared by senders, exclusively by Close
	closing chan struct{}
	done    chan struct{}

	mu       sync.RWMutex // guards the fields below
	closed   bool
	n        uint64 // committed entries
	end      int64  // committed log size
	alloc    int64  // file size (end + preallocated zeros); writer only after Open
	headHash string
	headTS   string
	failed   error
	// corrupt lists sequences whose frame failed its CRC (at open or in
	// the background check).
	corrupt map[uint64]string
	// recovered lists what Open repaired and what the background check
	// found.
	recovered []string

	// The background check of entries 1..checkUpTo (trusted from the
	// derived files at open); checkDone closes when it ends, checkErr then
	// says how.
	checkUpTo   uint64
	checkDone   chan struct{}
	checkErr    error
	checkCancel context.CancelFunc

	// inflight counts appenders inside AppendBatch; wake is signalled when
	// one leaves. The writer lingers while more appenders are inside Append
	// than requests in its group.
	inflight atomic.Int64
	wake     chan struct{}
	// groups counts group commits (one fdatasync each), for benchmarks.
	groups atomic.Uint64

	// writer-only state
	sinceMark int
}

type request struct {
	ctx     context.Context
	preps   []ledger.Prepared
	ids     []string
	entries []ledger.Entry
	errs    []error
	err     error
	done    chan struct{}
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.NewEventID == nil {
		opts.NewEventID = func() (string, error) {
			u, err := uuid.NewV7()
			return u.String(), err
		}
	}
	if opts.MaxGroup <= 0 {
		opts.MaxGroup = 1024
	}
	if opts.Linger == 0 {
		opts.Linger = 200 * time.Microsecond
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, corrupt: map[uint64]string{}, checkDone: make(chan struct{}),
		reqs: make(chan *request, 4096), wake: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			s.closeFiles()
		}
	}()
	var err error
	if s.lockf, err = os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(s.lockf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil, fmt.Errorf("filestore: %s is in use by another process: %w", dir, err)
	}
	if s.log, err = os.OpenFile(filepath.Join(dir, logName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	if s.hashf, err = os.OpenFile(filepath.Join(dir, hashName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	if s.markf, err = os.OpenFile(filepath.Join(dir, markName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	if s.offf, err = os.OpenFile(filepath.Join(dir, offsName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	if s.idf, err = os.OpenFile(filepath.Join(dir, idsName), os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, err
	}
	s.offsets = offsetFile{s.offf}
	s.idx = &idIndex{f: s.idf, buf: make([]byte, probeSlots*slotSize)}
	if err := s.loadArchive(); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	ok = true
	go s.writer()
	ctx, cancel := context.WithCancel(context.Background())
	s.checkCancel = cancel
	go s.backgroundCheck(ctx)
	return s, nil
}

// Recovered describes what Open repaired and what the background check
// found (empty when the store was clean).
func (s *Store) Recovered() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.recovered...)
}

func (s *Store) noteRecovered(msg string) {
	s.mu.Lock()
	s.recovered = append(s.recovered, msg)
	s.mu.Unlock()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (s *Store) closeFiles() {
	for _, f := range []*os.File{s.log, s.hashf, s.markf, s.offf, s.idf, s.lockf} {
		if f != nil {
			f.Close()
		}
	}
}

// readFrame reads one frame from r at file offset off. It returns io.EOF at
// a clean end, errTorn for an incomplete or implausible frame.
var errTorn = errors.New("torn frame")

func readFrame(r *bufio.Reader, buf []byte) ([]byte, bool, int64, error) {
	var hdr [hdrSize]byte
	n, err := io.ReadFull(r, hdr[:])
	if err == io.EOF {
		return nil, false, 0, io.EOF
	}
	if err != nil {
		return nil, false, int64(n), errTorn
	}
	l := binary.LittleEndian.Uint32(hdr[0:4])
	if l < fixedBody+2 || l > maxBody {
		return nil, false, hdrSize, errTorn
	}
	if cap(buf) < int(l) {
		buf = make([]byte, l)
	}
	body := buf[:l]
	m, err := io.ReadFull(r, body)
	if err != nil {
		return nil, false, int64(hdrSize + m), errTorn
	}
	return body, crc32.Checksum(body, crcTable) == binary.LittleEndian.Uint32(hdr[4:8]), int64(hdrSize) + int64(l), nil
}

// recover makes the store ready: it trusts the derived files up to the
// mark once the entries at the mark check out against the log (trustMark),
// then scans the log past the mark only — handling a torn tail and
// recomputing offsets, event ids and stored hashes for what it finds. If
// the check at the mark fails, everything is rebuilt from the whole log.
func (s *Store) recover() error {
	size, err := s.log.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	var mark uint64
	var mb [8]byte
	if _, err := s.markf.ReadAt(mb[:], 0); err == nil {
		mark = binary.LittleEndian.Uint64(mb[:])
	}
	var start int64
	if mark > 0 {
		end, why := s.trustMark(mark, size)
		if why != "" {
			s.recovered = append(s.recovered, fmt.Sprintf("derived files do not match the log at entry %d (%s): rebuilt from the log", mark, why))
			mark = 0
		} else {
			start = end
		}
	}
	if mark == 0 {
		if size > 0 && len(s.recovered) == 0 {
			s.recovered = append(s.recovered, "no mark: derived files rebuilt from the log")
		}
		for _, f := range []*os.File{s.hashf, s.offf, s.idf} {
			if err := f.Truncate(0); err != nil {
				return err
			}
		}
	} else {
		if err := s.offf.Truncate(int64(mark) * 8); err != nil {
			return err
		}
		if err := s.hashf.Truncate(tlog.StoredHashCount(int64(mark)) * 32); err != nil {
			return err
		}
	}
	s.checkUpTo = mark
	d := &deriver{s: s, first: mark}
	seq := mark
	if mark == 0 && s.arch.UpTo > 0 {
		// Rebuild: the archived entries come from the archive.
		if err := s.deriveArchived(d); err != nil {
			return err
		}
		seq, start = s.arch.UpTo, s.arch.LiveOffset
	}
	off := start
	buf := make([]byte, maxBody)
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, start, size-start), 1<<20)
	for off < size {
		if hdr, err := r.Peek(4); err == nil && binary.LittleEndian.Uint32(hdr) == 0 && s.zeroFrom(off, size) {
			break // preallocated space: the clean end of the log
		}
		body, crcOK, n, err := readFrame(r, buf)
		if err == io.EOF {
			break
		}
		if err == nil && !crcOK && !s.validAfter(off+n, size) {
			err = errTorn // a bad last frame is a torn write, not evidence
		}
		if err != nil {
			if err := s.quarantineTail(off, size); err != nil {
				return err
			}
			break
		}
		seq++
		if !crcOK {
			s.corrupt[seq] = "frame CRC mismatch"
			s.recovered = append(s.recovered, fmt.Sprintf("sequence %d fails its CRC (kept; Verify reports it)", seq))
		}
		var id [16]byte
		copy(id[:], body[:16])
		var h [32]byte
		copy(h[:], body[16:48])
		if err := d.add(off, id, h); err != nil {
			return err
		}
		off += n
	}
	if err := d.flush(); err != nil {
		return err
	}
	if seq > mark {
		s.recovered = append(s.recovered, fmt.Sprintf("stored hashes recomputed for entries %d..%d", mark+1, seq))
	}
	s.n, s.end, s.alloc = seq, off, size
	if seq > 0 {
		fr, _, err := s.frameAt(seq, mustOff(s.offsets.at(seq)), off)
		if err != nil {
			return err
		}
		s.headHash = hex.EncodeToString(fr.raw[:])
		if e, err := ledger.DecodeEntry(fr.json); err == nil {
			s.headTS = e.Timestamp
		}
	}
	return s.syncMark(int64(seq))
}

func mustOff(off int64, err error) int64 {
	if err != nil {
		return -1 // frameAt refuses it
	}
	return off
}

// trustMark checks the derived files at the mark against the log: the
// files are long enough, the recorded offsets of the last two entries point
// at whole frames that pass their CRC and follow each other, the stored
// leaf hash of the last entry is that of its frame, and the event id index
// holds its id. It returns where the log past the mark starts, or why the
// derived files cannot be trusted.
func (s *Store) trustMark(mark uint64, size int64) (int64, string) {
	if mark > ledger.MaxSequence {
		return 0, "implausible mark"
	}
	if mark <= s.arch.UpTo+1 {
		return 0, "the entries at the mark are archived"
	}
	fi, err := s.offf.Stat()
	if err != nil || fi.Size() < int64(mark)*8 {
		return 0, "offsets file short"
	}
	if fi, err := s.hashf.Stat(); err != nil || fi.Size() < tlog.StoredHashCount(int64(mark))*32 {
		return 0, "stored hash file short"
	}
	off, err := s.offsets.at(mark)
	if err != nil {
		return 0, "offset unreadable"
	}
	fr, flen, err := s.frameAt(mark, off, size)
	if err != nil || !fr.crcOK {
		return 0, "no valid frame at the recorded offset"
	}
	if mark > 1 {
		poff, err := s.offsets.at(mark - 1)
		if err != nil {
			return 0, "offset unreadable"
		}
		pfr, plen, err := s.frameAt(mark-1, poff, size)
		if err != nil || !pfr.crcOK || poff+plen != off {
			return 0, "recorded offsets do not follow the frames"
		}
	}
	leaf, err := (hashReader{s, int64(mark)}).ReadHashes([]int64{tlog.StoredHashIndex(0, int64(mark-1))})
	if err != nil || leaf[0] != ledger.LeafHash(fr.raw) {
		return 0, "stored leaf hash differs from the frame"
	}
	found, err := s.idx.candidates(idSegOf(mark), fr.id, mark, nil, func(seq uint64) (bool, error) { return seq == mark, nil })
	if err != nil || !found {
		return 0, "event id index lacks the entry"
	}
	return off + flen, ""
}

// frameAt reads the frame of sequence seq at off, which must end by end.
func (s *Store) frameAt(seq uint64, off, end int64) (*frame, int64, error) {
	bad := func(why string) (*frame, int64, error) {
		return nil, 0, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: sequence %d: %s", seq, why))
	}
	if off < 0 || off+hdrSize > end {
		return bad("offset outside the log")
	}
	var hdr [hdrSize]byte
	if _, err := s.log.ReadAt(hdr[:], off); err != nil {
		return nil, 0, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: read sequence %d", seq), err)
	}
	l := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	if l < fixedBody+2 || l > maxBody || off+hdrSize+l > end {
		return bad("no frame at its offset")
	}
	body := make([]byte, l)
	if _, err := s.log.ReadAt(body, off+hdrSize); err != nil {
		return nil, 0, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: read sequence %d", seq), err)
	}
	fr := &frame{seq: seq, off: off, json: body[fixedBody:], crcOK: crc32.Checksum(body, crcTable) == binary.LittleEndian.Uint32(hdr[4:8])}
	copy(fr.id[:], body[:16])
	copy(fr.raw[:], body[16:48])
	return fr, hdrSize + l, nil
}

// confirmID reports whether the frame of sequence seq carries event id id.
func (s *Store) confirmIDLive(seq uint64, id [16]byte) (bool, error) {
	off, err := s.offsets.at(seq)
	if err != nil {
		return false, err
	}
	var got [16]byte
	if _, err := s.log.ReadAt(got[:], off+hdrSize); err != nil {
		return false, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: read sequence %d", seq), err)
	}
	return got == id, nil
}

// deriver writes offsets, event ids and stored hashes for entries found in
// the log, in chunks (memory does not grow with the log).
type deriver struct {
	s     *Store
	first uint64 // entries before the chunk
	offs  []int64
	ids   [][16]byte
	raws  [][32]byte
}

func (d *deriver) add(off int64, id [16]byte, raw [32]byte) error {
	d.offs = append(d.offs, off)
	d.ids = append(d.ids, id)
	d.raws = append(d.raws, raw)
	if len(d.offs) >= 1<<16 {
		return d.flush()
	}
	return nil
}

func (d *deriver) flush() error {
	if len(d.offs) == 0 {
		return nil
	}
	s := d.s
	if err := s.offsets.put(d.first, d.offs); err != nil {
		return err
	}
	if err := s.writeHashes(d.first, d.raws); err != nil {
		return err
	}
	for i, id := range d.ids {
		if err := s.idx.insert(id, d.first+uint64(i)+1, s.confirmID); err != nil {
			return err
		}
	}
	d.first += uint64(len(d.offs))
	d.offs, d.ids, d.raws = d.offs[:0], d.ids[:0], d.raws[:0]
	return nil
}

// writeHashes writes the stored hashes of the entries first+1… with raw
// entry hashes raws.
func (s *Store) writeHashes(first uint64, raws [][32]byte) error {
	pend := &pending{f: s.hashf, base: tlog.StoredHashCount(int64(first))}
	for k := range raws {
		hs, err := tlog.StoredHashes(int64(first)+int64(k), raws[k][:], pend)
		if err != nil {
			return err
		}
		pend.hs = append(pend.hs, hs...)
	}
	if _, err := s.hashf.WriteAt(hashBytes(pend.hs), pend.base*32); err != nil {
		return codes.Wrap(codes.LedgerUnavailable, "ledger: write stored hashes", err)
	}
	return nil
}

// zeroFrom reports whether every byte from off to size is zero.
func (s *Store) zeroFrom(off, size int64) bool {
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for off < size {
		n, err := s.log.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if !bytes.Equal(buf[:n], zero[:n]) {
			return false
		}
		if err != nil && err != io.EOF {
			return false
		}
		off += int64(n)
		if n == 0 {
			break
		}
	}
	return true
}

// validAfter reports whether at least one whole, valid frame starts at off
// and only valid frames (then possibly preallocated zeros) follow up to size:
// then a bad frame before off sits in the middle of the log.
func (s *Store) validAfter(off, size int64) bool {
	if off >= size {
		return false
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, off, size-off), 1<<16)
	buf := make([]byte, maxBody)
	for frames := 0; ; frames++ {
		if hdr, err := r.Peek(4); err == nil && binary.LittleEndian.Uint32(hdr) == 0 && frames > 0 && s.zeroFrom(off, size) {
			return true
		}
		_, ok, n, err := readFrame(r, buf)
		if err == io.EOF {
			return frames > 0
		}
		if err != nil || !ok {
			return false
		}
		off += n
	}
}

// quarantineTail copies the bytes from off (trailing zeros trimmed) to a
// side file, then cuts the log at off.
func (s *Store) quarantineTail(off, size int64) error {
	name := filepath.Join(s.dir, fmt.Sprintf("%s.torn-%d", logName, off))
	tail := make([]byte, size-off)
	if _, err := s.log.ReadAt(tail, off); err != nil && err != io.EOF {
		return err
	}
	tail = bytes.TrimRight(tail, "\x00")
	if err := os.WriteFile(name, tail, 0o600); err != nil {
		return err
	}
	if err := s.log.Truncate(off); err != nil {
		return err
	}
	if err := syscall.Fdatasync(int(s.log.Fd())); err != nil {
		return err
	}
	s.recovered = append(s.recovered, fmt.Sprintf("torn tail of %d bytes at offset %d moved to %s", len(tail), off, name))
	return nil
}

func (s *Store) syncMark(n int64) error {
	for _, f := range []*os.File{s.hashf, s.offf, s.idf} {
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return err
		}
	}
	var mb [8]byte
	binary.LittleEndian.PutUint64(mb[:], uint64(n))
	if _, err := s.markf.WriteAt(mb[:], 0); err != nil {
		return err
	}
	return syscall.Fdatasync(int(s.markf.Fd()))
}

func hashBytes(hs []tlog.Hash) []byte {
	b := make([]byte, 0, 32*len(hs))
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// pending reads stored hashes from the file below base and from hs above.
type pending struct {
	f    *os.File
	base int64
	hs   []tlog.Hash
}

func (p *pending) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= p.base {
			if x-p.base >= int64(len(p.hs)) {
				return nil, fmt.Errorf("filestore: stored hash %d not yet computed", x)
			}
			out[i] = p.hs[x-p.base]
			continue
		}
		if _, err := p.f.ReadAt(out[i][:], x*32); err != nil {
			return nil, fmt.Errorf("filestore: read stored hash %d: %w", x, err)
		}
	}
	return out, nil
}

// Append implements ledger.Store.
func (s *Store) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	return ledger.AppendOne(ctx, s, ev)
}

// AppendBatch implements ledger.Store.
func (s *Store) AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error) {
	s.inflight.Add(1)
	defer func() {
		s.inflight.Add(-1)
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}()
	preps, ids, errs, err := ledger.PrepareBatch(evs, s.opts.NewEventID)
	if err != nil {
		return nil, nil, err
	}
	r := &request{ctx: ctx, preps: preps, ids: ids, entries: make([]ledger.Entry, len(evs)), errs: errs, done: make(chan struct{})}
	s.sendMu.RLock()
	s.mu.RLock()
	closed, failed := s.closed, s.failed
	s.mu.RUnlock()
	if closed {
		s.sendMu.RUnlock()
		return nil, nil, ledger.ErrClosed
	}
	if failed != nil {
		s.sendMu.RUnlock()
		return nil, nil, failed
	}
	select {
	case s.reqs <- r:
	case <-ctx.Done():
		s.sendMu.RUnlock()
		return nil, nil, codes.Wrap(codes.LedgerUnavailable, "ledger: append cancelled", context.Cause(ctx))
	}
	s.sendMu.RUnlock()
	// Once queued the request is either skipped (ctx checked at the
	// serialisation point) or made durable; wait for the answer either way
	// so that an error always means "not written".
	<-r.done
	return r.entries, r.errs, r.err
}

func (s *Store) writer() {
	defer close(s.done)
	var batch []*request
	var linger *time.Timer
	buf := make([]byte, 0, 1<<20)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.closing:
			// Close holds sendMu: nothing more can be queued. Serve what is.
			for {
				select {
				case r := <-s.reqs:
					s.commit([]*request{r}, buf[:0])
					continue
				default:
				}
				break
			}
			return
		}
		n := len(batch[0].preps)
	drain:
		for n < s.opts.MaxGroup {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
				n += len(r.preps)
			default:
				break drain
			}
		}
		if s.opts.Linger > 0 && n < s.opts.MaxGroup && s.inflight.Load() > int64(len(batch)) {
			// Appenders answered by the previous group may be coming
			// straight back: one fdatasync for them too instead of
			// alternating between two half-size groups. Stops as soon as
			// every appender inside Append is in the group.
			if linger == nil {
				linger = time.NewTimer(s.opts.Linger)
			} else {
				linger.Reset(s.opts.Linger)
			}
		wait:
			for n < s.opts.MaxGroup && s.inflight.Load() > int64(len(batch)) {
				select {
				case r := <-s.reqs:
					batch = append(batch, r)
					n += len(r.preps)
				case <-s.wake:
				case <-linger.C:
					break wait
				}
			}
			if !linger.Stop() {
				select {
				case <-linger.C:
				default:
				}
			}
		}
		buf = s.commit(batch, buf[:0])
	}
}

type staged struct {
	r   *request
	i   int
	id  [16]byte
	raw [32]byte
}

// commit serialises, writes and syncs one group, then answers it.
func (s *Store) commit(batch []*request, buf []byte) []byte {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	s.mu.RLock()
	failed := s.failed
	seq := s.n
	prev, ts, end := s.headHash, s.headTS, s.end
	s.mu.RUnlock()
	if failed != nil {
		for _, r := range batch {
			r.err = failed
		}
		return buf
	}
	var st []staged
	var offs []int64
	seen := map[[16]byte]bool{}
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = codes.Wrap(codes.LedgerUnavailable, "ledger: append cancelled", context.Cause(r.ctx))
			continue
		}
		for i := range r.preps {
			if r.errs[i] != nil {
				continue
			}
			u, err := uuid.Parse(r.ids[i])
			if err != nil {
				r.errs[i] = codes.Wrap(codes.MalformedRequest, "ledger: bad eventId", err)
				continue
			}
			id := [16]byte(u)
			dup := seen[id]
			if !dup && r.preps[i].Event.EventID != "" {
				// Only ids the caller chose are looked up in the index:
				// the ones the store generates are fresh UUIDv7s.
				_, found, err := s.idx.lookup(id, seq, s.idx.buf, s.confirmID)
				if err != nil {
					r.errs[i] = err
					continue
				}
				dup = found
			}
			if dup {
				r.errs[i] = ledger.ErrDuplicateEvent
				continue
			}
			if err := ledger.RunGuard(r.preps[i].Event.Guard); err != nil {
				r.errs[i] = err
				continue
			}
			if seq >= ledger.MaxSequence {
				r.errs[i] = codes.New(codes.LedgerUnavailable, "ledger: sequence space exhausted")
				continue
			}
			seq++
			e, enc := r.preps[i].Next(seq, r.ids[i], prev, ts, s.opts.Clock())
			raw, _ := ledger.RawHash(e.Hash)
			offs = append(offs, end+int64(len(buf)))
			buf = appendFrame(buf, id, raw, enc)
			r.entries[i] = e
			seen[id] = true
			// Position and content are fixed from here; the hook may start
			// work that needs the sequence while the fdatasync runs.
			ledger.RunSequenced(r.preps[i].Event.Sequenced, seq)
			st = append(st, staged{r: r, i: i, id: id, raw: raw})
			prev, ts = e.Hash, e.Timestamp
		}
	}
	if len(st) == 0 {
		return buf
	}
	fail := func(err error) []byte {
		_ = s.log.Truncate(end) // best effort; the store is failed either way
		s.alloc = end
		ferr := codes.Wrap(codes.LedgerUnavailable, "ledger: store failed", errors.Join(ledger.ErrFailed, err))
		s.mu.Lock()
		s.failed = ferr
		s.mu.Unlock()
		for _, x := range st {
			x.r.entries[x.i] = ledger.Entry{}
			x.r.err = ferr
		}
		return buf
	}
	if need := end + int64(len(buf)); need > s.alloc {
		// Preallocate with real zero blocks so the per-group fdatasync
		// rarely has to commit file-size metadata (measured ≈ 2.5× faster
		// than extending the file with every group).
		grow := max(preallocChunk, need-s.alloc)
		if _, err := s.log.WriteAt(make([]byte, grow), s.alloc); err != nil {
			return fail(err)
		}
		s.alloc += grow
	}
	if _, err := s.log.WriteAt(buf, end); err != nil {
		return fail(err)
	}
	if err := syscall.Fdatasync(int(s.log.Fd())); err != nil {
		return fail(err)
	}
	s.groups.Add(1)
	// Derived data (recomputed at open past the synced mark): offsets,
	// stored hashes, event ids.
	first := seq - uint64(len(st))
	if err := s.offsets.put(first, offs); err != nil {
		return fail(err)
	}
	raws := make([][32]byte, len(st))
	for k, x := range st {
		raws[k] = x.raw
	}
	if err := s.writeHashes(first, raws); err != nil {
		return fail(err)
	}
	for k, x := range st {
		if err := s.idx.insert(x.id, first+uint64(k)+1, s.confirmID); err != nil {
			return fail(err)
		}
	}
	s.mu.Lock()
	s.n = seq
	s.end = end + int64(len(buf))
	s.headHash, s.headTS = prev, ts
	s.mu.Unlock()
	s.advanceLast(first, st)
	s.sinceMark += len(st)
	if s.sinceMark >= HashSyncEvery {
		if err := s.syncMark(int64(seq)); err == nil {
			s.sinceMark = 0
		}
	}
	return buf
}

func appendFrame(buf []byte, id [16]byte, raw [32]byte, enc []byte) []byte {
	l := fixedBody + len(enc)
	start := len(buf)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(l))
	buf = append(buf, 0, 0, 0, 0)
	buf = append(buf, id[:]...)
	buf = append(buf, raw[:]...)
	buf = append(buf, enc...)
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+hdrSize:], crcTable))
	return buf
}

// Close stops the writer after the queued appends, syncs the stored hashes
// and releases the directory.
func (s *Store) Close() error {
	s.sendMu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.sendMu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.sendMu.Unlock()
	close(s.closing)
	<-s.done
	s.checkCancel()
	<-s.checkDone
	s.mu.RLock()
	n, failed := int64(s.n), s.failed
	s.mu.RUnlock()
	var err error
	if failed == nil {
		err = s.syncMark(n)
	}
	s.closeFiles()
	return err
}
