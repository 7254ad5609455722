package mcpbridge

import (
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/codes"
)

// MetaKey is the _meta member of a refused call's result that carries its
// Outcome.
const MetaKey = "sintgate/decision"

// Outcome kinds.
const (
	// OutcomeDeny: the gateway denied the call (or its approval).
	OutcomeDeny = "deny"
	// OutcomeRefused: the bridge refused the call on its own: malformed
	// arguments, an attestation that did not verify, the latch, an
	// unreachable gateway, a wait that ended without a decision.
	OutcomeRefused = "refused"
)

// Outcome describes a call that was not forwarded. It travels as
// _meta["sintgate/decision"] of the tool error result.
type Outcome struct {
	Outcome    string `json:"outcome"` // OutcomeDeny or OutcomeRefused
	Code       string `json:"code"`    // a codes.Code value
	Reason     string `json:"reason"`
	Resource   string `json:"resource,omitempty"`
	RequestID  string `json:"requestId,omitempty"`  // the intercept's requestId, if one was sent
	ApprovalID string `json:"approvalId,omitempty"` // for escalated calls
}

// Result returns the MCP tool error result carrying o: isError, one text
// content "sintgate <outcome> <code>: <reason>", and o under MetaKey.
func (o Outcome) Result() *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Meta:    mcp.Meta{MetaKey: o},
		Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("sintgate %s %s: %s", o.Outcome, o.Code, o.Reason)}},
		IsError: true,
	}
}

// OutcomeOf returns the Outcome of a tool result the bridge produced, and
// false for any other result (a forwarded call's own result, even an
// error one).
func OutcomeOf(res *mcp.CallToolResult) (Outcome, bool) {
	if res == nil || !res.IsError || res.Meta == nil {
		return Outcome{}, false
	}
	v, ok := res.Meta[MetaKey]
	if !ok {
		return Outcome{}, false
	}
	if o, ok := v.(Outcome); ok {
		return o, true
	}
	b, err := json.Marshal(v) // a result that came over the wire holds a map
	if err != nil {
		return Outcome{}, false
	}
	var o Outcome
	if json.Unmarshal(b, &o) != nil || o.Code == "" {
		return Outcome{}, false
	}
	return o, true
}

func refused(resource, requestID string, code codes.Code, reason string) *mcp.CallToolResult {
	return Outcome{Outcome: OutcomeRefused, Code: string(code), Reason: reason, Resource: resource, RequestID: requestID}.Result()
}
