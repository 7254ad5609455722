package filestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"

	"github.com/sintgate/sintgate/codes"
)

// On-disk indexes. Both are derived from ledger.log and covered by the
// mark (ledger.hashes.mark): everything they say about entries 1..mark is
// synced, and Open replays the log past the mark into them. Neither is
// trusted blindly: a position read from ledger.offsets is checked against
// the frame found there, an event id found in ledger.ids is checked against
// the frame of the sequence it names, and the background check compares both
// with the whole log after Open (see verifyDerived).
//
//	ledger.offsets  u64le file offset of the frame of sequence i+1, at 8·i
//	ledger.ids      open-addressing hash tables of 24-byte slots
//	                (16-byte event id | u64le sequence; sequence 0 = empty),
//	                one table per segment of sequences: segment k holds the
//	                sequences idBase·(2^k−1)+1 … idBase·(2^(k+1)−1) in
//	                1.5·idBase·2^k slots (load ≤ 2/3), so tables never
//	                rehash and a lookup probes ⌈log₂(n/idBase)⌉+1 tables.
const (
	offsName = "ledger.offsets"
	idsName  = "ledger.ids"
	idBase   = 1 << 16
	slotSize = 24
	// probeSlots is how many slots one read of a probe sequence covers.
	probeSlots = 128
)

var errIndexFull = errors.New("filestore: event id table full")

// idSegK describes segment k: its first sequence, its slot count and the
// file offset of its first slot.
func idSegK(k int) (first, nslots uint64, off int64) {
	first = idBase*((1<<k)-1) + 1
	nslots = (idBase << k) * 3 / 2
	off = int64(slotSize) * int64(idBase*3/2) * int64((1<<k)-1)
	return first, nslots, off
}

// idSegOf is the segment holding sequence seq (≥ 1).
func idSegOf(seq uint64) int {
	q := (seq-1)/idBase + 1
	return bits.Len64(q) - 1
}

// idHash spreads a 16-byte id over a table (splitmix64 finaliser of both
// halves; event ids are UUIDs whose first bytes are a timestamp).
func idHash(id [16]byte) uint64 {
	mix := func(x uint64) uint64 {
		x ^= x >> 30
		x *= 0xbf58476d1ce4e5b9
		x ^= x >> 27
		x *= 0x94d049bb133111eb
		x ^= x >> 31
		return x
	}
	a := binary.LittleEndian.Uint64(id[:8])
	b := binary.LittleEndian.Uint64(id[8:])
	return mix(mix(a+0x9e3779b97f4a7c15) ^ b)
}

// slotFile is where an idIndex keeps its slots (the file, or memory in the
// generator).
type slotFile interface {
	io.ReaderAt
	io.WriterAt
}

// idIndex is the event id → sequence index in ledger.ids.
type idIndex struct {
	f   slotFile
	buf []byte // probe buffer; callers serialise (the writer) or pass their own
}

// walk visits the probe sequence of id in segment k, slot by slot, until
// visit returns true. An unwritten slot reads as empty (sequence 0).
func (x *idIndex) walk(k int, id [16]byte, buf []byte, visit func(pos int64, sid [16]byte, seq uint64) bool) error {
	_, nslots, base := idSegK(k)
	h := idHash(id) % nslots
	if cap(buf) < probeSlots*slotSize {
		buf = make([]byte, probeSlots*slotSize)
	}
	for scanned := uint64(0); scanned < nslots; {
		cnt := min(uint64(probeSlots), nslots-h, nslots-scanned)
		b := buf[:cnt*slotSize]
		n, err := x.f.ReadAt(b, base+int64(h)*slotSize)
		if err != nil && err != io.EOF {
			return codes.Wrap(codes.LedgerUnavailable, "ledger: read event id index", err)
		}
		clear(b[n:])
		for i := uint64(0); i < cnt; i++ {
			s := b[i*slotSize : (i+1)*slotSize]
			var sid [16]byte
			copy(sid[:], s[:16])
			if visit(base+int64(h+i)*slotSize, sid, binary.LittleEndian.Uint64(s[16:])) {
				return nil
			}
		}
		scanned += cnt
		h = (h + cnt) % nslots
	}
	return errIndexFull
}

// candidates calls yield with every sequence ≤ n that segment k of the index
// pairs with id (the caller confirms each against the log), in probe order,
// until yield returns true.
func (x *idIndex) candidates(k int, id [16]byte, n uint64, buf []byte, yield func(seq uint64) (bool, error)) (bool, error) {
	first, _, _ := idSegK(k)
	last := first + (idBase << k) - 1
	var done bool
	var yerr error
	err := x.walk(k, id, buf, func(_ int64, sid [16]byte, seq uint64) bool {
		if seq == 0 {
			return true
		}
		if sid == id && seq >= first && seq <= last && seq <= n {
			done, yerr = yield(seq)
			return done || yerr != nil
		}
		return false
	})
	if yerr != nil {
		return false, yerr
	}
	return done, err
}

// lookup finds the first sequence ≤ n recorded for id whose frame carries id
// (confirm reads it from the log).
func (x *idIndex) lookup(id [16]byte, n uint64, buf []byte, confirm func(seq uint64, id [16]byte) (bool, error)) (uint64, bool, error) {
	if n == 0 {
		return 0, false, nil
	}
	for k := 0; k <= idSegOf(n); k++ {
		var found uint64
		ok, err := x.candidates(k, id, n, buf, func(seq uint64) (bool, error) {
			good, err := confirm(seq, id)
			if good {
				found = seq
			}
			return good, err
		})
		if err != nil {
			return 0, false, err
		}
		if ok {
			return found, true, nil
		}
	}
	return 0, false, nil
}

// insert records id → seq in seq's segment. A slot already holding id for
// an earlier sequence whose frame carries id is kept (the first occurrence
// wins, as lookups answer); one holding id for seq itself (a replay) is
// left; one holding id for a sequence whose frame does not carry it (left
// behind by a cut log) is overwritten.
func (x *idIndex) insert(id [16]byte, seq uint64, confirm func(seq uint64, id [16]byte) (bool, error)) error {
	k := idSegOf(seq)
	var target int64 = -1
	var cerr error
	err := x.walk(k, id, x.buf, func(pos int64, sid [16]byte, s uint64) bool {
		if s == 0 {
			target = pos
			return true
		}
		if sid != id {
			return false
		}
		if s == seq {
			return true // already there
		}
		if s < seq {
			ok, err := confirm(s, id)
			if err != nil {
				cerr = err
				return true
			}
			if ok {
				return true // an earlier real occurrence stays the answer
			}
		}
		target = pos
		return true
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if target < 0 {
		return nil
	}
	var slot [slotSize]byte
	copy(slot[:16], id[:])
	binary.LittleEndian.PutUint64(slot[16:], seq)
	if _, err := x.f.WriteAt(slot[:], target); err != nil {
		return codes.Wrap(codes.LedgerUnavailable, "ledger: write event id index", err)
	}
	return nil
}

// offsetFile reads and writes ledger.offsets.
type offsetFile struct{ f *os.File }

func (o offsetFile) at(seq uint64) (int64, error) {
	var b [8]byte
	if _, err := o.f.ReadAt(b[:], int64(seq-1)*8); err != nil {
		return 0, codes.Wrap(codes.LedgerUnavailable, fmt.Sprintf("ledger: read offset of sequence %d", seq), err)
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

// put writes the offsets of sequences first+1 … first+len(offs).
func (o offsetFile) put(first uint64, offs []int64) error {
	if len(offs) == 0 {
		return nil
	}
	b := make([]byte, 8*len(offs))
	for i, v := range offs {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	if _, err := o.f.WriteAt(b, int64(first)*8); err != nil {
		return codes.Wrap(codes.LedgerUnavailable, "ledger: write offsets", err)
	}
	return nil
}
