package topicbridge

import (
	"encoding/json"
	"fmt"
)

// DecisionsTopic is the default topic of decision reports (std_msgs/String
// carrying Report JSON), in ROS 1 and ROS 2 alike.
const DecisionsTopic = "/sint/decisions"

// Report outcomes besides the gateway's decisions.
const (
	OutcomeDeny       = "deny"       // the gateway denied (Code is its code)
	OutcomeEscalate   = "escalate"   // held until approved or expired
	OutcomeDropped    = "dropped"    // the bridge refused (Code says why)
	OutcomeSuperseded = "superseded" // a held message replaced by a newer one
	OutcomeSafeStop   = "safe_stop"  // safe stops published: the bridge latched, or (Topic set) one route stopped
	OutcomeResumed    = "resumed"    // the latch cleared
	OutcomeReset      = "reset"      // the bridge-local reset cleared a fault latch
)

// Report is one line on the decisions topic. Allowed messages are not
// reported (they arrive on the actuator topic).
type Report struct {
	Outcome    string `json:"outcome"`
	Topic      string `json:"topic,omitempty"`    // agent topic
	Resource   string `json:"resource,omitempty"` // intercept resource
	RequestID  string `json:"requestId,omitempty"`
	Code       string `json:"code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	ApprovalID string `json:"approvalId,omitempty"`
	AtMs       int64  `json:"at"` // unix ms (bridge clock)
}

// MaxReportBytes bounds a report a consumer parses.
const MaxReportBytes = 8 << 10

// ParseReport decodes a report (for consumers of the decisions topic).
func ParseReport(b []byte) (Report, error) {
	var r Report
	if len(b) > MaxReportBytes {
		return r, fmt.Errorf("topicbridge: report over %d bytes", MaxReportBytes)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("topicbridge: report: %w", err)
	}
	if r.Outcome == "" {
		return Report{}, fmt.Errorf("topicbridge: report without outcome")
	}
	return r, nil
}
