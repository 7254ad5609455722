package mqttbridge

import "github.com/sintgate/sintgate/bridges/rosbridge"

// ReportTopic is the default topic of decision reports (JSON Report
// payloads, QoS 1, not retained).
const ReportTopic = "sint/decisions"

// Report is one JSON payload on the report topic; the same shape as the ROS
// bridge's (Topic is the agent topic, Resource the intercept resource).
// Allowed messages are not reported: they arrive on the device topic.
type Report = rosbridge.Report

// Report outcomes (the ROS bridge's, plus OutcomeCoalesced).
const (
	OutcomeDeny       = rosbridge.OutcomeDeny       // the gateway denied (Code is its code)
	OutcomeEscalate   = rosbridge.OutcomeEscalate   // held until approved, denied or expired
	OutcomeDropped    = rosbridge.OutcomeDropped    // the bridge refused (Code says why)
	OutcomeSuperseded = rosbridge.OutcomeSuperseded // a held message replaced by a newer one
	OutcomeSafeStop   = rosbridge.OutcomeSafeStop   // safe stops published: the bridge latched, or (Topic set) one route stopped
	OutcomeResumed    = rosbridge.OutcomeResumed    // the latch cleared
	OutcomeReset      = rosbridge.OutcomeReset      // the bridge-local reset cleared a fault latch
	// OutcomeCoalesced: a message replaced in the route's one-slot mailbox
	// by a newer one before it was sent to the gateway; never actuated.
	OutcomeCoalesced = "coalesced"
)

// ParseReport decodes a report payload (for consumers of the report topic).
func ParseReport(b []byte) (Report, error) { return rosbridge.ParseReport(b) }
