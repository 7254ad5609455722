package ledger

import (
	"fmt"
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
