// Package ledger is the evidence ledger of PROTOCOL.md §9: entry hashing, the
// hash chain, the RFC 6962 Merkle tree over entry hashes, signed checkpoints
// (C2SP signed notes) and proofs. Everything in this package is pure: no I/O,
// no clock (callers pass times in), no goroutines.
//
// # Concepts
//
//   - An Entry is one ledger record. Its Hash is sha256 of the RFC 8785 (JCS)
//     canonical form of its fields with sequenceNumber as a decimal string
//     (HashEntry). Entries link through PreviousHash; the first links to
//     ZeroHash.
//   - The entries are the leaves of an RFC 6962 Merkle tree whose leaf data is
//     the 32 raw bytes of the entry hash (LeafHash). Proofs are
//     golang.org/x/mod/sumdb/tlog proofs over the stored hashes a Store keeps.
//   - A Checkpoint signs (tree size, root hash) as a C2SP signed note under the
//     key name "sintgate/<gateway id>".
//   - A Store appends entries durably and serves reads and proofs. Stores live
//     in sub-packages: ledger/filestore (embedded, default) and
//     ledger/pgledger (PostgreSQL). ledger/ledgertest is the contract suite
//     both pass.
//
// The wire forms (Entry JSON, NDJSON export, checkpoint JSON) are described in
// docs/ledger.md.
package ledger
