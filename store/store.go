// Package store defines the gateway's persistent state (everything except the
// evidence ledger, which lives in package ledger) as small interfaces, with two
// implementations that pass one contract test suite: an embedded single-node
// store (store/embedded, no server) and PostgreSQL (store/pgstore) for
// replicated deployments.
//
// All methods take ctx first and are safe for concurrent use. Errors that a
// caller acts on are the sentinel values below (test with errors.Is); any other
// error means the store could not answer and the caller must fail closed.
//
// Every time.Time a store returns is in UTC, truncated to microseconds
// (NormTime). Ids are at most MaxIDBytes bytes and stored strings must be
// valid UTF-8 without NUL bytes; other input is refused with a plain error.
// List methods return non-nil slices, ordered as documented on each.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	// ErrConflict is returned by compare-and-set updates whose expected
	// version no longer matches.
	ErrConflict = errors.New("store: conflict")
)

// Root is a trusted root issuer key (PROTOCOL.md §3.1 step 3).
type Root struct {
	PublicKey string    `json:"publicKey"` // 64 lowercase hex
	Name      string    `json:"name"`
	AddedAt   time.Time `json:"addedAt"`
}

// Roots holds the trusted-root registry.
type Roots interface {
	PutRoot(ctx context.Context, r Root) error // idempotent: replaces the name, keeps the first AddedAt
	DeleteRoot(ctx context.Context, publicKey string) error
	ListRoots(ctx context.Context) ([]Root, error)
}

// APIKey is an operator or service key. Only sha256(secret) is stored.
type APIKey struct {
	ID         string    `json:"id"`
	SecretHash []byte    `json:"-"` // sha256 of the secret part
	OperatorID string    `json:"operatorId"`
	Scopes     []string  `json:"scopes"`
	CreatedAt  time.Time `json:"createdAt"`
}

// APIKeys holds operator API keys.
type APIKeys interface {
	PutAPIKey(ctx context.Context, k APIKey) error // ErrExists if the id is taken
	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	DeleteAPIKey(ctx context.Context, id string) error
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
}

// TokenRecord is a registered capability token, kept as its exact bytes.
type TokenRecord struct {
	TokenID       string     `json:"tokenId"`
	Raw           string     `json:"token"` // the compact JWS, byte for byte as registered
	Issuer        string     `json:"issuer"`
	Subject       string     `json:"subject"`
	ParentTokenID string     `json:"parentTokenId,omitempty"`
	RegisteredAt  time.Time  `json:"registeredAt"`
	RevokedAt     *time.Time `json:"revokedAt,omitempty"`
}

// TokenFilter selects tokens in ListTokens; empty fields match everything.
type TokenFilter struct {
	Subject       string
	Issuer        string
	ParentTokenID string
	Limit         int // 0 = no limit
}

// Tokens holds registered tokens and their revocations.
type Tokens interface {
	// PutToken registers t. ErrExists if the id is taken with other bytes;
	// same bytes is a no-op. A token whose parent is revoked (already, or by
	// a revocation committing concurrently) is stored revoked, with the
	// parent's RevokedAt.
	PutToken(ctx context.Context, t TokenRecord) error
	GetToken(ctx context.Context, id string) (TokenRecord, error)
	ListTokens(ctx context.Context, f TokenFilter) ([]TokenRecord, error)
	// RevokeToken revokes id and every registered descendant in one
	// transaction and returns the ids newly revoked, id first, then
	// descendants breadth-first (siblings in token-id order). Already-revoked
	// tokens are not repeated: a second call returns an empty slice.
	// An id that is not registered (a token only ever presented inline, or
	// not registered yet) is recorded as revoked all the same and returned
	// alone ([id]); it is then listed by RevokedTokens and RevokedSince, and
	// a token later stored under it is stored revoked. ErrNotFound only for
	// an id that could not be stored at all (empty, too long, not UTF-8).
	RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error)
	// RevokedTokens returns every revoked token id, registered or not
	// (used to build the in-memory revocation set at start).
	RevokedTokens(ctx context.Context) ([]string, error)
}

// ApprovalVote is one operator's vote on an approval.
type ApprovalVote struct {
	OperatorID string `json:"operatorId"`
	Vote       string `json:"vote"` // "approve" | "deny"
	Reason     string `json:"reason"`
	At         int64  `json:"at"` // unix ms
}

// Approval is an escalated request waiting for, or resolved by, operators
// (PROTOCOL.md §7). Decision is the final decision body once resolved.
type Approval struct {
	ApprovalID        string         `json:"approvalId"`
	State             string         `json:"state"` // pending|approved|denied|expired|cancelled
	RequestID         string         `json:"requestId"`
	AgentID           string         `json:"agentId"`
	TokenID           string         `json:"tokenId"`
	Resource          string         `json:"resource"`
	Action            string         `json:"action"`
	Params            []byte         `json:"params"` // raw JSON
	Tier              int            `json:"tier"`
	RequiredApprovals int            `json:"requiredApprovals"`
	Votes             []ApprovalVote `json:"votes"`
	CreatedAt         int64          `json:"createdAt"`
	ExpiresAt         int64          `json:"expiresAt"`
	ResolvedAt        *int64         `json:"resolvedAt"`
	Decision          []byte         `json:"decision"` // raw JSON, nil while pending
	// Extra is implementation data of the approvals service (for example the
	// original request needed to issue the attestation), opaque to stores.
	Extra []byte `json:"extra,omitempty"`
	// Version is incremented by every successful UpdateApproval.
	Version int64 `json:"-"`
}

// Approvals holds approvals.
type Approvals interface {
	// CreateApproval stores a new pending approval with Version 1. If one
	// already exists for (AgentID, RequestID) it returns that one and
	// ErrExists.
	CreateApproval(ctx context.Context, a Approval) (Approval, error)
	GetApproval(ctx context.Context, id string) (Approval, error)
	// UpdateApproval replaces the approval if its stored Version equals
	// a.Version, storing a.Version+1; otherwise ErrConflict (ErrNotFound if
	// it does not exist). AgentID and RequestID cannot change.
	UpdateApproval(ctx context.Context, a Approval) (Approval, error)
	// ListApprovals lists approvals in the given state ("" = all), newest
	// CreatedAt first (ties: approval id descending); limit 0 = no limit.
	ListApprovals(ctx context.Context, state string, limit int) ([]Approval, error)
}

// EstopSource is one latched or cleared trip source.
type EstopSource struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"` // "tripped" | "clear"
	Since int64  `json:"since"` // unix ms
}

// EstopState is the persisted breaker state (PROTOCOL.md §8).
type EstopState struct {
	State   string        `json:"state"` // "armed" | "tripped"
	Epoch   uint64        `json:"epoch"`
	Since   int64         `json:"since"`
	Reason  string        `json:"reason"`
	Sources []EstopSource `json:"sources"`
}

// Estop holds the breaker state so that it survives restarts.
type Estop interface {
	GetEstop(ctx context.Context) (EstopState, error) // zero value with State "armed" when never set
	PutEstop(ctx context.Context, s EstopState) error
}

// Agent is a registered agent (discovery, PROTOCOL.md §10).
type Agent struct {
	AgentID      string            `json:"agentId"` // = public key hex
	Name         string            `json:"name"`
	Owner        string            `json:"owner,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Capabilities []string          `json:"capabilities,omitempty"`
	RegisteredAt int64             `json:"registeredAt"`
	CircuitOpen  bool              `json:"circuitOpen"`
	CircuitSince int64             `json:"circuitSince,omitempty"`
	CircuitCause string            `json:"circuitCause,omitempty"`
}

// Agents holds the agent registry and circuit states.
type Agents interface {
	PutAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	DeleteAgent(ctx context.Context, id string) error
	ListAgents(ctx context.Context) ([]Agent, error)
}

// Store is everything the gateway persists outside the ledger.
type Store interface {
	Roots
	APIKeys
	Tokens
	Approvals
	Estop
	Agents
	// Ping reports whether the store can currently be written.
	Ping(ctx context.Context) error
	Close() error
}
