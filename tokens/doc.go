// Package tokens implements sintgate capability tokens (PROTOCOL.md §2–3): the
// compact-JWS EdDSA format, issuing, parsing with limits, chain verification,
// attenuation, resource-pattern matching and containment, and the revocation
// set. It is pure: no I/O, no clock reads (the caller passes now).
package tokens
