package risk

import (
	"time"

	"github.com/sintgate/sintgate/gateway"
)

// Monitor scores every decision the pipeline observes, updates the tracker
// and the statistics, and publishes to the hub. Observe is called in the
// request goroutine: it takes a few short locks and never blocks on a
// subscriber.
type Monitor struct {
	Hub     Hub
	Tracker Tracker
	Stats   Stats
	// Anomalous tells whether the anomaly detector flags an agent; nil = never.
	Anomalous func(agentID string) bool
}

// Observe turns one decision into a scored Event and records it. now is
// the decision's time.
func (m *Monitor) Observe(req *gateway.Request, res *gateway.Result, now time.Time) Event {
	e := Event{
		At: now.UnixMilli(), Decision: res.Body.Decision, Tier: res.Body.Tier, Stage: res.Outcome.Stage,
		Severe: res.Outcome.Physics.Severe, LatencyUs: res.Duration.Microseconds(),
	}
	if res.Body.Code != nil {
		e.Code = *res.Body.Code
	}
	if req != nil {
		e.RequestID, e.AgentID, e.Resource, e.Action = req.RequestID, req.AgentID, req.Resource, req.Action
	}
	if res.Entry != nil {
		e.LedgerSeq = res.Entry.SequenceNumber
	}
	// Only a decision with a ledger entry passed authentication: the agent
	// id of a rejected request is whatever the sender wrote.
	authenticated := res.Entry != nil && e.AgentID != ""
	if authenticated && m.Anomalous != nil {
		e.Anomalous = m.Anomalous(e.AgentID)
	}
	e.Risk = Score(e.Input())
	m.Stats.Add(&e)
	e = m.Hub.Publish(e)
	if authenticated {
		m.Tracker.Observe(e)
	}
	return e
}
