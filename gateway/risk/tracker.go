package risk

import (
	"math"
	"slices"
	"sync"
	"time"
)

// HalfLife is how fast an agent's current risk decays towards 0 after its
// riskiest recent decision: current = max(score, previous · 2^(−Δt/HalfLife)).
const HalfLife = 5 * time.Minute

// MaxAgents bounds the agents the tracker remembers; past it, agents whose
// decayed risk is below 0.01 are forgotten first, and a new agent is not
// tracked while every slot holds a live risk.
const MaxAgents = 65_536

// MaxAlerts is the number of recent alerts kept.
const MaxAlerts = 256

// AgentRisk is one agent's current risk.
type AgentRisk struct {
	AgentID   string  `json:"agentId"`
	Risk      float64 `json:"risk"` // decayed to the snapshot's now
	Peak      float64 `json:"peak"` // the score that set the current level
	LastAt    int64   `json:"lastAt"`
	Decisions uint64  `json:"decisions"`
	Denies    uint64  `json:"denies"`
}

type agentState struct {
	level     float64
	levelAt   int64 // unix ms of level
	peak      float64
	lastAt    int64
	decisions uint64
	denies    uint64
}

// Alert is a decision whose risk reached AlertThreshold, or that hit an
// injection pattern or a severe violation.
type Alert struct {
	Kind  string `json:"kind"` // "injection" | "severe_violation" | "circuit_open" | "high_risk"
	Event Event  `json:"event"`
}

// Tracker keeps per-agent current risk and recent alerts. It is safe for
// concurrent use; the zero Tracker is ready.
type Tracker struct {
	mu     sync.Mutex
	agents map[string]*agentState
	alerts []Alert // ring, oldest first once full
	next   int
}

func decay(level float64, fromMs, toMs int64) float64 {
	if toMs <= fromMs {
		return level
	}
	return level * math.Exp2(-float64(toMs-fromMs)/float64(HalfLife.Milliseconds()))
}

// Observe records e (only authenticated decisions should be observed: the
// agent id of a rejected request is untrusted).
func (t *Tracker) Observe(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.agents == nil {
		t.agents = make(map[string]*agentState)
	}
	a := t.agents[e.AgentID]
	if a == nil && e.AgentID != "" {
		if len(t.agents) >= MaxAgents {
			t.evict(e.At)
		}
		if len(t.agents) < MaxAgents {
			a = &agentState{}
			t.agents[e.AgentID] = a
		}
	}
	if a != nil {
		cur := decay(a.level, a.levelAt, e.At)
		if e.Risk >= cur {
			a.level, a.peak = e.Risk, e.Risk
		} else {
			a.level = cur
		}
		a.levelAt = max(e.At, a.levelAt)
		a.lastAt = max(e.At, a.lastAt)
		a.decisions++
		if e.Decision == "deny" {
			a.denies++
		}
	}
	if k := AlertKind(&e); k != "" {
		al := Alert{Kind: k, Event: e}
		if len(t.alerts) < MaxAlerts {
			t.alerts = append(t.alerts, al)
		} else {
			t.alerts[t.next] = al
			t.next = (t.next + 1) % MaxAlerts
		}
	}
}

func (t *Tracker) evict(nowMs int64) {
	for id, a := range t.agents {
		if decay(a.level, a.levelAt, nowMs) < 0.01 {
			delete(t.agents, id)
		}
	}
}

// AlertKind classifies e as an alert, or returns "".
func AlertKind(e *Event) string {
	switch {
	case e.Code == "GOAL_HIJACK":
		return "injection"
	case e.Severe:
		return "severe_violation"
	case e.Code == "CIRCUIT_OPEN":
		return "circuit_open"
	case e.Risk >= AlertThreshold:
		return "high_risk"
	}
	return ""
}

// Agent returns one agent's risk at now (false if unknown).
func (t *Tracker) Agent(id string, now time.Time) (AgentRisk, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.agents[id]
	if !ok {
		return AgentRisk{AgentID: id}, false
	}
	return view(id, a, now.UnixMilli()), true
}

func view(id string, a *agentState, nowMs int64) AgentRisk {
	return AgentRisk{AgentID: id, Risk: math.Round(decay(a.level, a.levelAt, nowMs)*1000) / 1000, Peak: a.peak,
		LastAt: a.lastAt, Decisions: a.decisions, Denies: a.denies}
}

// Snapshot returns every tracked agent's risk at now, riskiest first (ties
// by agent id), and the recent alerts, newest first.
func (t *Tracker) Snapshot(now time.Time) (agents []AgentRisk, alerts []Alert) {
	t.mu.Lock()
	nowMs := now.UnixMilli()
	agents = make([]AgentRisk, 0, len(t.agents))
	for id, a := range t.agents {
		agents = append(agents, view(id, a, nowMs))
	}
	alerts = make([]Alert, 0, len(t.alerts))
	for i := range t.alerts {
		alerts = append(alerts, t.alerts[(t.next+len(t.alerts)-1-i)%len(t.alerts)])
	}
	t.mu.Unlock()
	slices.SortFunc(agents, func(a, b AgentRisk) int {
		if a.Risk != b.Risk {
			if a.Risk > b.Risk {
				return -1
			}
			return 1
		}
		if a.AgentID < b.AgentID {
			return -1
		}
		if a.AgentID > b.AgentID {
			return 1
		}
		return 0
	})
	return agents, alerts
}
