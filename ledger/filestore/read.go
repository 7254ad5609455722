package filestore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// frame is one stored record as read back.
type frame struct {
	seq   uint64
	off   int64 // file offset of the frame
	id    [16]byte
	raw   [32]byte
	json  []byte
	crcOK bool
}

// view is a consistent snapshot of the committed extent.
type view struct {
	n   uint64
	end int64
}

func (s *Store) view() (view, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return view{}, ledger.ErrClosed
	}
	return view{n: s.n, end: s.end}, nil
}

// span is the byte range of the frames from..to, from the offsets file.
func (s *Store) span(v view, from, to uint64) (int64, int64, error) {
	lo, err := s.offsets.at(from)
	if err != nil {
		return 0, 0, err
	}
	hi := v.end
	if to < v.n {
		if hi, err = s.offsets.at(to + 1); err != nil {
			return 0, 0, err
		}
	}
	if lo < 0 || lo > hi || hi > v.end {
		return 0, 0, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: offsets of %d..%d do not match the log", from, to))
	}
	return lo, hi, nil
}

// frames iterates the committed frames from..to (1-based inclusive) with
// sequential buffered reads, calling f for each. f must not keep fr.json.
func (s *Store) framesLive(ctx context.Context, v view, from, to uint64, f func(fr *frame) (bool, error)) error {
	if from < 1 || to > v.n || from > to {
		return nil
	}
	lo, hi, err := s.span(v, from, to)
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(io.NewSectionReader(s.log, lo, hi-lo), 256<<10)
	buf := make([]byte, maxBody)
	off := lo
	for seq := from; seq <= to; seq++ {
		if seq%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		body, ok, n, err := readFrame(r, buf)
		if err != nil {
			return codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: read sequence %d", seq), err)
		}
		fr := frame{seq: seq, off: off, json: body[fixedBody:], crcOK: ok}
		off += n
		copy(fr.id[:], body[:16])
		copy(fr.raw[:], body[16:48])
		more, err := f(&fr)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (s *Store) readOneLive(v view, seq uint64) (*frame, error) {
	off, err := s.offsets.at(seq)
	if err != nil {
		return nil, err
	}
	fr, _, err := s.frameAt(seq, off, v.end)
	return fr, err
}

// decode decodes a frame's entry. An entry whose sequence is not the one
// the offsets file located is refused: the offsets file does not match the
// log, and an answer from it would be another entry's.
func decode(fr *frame) (ledger.Entry, error) {
	e, err := ledger.DecodeEntry(fr.json)
	if err != nil {
		return ledger.Entry{}, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: sequence %d is unreadable", fr.seq), err)
	}
	if e.SequenceNumber != fr.seq {
		return ledger.Entry{}, codes.New(codes.LedgerUnavailable, fmt.Sprintf("ledger: the offsets file does not match the log at sequence %d", fr.seq))
	}
	return e, nil
}

// Size implements ledger.Store.
func (s *Store) Size(ctx context.Context) (uint64, error) {
	v, err := s.view()
	return v.n, err
}

// Head implements ledger.Store.
func (s *Store) Head(ctx context.Context) (ledger.Entry, error) {
	v, err := s.view()
	if err != nil {
		return ledger.Entry{}, err
	}
	if v.n == 0 {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	return s.get(v, v.n)
}

// Get implements ledger.Store.
func (s *Store) Get(ctx context.Context, seq uint64) (ledger.Entry, error) {
	v, err := s.view()
	if err != nil {
		return ledger.Entry{}, err
	}
	if seq < 1 || seq > v.n {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	return s.get(v, seq)
}

func (s *Store) get(v view, seq uint64) (ledger.Entry, error) {
	fr, err := s.readOne(v, seq)
	if err != nil {
		return ledger.Entry{}, err
	}
	return decode(fr)
}

// GetByEventID implements ledger.Store.
func (s *Store) GetByEventID(ctx context.Context, eventID string) (ledger.Entry, error) {
	u, err := uuid.Parse(eventID)
	if err != nil || u.String() != eventID {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	v, err := s.view()
	if err != nil {
		return ledger.Entry{}, err
	}
	seq, ok, err := s.idx.lookup([16]byte(u), v.n, nil, s.confirmID)
	if err != nil {
		return ledger.Entry{}, err
	}
	if !ok {
		return ledger.Entry{}, ledger.ErrNotFound
	}
	return s.get(v, seq)
}

// LastOfType implements ledger.Store by scanning back from the head.
func (s *Store) LastOfType(ctx context.Context, eventType string) (ledger.Entry, error) {
	// Entries are immutable and this store is their only appender: what an
	// earlier call found up to its view still holds, so only the entries
	// appended since are scanned (the checkpointer asks once per checkpoint;
	// a scan back through up to 10,000 entries each time was about 5 % of
	// the gateway's CPU under load), and the writer keeps the answer up to
	// date for every type asked about (advanceLast). Read before the view:
	// the writer advances it only after the entries are in the view.
	s.lastMu.Lock()
	known, ok := s.lastOf[eventType]
	s.lastMu.Unlock()
	v, err := s.view()
	if err != nil {
		return ledger.Entry{}, err
	}
	floor := uint64(0)
	if ok && known.upTo <= v.n {
		floor = known.upTo
	}
	want := typeFilter(eventType)
	for seq := v.n; seq > floor; seq-- {
		if seq%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return ledger.Entry{}, err
			}
		}
		fr, err := s.readOne(v, seq)
		if err != nil {
			return ledger.Entry{}, err
		}
		s.lastScanned.Add(1)
		if want != nil && !bytes.Contains(fr.json, want) {
			continue
		}
		e, err := decode(fr)
		if err == nil && e.EventType == eventType {
			s.rememberLast(eventType, seq, v.n)
			return e, nil
		}
	}
	if floor > 0 && known.seq > 0 {
		s.rememberLast(eventType, known.seq, v.n)
		return s.Get(ctx, known.seq)
	}
	s.rememberLast(eventType, 0, v.n)
	return ledger.Entry{}, ledger.ErrNotFound
}

// lastSeen is what LastOfType knows of one event type: its latest entry
// (0: none) among the first upTo entries.
type lastSeen struct{ seq, upTo uint64 }

func (s *Store) rememberLast(eventType string, seq, upTo uint64) {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	if s.lastOf == nil {
		s.lastOf = map[string]lastSeen{}
	}
	if cur, ok := s.lastOf[eventType]; ok && cur.upTo > upTo {
		return // a later view already answered
	}
	s.lastOf[eventType] = lastSeen{seq: seq, upTo: upTo}
}

// List implements ledger.Store.
func (s *Store) List(ctx context.Context, q ledger.ListQuery) ([]ledger.Entry, *uint64, error) {
	v, err := s.view()
	if err != nil {
		return nil, nil, err
	}
	limit := q.EffectiveLimit()
	var out []ledger.Entry
	if q.After >= v.n {
		return nil, nil, nil
	}
	var last uint64
	err = s.frames(ctx, v, q.After+1, v.n, func(fr *frame) (bool, error) {
		e, err := decode(fr)
		if err != nil {
			return false, err
		}
		last = fr.seq
		if (q.EventType == "" || e.EventType == q.EventType) && (q.AgentID == "" || e.AgentID == q.AgentID) {
			out = append(out, e)
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if last < v.n && len(out) == limit {
		return out, &last, nil
	}
	return out, nil, nil
}

// hashReader reads stored hashes of a committed extent.
type hashReader struct {
	s *Store
	n int64
}

func (h hashReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	limit := tlog.StoredHashCount(h.n)
	out := make([]tlog.Hash, len(idx))
	for _, x := range idx {
		if x < 0 || x >= limit {
			return nil, fmt.Errorf("filestore: stored hash %d outside tree %d", x, h.n)
		}
	}
	read := func(i int) error {
		if _, err := h.s.hashf.ReadAt(out[i][:], idx[i]*32); err != nil {
			return codes.Wrap(codes.LedgerUnavailable, "ledger: read stored hash", err)
		}
		return nil
	}
	if len(idx) < parallelReads {
		for i := range idx {
			if err := read(i); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// A proof's hashes lie in ≈ log₂(n) different places of a file that
	// outgrows the page cache (6.4 GB at 100 M entries): read them at once
	// so that their disk latencies overlap instead of adding up.
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = read(i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// parallelReads is the number of stored hashes from which ReadHashes reads
// concurrently (proofs ask for all theirs in one call).
var parallelReads = 8

// TreeHash implements ledger.Store.
func (s *Store) TreeHash(ctx context.Context, size uint64) (tlog.Hash, error) {
	v, err := s.view()
	if err != nil {
		return tlog.Hash{}, err
	}
	if size > v.n {
		return tlog.Hash{}, ledger.ErrBadRange
	}
	return tlog.TreeHash(int64(size), hashReader{s, int64(v.n)})
}

// InclusionProof implements ledger.Store.
func (s *Store) InclusionProof(ctx context.Context, index, treeSize uint64) ([]tlog.Hash, error) {
	v, err := s.view()
	if err != nil {
		return nil, err
	}
	if treeSize > v.n || index >= treeSize {
		return nil, ledger.ErrBadRange
	}
	return tlog.ProveRecord(int64(treeSize), int64(index), hashReader{s, int64(v.n)})
}

// ConsistencyProof implements ledger.Store.
func (s *Store) ConsistencyProof(ctx context.Context, from, to uint64) ([]tlog.Hash, error) {
	v, err := s.view()
	if err != nil {
		return nil, err
	}
	if to > v.n || from < 1 || from > to {
		return nil, ledger.ErrBadRange
	}
	return tlog.ProveTree(int64(to), int64(from), hashReader{s, int64(v.n)})
}

// Verify implements ledger.Store: every frame's CRC, header fields, JSON,
// hash and chain link, and each stored leaf hash; from 1 also the tree root.
func (s *Store) Verify(ctx context.Context, from, to uint64) (ledger.VerifyResult, error) {
	v, err := s.view()
	if err != nil {
		return ledger.VerifyResult{}, err
	}
	from, to = clampRange(from, to, v.n)
	res := ledger.VerifyResult{Valid: true}
	if v.n == 0 || from > to {
		return res, nil
	}
	prev := ledger.ZeroHash
	if from > 1 {
		pf, err := s.readOne(v, from-1)
		if err != nil {
			return res, err
		}
		prev = hex.EncodeToString(pf.raw[:])
	}
	cv := ledger.NewChainVerifier(from, prev)
	hr := hashReader{s, int64(v.n)}
	win := &hashWindow{s: s, limit: tlog.StoredHashCount(int64(v.n))}
	bad := func(seq uint64, reason string) (bool, error) {
		res.Valid, res.FirstBadSequence, res.Reason = false, &seq, reason
		return false, nil
	}
	err = s.frames(ctx, v, from, to, func(fr *frame) (bool, error) {
		if !fr.crcOK {
			return bad(fr.seq, "frame CRC mismatch")
		}
		e, err := ledger.DecodeEntry(fr.json)
		if err != nil {
			return bad(fr.seq, err.Error())
		}
		if err := cv.Add(&e); err != nil {
			return bad(fr.seq, err.Error())
		}
		if hex.EncodeToString(fr.raw[:]) != e.Hash || uuid.UUID(fr.id).String() != e.EventID {
			return bad(fr.seq, "frame header differs from the entry")
		}
		stored, err := win.read(tlog.StoredHashIndex(0, int64(fr.seq-1)))
		if err != nil {
			return false, err
		}
		if stored != ledger.LeafHash(fr.raw) {
			return bad(fr.seq, "stored leaf hash differs")
		}
		res.Checked++
		return true, nil
	})
	if err != nil {
		return ledger.VerifyResult{}, err
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

func clampRange(from, to, n uint64) (uint64, uint64) {
	if from == 0 {
		from = 1
	}
	if to == 0 || to > n {
		to = n
	}
	return from, to
}

// Export implements ledger.Store: the stored canonical bytes, one per line.
func (s *Store) Export(ctx context.Context, w io.Writer, from, to uint64, progress func(done, total uint64)) error {
	v, err := s.view()
	if err != nil {
		return err
	}
	from, to = clampRange(from, to, v.n)
	if from > to {
		return nil
	}
	total := to - from + 1
	bw := bufio.NewWriterSize(w, 256<<10)
	var done uint64
	err = s.frames(ctx, v, from, to, func(fr *frame) (bool, error) {
		if _, err := bw.Write(fr.json); err != nil {
			return false, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return false, err
		}
		done++
		if progress != nil && (done%4096 == 0 || done == total) {
			progress(done, total)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// typeFilter returns the bytes every canonical entry of eventType contains,
// or nil when the type needs escaping (then every entry is decoded).
func typeFilter(eventType string) []byte {
	for i := 0; i < len(eventType); i++ {
		if c := eventType[i]; c < 0x20 || c == '"' || c == '\\' {
			return nil
		}
	}
	return []byte(`"eventType":"` + eventType + `"`)
}

// hashWindow reads stored hashes at increasing indexes through a 1 MiB
// window of the hash file (Verify reads every leaf in order).
type hashWindow struct {
	s     *Store
	limit int64
	lo    int64
	buf   []byte
}

func (w *hashWindow) read(idx int64) (tlog.Hash, error) {
	if idx < 0 || idx >= w.limit {
		return tlog.Hash{}, fmt.Errorf("filestore: stored hash %d outside tree", idx)
	}
	if idx < w.lo || (idx-w.lo+1)*32 > int64(len(w.buf)) {
		n := min(int64(1<<20)/32, w.limit-idx)
		if cap(w.buf) < 1<<20 {
			w.buf = make([]byte, 1<<20)
		}
		w.buf = w.buf[:n*32]
		if _, err := w.s.hashf.ReadAt(w.buf, idx*32); err != nil {
			return tlog.Hash{}, codes.Wrap(codes.LedgerUnavailable, "ledger: read stored hashes", err)
		}
		w.lo = idx
	}
	var h tlog.Hash
	copy(h[:], w.buf[(idx-w.lo)*32:])
	return h, nil
}

// advanceLast extends what LastOfType knows to the group the writer has just
// made durable (sequences first+1 … first+len(st), already in the view), for
// every event type it was asked about whose answer holds up to exactly first:
// the checkpointer's lookup then reads one entry instead of every entry
// appended since the last checkpoint (≈ 1 pread per decision). A type known
// only up to an earlier point is left to LastOfType's scan.
func (s *Store) advanceLast(first uint64, st []staged) {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	upTo := first + uint64(len(st))
	for typ, ls := range s.lastOf {
		if ls.upTo != first {
			continue
		}
		for k := len(st) - 1; k >= 0; k-- {
			if st[k].r.entries[st[k].i].EventType == typ {
				ls.seq = first + uint64(k) + 1
				break
			}
		}
		ls.upTo = upTo
		s.lastOf[typ] = ls
	}
}
