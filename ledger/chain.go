package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
)

// ChainError reports the first entry that breaks the chain.
type ChainError struct {
	Sequence uint64 // sequence number (position) of the first bad entry
	Reason   string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("ledger: chain broken at sequence %d: %s", e.Sequence, e.Reason)
}

// Code makes ChainError carry a stable code for adapters.
func (e *ChainError) Code() codes.Code { return codes.Conflict }

// ChainVerifier checks entries one at a time, in order, in constant memory:
// gap-free sequence numbers, each hash recomputed, each previousHash linked,
// timestamps never decreasing. It also folds the entry hashes into the
// RFC 6962 tree so that Root gives the Merkle root of the entries seen (when
// the verifier started at sequence 1). The zero value is not usable; use
// NewChainVerifier.
type ChainVerifier struct {
	next   uint64
	prev   string
	prevTS string
	tree   TreeBuilder
	rooted bool
	bad    *ChainError
}

// NewChainVerifier returns a verifier expecting the entry with sequence
// number first whose previousHash is prev (ZeroHash when first is 1).
func NewChainVerifier(first uint64, prev string) *ChainVerifier {
	if first == 0 {
		first = 1
	}
	return &ChainVerifier{next: first, prev: prev, rooted: first == 1}
}

// Add checks e. It returns a *ChainError for the first bad entry; after that
// every call returns the same error.
func (v *ChainVerifier) Add(e *Entry) error {
	if v.bad != nil {
		return v.bad
	}
	fail := func(reason string) error {
		v.bad = &ChainError{Sequence: v.next, Reason: reason}
		return v.bad
	}
	if e.SequenceNumber != v.next {
		return fail(fmt.Sprintf("sequenceNumber %d, want %d", e.SequenceNumber, v.next))
	}
	if err := ValidateEntry(e); err != nil {
		return fail(err.Error())
	}
	if e.PreviousHash != v.prev {
		return fail("previousHash does not match the previous entry's hash")
	}
	if v.prevTS != "" && e.Timestamp < v.prevTS {
		return fail("timestamp earlier than the previous entry's")
	}
	h, err := HashEntry(e)
	if err != nil {
		return fail(err.Error())
	}
	if h != e.Hash {
		return fail("hash does not match the entry's content")
	}
	raw, _ := RawHash(h)
	v.tree.Append(LeafHash(raw))
	v.prev, v.prevTS = h, e.Timestamp
	v.next++
	return nil
}

// Checked returns how many entries passed.
func (v *ChainVerifier) Checked() uint64 { return uint64(v.tree.Size()) }

// Head returns the hash of the last good entry (the initial prev if none).
func (v *ChainVerifier) Head() string { return v.prev }

// Root returns the Merkle tree hash of the entries checked so far. It is
// only meaningful when the verifier started at sequence 1 (ok reports that).
func (v *ChainVerifier) Root() (root tlog.Hash, ok bool) {
	return v.tree.Root(), v.rooted
}

// VerifyChain checks entries in order starting from prev (ZeroHash for a
// chain that starts at sequence 1). The first entry's sequence number sets
// the expected start. On success it returns (0, nil); otherwise the sequence
// number (position) of the first bad entry and a *ChainError.
func VerifyChain(entries iter.Seq[*Entry], prev string) (firstBad uint64, err error) {
	var v *ChainVerifier
	for e := range entries {
		if v == nil {
			start := e.SequenceNumber
			if prev == ZeroHash || start == 0 {
				start = 1
			}
			v = NewChainVerifier(start, prev)
		}
		if err := v.Add(e); err != nil {
			ce := err.(*ChainError)
			return ce.Sequence, ce
		}
	}
	return 0, nil
}

// VerifySlice is VerifyChain over a slice.
func VerifySlice(entries []Entry, prev string) (firstBad uint64, err error) {
	return VerifyChain(func(yield func(*Entry) bool) {
		for i := range entries {
			if !yield(&entries[i]) {
				return
			}
		}
	}, prev)
}

// NDJSONReport is the result of VerifyNDJSON.
type NDJSONReport struct {
	Valid            bool
	Checked          uint64  // entries that passed
	FirstBadSequence *uint64 // position (sequence) of the first bad line
	Reason           string
	Root             tlog.Hash            // Merkle root of the Checked entries
	Roots            map[uint64]tlog.Hash // roots at the requested sizes reached
}

// VerifyNDJSON reads an export (one canonical entry per line, starting at
// sequence 1) from r and checks the chain and the Merkle tree in constant
// memory. It records the root at each size in atSizes it reaches. progress,
// if non-nil, is called every 4096 entries. The error is for read failures
// only; a bad entry is reported in the NDJSONReport.
func VerifyNDJSON(r io.Reader, atSizes []uint64, progress func(checked uint64)) (NDJSONReport, error) {
	rep := NDJSONReport{Roots: map[uint64]tlog.Hash{}}
	want := map[uint64]bool{}
	for _, s := range atSizes {
		want[s] = true
	}
	if want[0] {
		rep.Roots[0] = tlog.Hash{}
	}
	v := NewChainVerifier(1, ZeroHash)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxEntryBytes+2)
	fail := func(reason string) (NDJSONReport, error) {
		seq := v.Checked() + 1
		rep.FirstBadSequence, rep.Reason = &seq, reason
		rep.Root, _ = v.Root()
		return rep, nil
	}
	for sc.Scan() {
		e, err := DecodeEntry(sc.Bytes())
		if err != nil {
			return fail(err.Error())
		}
		if err := v.Add(&e); err != nil {
			return fail(err.(*ChainError).Reason)
		}
		n := v.Checked()
		rep.Checked = n
		if want[n] {
			rep.Roots[n], _ = v.Root()
		}
		if progress != nil && n%4096 == 0 {
			progress(n)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fail(fmt.Sprintf("line over %d bytes", MaxEntryBytes))
		}
		return rep, err
	}
	if progress != nil {
		progress(v.Checked())
	}
	rep.Valid = true
	rep.Root, _ = v.Root()
	return rep, nil
}
