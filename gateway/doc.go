// Package gateway owns the intercept pipeline (PROTOCOL.md §5): a pure decision
// core that runs the stages over an immutable snapshot of facts, and the
// adapters around it (HTTP server, approvals, attestation signing).
package gateway
