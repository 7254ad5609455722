package risk

import (
	"github.com/sintgate/sintgate/codes"
)

// Event is one scored decision as pushed to stream subscribers.
type Event struct {
	Seq       uint64  `json:"seq"` // publication order, from 1
	At        int64   `json:"at"`  // unix ms
	RequestID string  `json:"requestId,omitempty"`
	AgentID   string  `json:"agentId,omitempty"`
	Resource  string  `json:"resource,omitempty"`
	Action    string  `json:"action,omitempty"`
	Decision  string  `json:"decision"`
	Tier      int     `json:"tier"`
	Code      string  `json:"code,omitempty"`
	Stage     int     `json:"stage"`
	Risk      float64 `json:"risk"`
	Anomalous bool    `json:"anomalous,omitempty"`
	Severe    bool    `json:"severe,omitempty"`
	LatencyUs int64   `json:"latencyUs"`
	LedgerSeq uint64  `json:"ledgerSeq,omitempty"`
}

// Input returns the scoring input of e.
func (e *Event) Input() Input {
	return Input{Decision: e.Decision, Tier: e.Tier, Code: codes.Code(e.Code), Severe: e.Severe, Anomalous: e.Anomalous}
}

// Filter selects stream events; zero fields match everything.
type Filter struct {
	AgentID  string  `json:"agentId,omitempty"`
	Resource string  `json:"resource,omitempty"` // exact, or a prefix ending in "*"
	MinRisk  float64 `json:"minRisk,omitempty"`
}

// Match reports whether e passes f.
func (f *Filter) Match(e *Event) bool {
	if f.AgentID != "" && f.AgentID != e.AgentID {
		return false
	}
	if f.Resource != "" {
		if n := len(f.Resource); f.Resource[n-1] == '*' {
			if len(e.Resource) < n-1 || e.Resource[:n-1] != f.Resource[:n-1] {
				return false
			}
		} else if f.Resource != e.Resource {
			return false
		}
	}
	return e.Risk >= f.MinRisk
}

// Limits on client filters (untrusted input).
const (
	MaxFilterResource = 512
	MaxFilterAgent    = 64
)

// Valid reports whether f is acceptable from a client.
func (f *Filter) Valid() bool {
	return len(f.AgentID) <= MaxFilterAgent && len(f.Resource) <= MaxFilterResource &&
		f.MinRisk >= 0 && f.MinRisk <= 1
}
