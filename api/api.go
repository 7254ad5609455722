// Package api holds the wire types of the gateway's HTTP contract
// (PROTOCOL.md §5–§9) shared by the server, the Go client, the bridges and
// sintctl. It only describes JSON; it does no I/O.
package api

import "encoding/json"

// Protocol is the value of the X-SINT-Protocol header and of the protocol
// field in /.well-known/sint.json.
const Protocol = "sintgate/v1"

// bridgeKinds are the bridge kinds the product ships (packages under
// bridges/), in the order /.well-known/sint.json lists them.
var bridgeKinds = [...]string{"ros1", "ros2", "gpio", "mqtt", "mcp"}

// Bridges returns the bridge kinds the product ships, as advertised in the
// bridges field of /.well-known/sint.json: "ros1" (bridges/rosbridge),
// "ros2" (bridges/ros2bridge), "gpio" (bridges/gpio), "mqtt" (bridges/mqttbridge) and "mcp"
// (bridges/mcpbridge). The slice is a fresh copy.
func Bridges() []string { return append([]string(nil), bridgeKinds[:]...) }

// Header names of agent request authentication (PROTOCOL.md §4).
const (
	HeaderAgentID        = "X-Agent-Id"
	HeaderAgentTimestamp = "X-Agent-Timestamp"
	HeaderAgentSig       = "X-Agent-Sig"
	HeaderProtocol       = "X-SINT-Protocol"
)

// Decision values.
const (
	Allow    = "allow"
	Deny     = "deny"
	Escalate = "escalate"
)

// InterceptRequest is the body of POST /v1/intercept (PROTOCOL.md §5).
type InterceptRequest struct {
	RequestID       string           `json:"requestId"`
	AgentID         string           `json:"agentId"`
	Timestamp       int64            `json:"timestamp"`
	TokenID         string           `json:"tokenId,omitempty"`
	Token           string           `json:"token,omitempty"`
	Chain           []string         `json:"chain,omitempty"`
	Resource        string           `json:"resource"`
	Action          string           `json:"action"`
	Params          json.RawMessage  `json:"params,omitempty"`
	PhysicalContext *PhysicalContext `json:"physicalContext,omitempty"`
	RecentActions   []string         `json:"recentActions,omitempty"`
}

// Point is a position in the geofence frame, metres.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// PhysicalContext is self-reported by the agent; it may only make a decision
// stricter.
type PhysicalContext struct {
	HumanDetected      *bool    `json:"humanDetected,omitempty"`
	CurrentVelocityMps *float64 `json:"currentVelocityMps,omitempty"`
	CurrentPosition    *Point   `json:"currentPosition,omitempty"`
}

// LedgerRef points at the ledger entry that records a decision.
type LedgerRef struct {
	EventID  string `json:"eventId"`
	Sequence uint64 `json:"sequence"`
	Hash     string `json:"hash"`
}

// Decision is the decision body of PROTOCOL.md §5.2. Every key is always
// present; fields that do not apply are null.
type Decision struct {
	RequestID         *string         `json:"requestId"`
	Decision          string          `json:"decision"`
	Tier              int             `json:"tier"`
	Code              *string         `json:"code"`
	Reason            *string         `json:"reason"`
	ApprovalID        *string         `json:"approvalId"`
	Attestation       *string         `json:"attestation"`
	Envelope          json.RawMessage `json:"envelope"`
	Ledger            *LedgerRef      `json:"ledger"`
	PolicyHash        *string         `json:"policyHash"`
	RequiredApprovals *int            `json:"requiredApprovals,omitempty"`
	ExpiresAt         *int64          `json:"expiresAt,omitempty"`
}

// ErrorBody is the body of a non-decision error (PROTOCOL.md §5.4).
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}
