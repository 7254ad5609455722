// Package client is the Go SDK of sintgate: what agents, bridges, sintctl
// and sint-bench use to talk to a gateway over HTTP (PROTOCOL.md §4–§8).
//
//   - [Agent] makes agent-signed calls: every body carries agentId,
//     requestId (UUIDv7) and timestamp (unix ms), and is sent with
//     X-Agent-Id, X-Agent-Timestamp and X-Agent-Sig = base64url(Ed25519
//     signature of the exact body bytes). Intercept, InterceptBatch,
//     WaitApproval, Trip and Delegate are built on it.
//   - [Operator] makes API-key calls (Authorization: Bearer sk_…) through one
//     generic Do method.
//   - Errors that are not decisions come back as *[APIError], parsed from the
//     gateway's {"error":{"code","message"}} bodies; errors.As and codes.Of
//     both work on them.
//
// Every method that does I/O takes ctx first. Agent and Operator hold no
// mutable state and are safe for concurrent use.
package client
