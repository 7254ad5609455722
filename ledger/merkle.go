package ledger

import (
	"encoding/hex"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// LeafHash is the RFC 6962 leaf hash of an entry: SHA-256(0x00 || the 32 raw
// bytes of the entry hash). It equals tlog.RecordHash(raw[:]).
func LeafHash(raw [32]byte) tlog.Hash { return tlog.RecordHash(raw[:]) }

// EntryLeafHash is LeafHash of the hex hash of an entry.
func EntryLeafHash(hexHash string) (tlog.Hash, error) {
	raw, err := RawHash(hexHash)
	if err != nil {
		return tlog.Hash{}, err
	}
	return LeafHash(raw), nil
}

// TreeBuilder computes the RFC 6962 root of a growing list of leaves in
// O(log n) memory (a compact range of perfect subtrees). The zero value is
// an empty tree.
type TreeBuilder struct {
	stack []tlog.Hash // roots of perfect subtrees, largest first
	sizes []int64
	n     int64
}

// Append adds a leaf hash (LeafHash).
func (b *TreeBuilder) Append(leaf tlog.Hash) {
	h, s := leaf, int64(1)
	for len(b.sizes) > 0 && b.sizes[len(b.sizes)-1] == s {
		last := len(b.stack) - 1
		h = tlog.NodeHash(b.stack[last], h)
		s *= 2
		b.stack, b.sizes = b.stack[:last], b.sizes[:last]
	}
	b.stack = append(b.stack, h)
	b.sizes = append(b.sizes, s)
	b.n++
}

// Size returns the number of leaves.
func (b *TreeBuilder) Size() int64 { return b.n }

// Root returns the RFC 6962 tree hash (for 0 leaves, the zero Hash, as
// tlog.TreeHash returns).
func (b *TreeBuilder) Root() tlog.Hash {
	if len(b.stack) == 0 {
		return tlog.Hash{}
	}
	h := b.stack[len(b.stack)-1]
	for i := len(b.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(b.stack[i], h)
	}
	return h
}

// HexHashes formats proof hashes as lowercase hex, as on the wire.
func HexHashes(p []tlog.Hash) []string {
	out := make([]string, len(p))
	for i, h := range p {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

// ParseHexHash parses 64 lowercase hex characters.
func ParseHexHash(s string) (tlog.Hash, error) {
	raw, err := RawHash(s)
	if err != nil {
		return tlog.Hash{}, invalid(fmt.Sprintf("bad hash %q", truncate(s)), err)
	}
	return tlog.Hash(raw), nil
}

// ParseHexHashes parses a wire proof.
func ParseHexHashes(ss []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		h, err := ParseHexHash(s)
		if err != nil {
			return nil, err
		}
		out[i] = h
	}
	return out, nil
}

// VerifyInclusion checks that the entry with hex hash entryHash is leaf
// index (= sequenceNumber − 1) of the tree of size treeSize with root root.
func VerifyInclusion(proof []tlog.Hash, treeSize, index uint64, root tlog.Hash, entryHash string) error {
	leaf, err := EntryLeafHash(entryHash)
	if err != nil {
		return err
	}
	if treeSize > 1<<62 || index >= treeSize {
		return invalid("index outside tree", nil)
	}
	return tlog.CheckRecord(tlog.RecordProof(proof), int64(treeSize), root, int64(index), leaf)
}

// VerifyConsistency checks that the tree of size from with root oldRoot is a
// prefix of the tree of size to with root newRoot.
func VerifyConsistency(proof []tlog.Hash, from, to uint64, oldRoot, newRoot tlog.Hash) error {
	if to > 1<<62 || from > to {
		return invalid("bad tree sizes", nil)
	}
	return tlog.CheckTree(tlog.TreeProof(proof), int64(to), newRoot, int64(from), oldRoot)
}
