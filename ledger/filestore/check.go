package filestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// ErrDerivedMismatch is wrapped in the error that fails the store when the
// background check finds a derived file (offsets, stored hashes, event id
// index) that does not match the log.
var ErrDerivedMismatch = errors.New("filestore: derived files do not match the log")

// backgroundCheck compares the derived files that Open trusted (entries
// 1..checkUpTo) with the whole log, using at most CheckDuty of a core:
// every frame's CRC (a bad one is kept and reported, as Open did before),
// the recorded offset of every frame, every stored hash (leaves and
// interior nodes, recomputed) and the tree root they make, and that the event id index answers each entry's id with
// its sequence. On a mismatch it fails the store (appends refused with
// LEDGER_UNAVAILABLE) and clears the mark, so that the next Open rebuilds
// the derived files from the log.
func (s *Store) backgroundCheck(ctx context.Context) {
	defer close(s.checkDone)
	err := s.checkDerived(ctx, s.checkUpTo)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	s.mu.Lock()
	s.checkErr = err
	s.mu.Unlock()
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	ferr := codes.Wrap(codes.LedgerUnavailable, "ledger: store failed", errors.Join(ledger.ErrFailed, err))
	s.mu.Lock()
	if s.failed == nil {
		s.failed = ferr
	}
	s.recovered = append(s.recovered, fmt.Sprintf("background check: %v (store failed; the next open rebuilds the derived files)", err))
	s.mu.Unlock()
	if errors.Is(err, ErrDerivedMismatch) {
		// The writer appends nothing more (failed), so the mark stays 0.
		var zero [8]byte
		if _, werr := s.markf.WriteAt(zero[:], 0); werr == nil {
			_ = syscall.Fdatasync(int(s.markf.Fd()))
		}
	}
}

// Failed returns the error that failed the store (a background check that
// found the derived files disagreeing with the log, a write error), or nil.
// A failed store refuses every append (decisions deny LEDGER_UNAVAILABLE)
// and the gateway reports itself not ready.
func (s *Store) Failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// WaitChecked waits for the background check of the derived files and
// returns its outcome (nil: everything Open trusted matches the log).
func (s *Store) WaitChecked(ctx context.Context) error {
	select {
	case <-s.checkDone:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkErr
}

func (s *Store) checkDerived(ctx context.Context, upTo uint64) error {
	if upTo == 0 {
		return nil
	}
	duty := s.opts.CheckDuty
	if duty <= 0 {
		duty = 0.25
	}
	mismatch := func(seq uint64, what string) error {
		return fmt.Errorf("%w: entry %d: %s", ErrDerivedMismatch, seq, what)
	}
	s.mu.RLock()
	v := view{n: s.n, end: s.end}
	s.mu.RUnlock()
	offr := bufio.NewReaderSize(io.NewSectionReader(s.offf, 0, int64(upTo)*8), 64<<10)
	win := &hashWindow{s: s, limit: tlog.StoredHashCount(int64(upTo))}
	var tb ledger.TreeBuilder
	probe := make([]byte, probeSlots*slotSize)
	var ob [8]byte
	check := func(fr *frame) (bool, error) {
		if _, err := io.ReadFull(offr, ob[:]); err != nil {
			return false, mismatch(fr.seq, "offsets file short")
		}
		if fr.off >= 0 && int64(binary.LittleEndian.Uint64(ob[:])) != fr.off { // (archived entries have no live frame)
			return false, mismatch(fr.seq, "recorded offset differs from the frame's")
		}
		if !fr.crcOK {
			s.mu.Lock()
			if _, ok := s.corrupt[fr.seq]; !ok {
				s.corrupt[fr.seq] = "frame CRC mismatch"
				s.recovered = append(s.recovered, fmt.Sprintf("sequence %d fails its CRC (kept; Verify reports it)", fr.seq))
			}
			s.mu.Unlock()
		}
		// Every stored hash this entry completes (its leaf and the
		// interior nodes it closes), recomputed from the frame and the
		// earlier stored hashes, which are already checked.
		hs, err := tlog.StoredHashes(int64(fr.seq-1), fr.raw[:], hashReader{s, int64(upTo)})
		if err != nil {
			return false, err
		}
		base := tlog.StoredHashIndex(0, int64(fr.seq-1))
		for k, h := range hs {
			stored, err := win.read(base + int64(k))
			if err != nil {
				return false, err
			}
			if stored != h {
				if k == 0 {
					return false, mismatch(fr.seq, "stored leaf hash differs from the frame")
				}
				return false, mismatch(fr.seq, "a stored tree hash differs from the one recomputed from the leaves")
			}
		}
		tb.Append(hs[0])
		found, err := s.idx.candidates(idSegOf(fr.seq), fr.id, upTo, probe, func(seq uint64) (bool, error) { return seq == fr.seq, nil })
		if err != nil {
			return false, err
		}
		if !found {
			// Only the first entry of an id is indexed (a repeated id is
			// evidence of tampering, which Verify reports as such).
			first, ok, err := s.idx.lookup(fr.id, upTo, probe, s.confirmIDNoLock)
			if err != nil {
				return false, err
			}
			if !ok || first >= fr.seq {
				return false, mismatch(fr.seq, "event id index does not answer the entry's id")
			}
		}
		return true, nil
	}
	// In chunks, resting between them (nothing held) to keep to the duty.
	for lo := uint64(1); lo <= upTo; lo += framesChunk {
		start := time.Now()
		if err := s.frames(ctx, v, lo, min(upTo, lo+framesChunk-1), check); err != nil {
			return err
		}
		if duty < 1 {
			t := time.NewTimer(time.Duration(float64(time.Since(start)) * (1 - duty) / duty))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
		}
	}
	th, err := tlog.TreeHash(int64(upTo), hashReader{s, int64(upTo)})
	if err != nil {
		return err
	}
	if th != tb.Root() {
		return mismatch(upTo, "stored tree hashes do not make the root of the leaves")
	}
	return nil
}
