// Package attest holds the gateway's signing keys and its decision
// attestations (PROTOCOL.md §6).
//
// # Concepts
//
//   - A [Keyset] is the gateway's set of Ed25519 signing keys: exactly one
//     active key that signs new attestations (and ledger checkpoints), plus
//     superseded keys that stay published in the JWKS for a retention period
//     (default 7 days, never less than 24 h) so that attestations and
//     checkpoints signed before a rotation keep verifying. It is persisted as
//     one JSON file (mode 0600, atomic replace) by [LoadOrCreate] and
//     [Keyset.Rotate]; those two and [Keyset.Save] are the only functions in
//     the package that do I/O.
//   - An attestation is a compact JWS with header
//     {"alg":"EdDSA","typ":"sint-attest+jwt","kid":…} over [Claims]. The
//     gateway signs one for every allow with [Sign]; bridges and actuators
//     check it with a [Verifier] built from the gateway's JWKS document (or a
//     [JWKSCache] that fetches and refreshes it) before they actuate.
//   - [ParamsHash] is sha256(JCS(params)) in lowercase hex: the binding between
//     an attestation and the exact command parameters it allows.
//
// Signing, verification and hashing are pure: no clock reads (callers pass
// now), no I/O, no goroutines. Keyset, Verifier and JWKSCache are safe for
// concurrent use.
//
// Every verification failure is a *codes.Error (so codes.Of gives the wire
// code) whose cause is a *VerifyError carrying a finer, stable [Reason].
package attest
