// Package ledger is the evidence ledger (PROTOCOL.md §9): entry hashing, the hash
// chain, the RFC 6962 Merkle tree, signed checkpoints and proofs (pure), with
// durable stores in sub-packages.
package ledger
