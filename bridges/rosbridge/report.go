package rosbridge

import "github.com/sintgate/sintgate/bridges/topicbridge"

// DecisionsTopic is the default topic of decision reports (std_msgs/String
// carrying Report JSON).
const DecisionsTopic = topicbridge.DecisionsTopic

// Report outcomes besides the gateway's decisions (package topicbridge).
const (
	OutcomeDeny       = topicbridge.OutcomeDeny       // the gateway denied (Code is its code)
	OutcomeEscalate   = topicbridge.OutcomeEscalate   // held until approved or expired
	OutcomeDropped    = topicbridge.OutcomeDropped    // the bridge refused (Code says why)
	OutcomeSuperseded = topicbridge.OutcomeSuperseded // a held message replaced by a newer one
	OutcomeSafeStop   = topicbridge.OutcomeSafeStop   // safe stops published: the bridge latched, or (Topic set) one route stopped
	OutcomeResumed    = topicbridge.OutcomeResumed    // the latch cleared
	OutcomeReset      = topicbridge.OutcomeReset      // the bridge-local reset cleared a fault latch
)

// Report is one line on the decisions topic (topicbridge.Report). Allowed
// messages are not reported (they arrive on the actuator topic).
type Report = topicbridge.Report

// MaxReportBytes bounds a report a consumer parses.
const MaxReportBytes = topicbridge.MaxReportBytes

// ParseReport decodes a report (for consumers of the decisions topic).
func ParseReport(b []byte) (Report, error) { return topicbridge.ParseReport(b) }
