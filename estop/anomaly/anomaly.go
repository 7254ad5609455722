// Package anomaly is the automatic trip logic: a detector fed by decisions
// that opens an agent's circuit (PROTOCOL.md §4, CIRCUIT_OPEN) when the
// agent misbehaves, and asks for an e-stop trip (source kind "anomaly") on
// fleet-wide thresholds.
//
// It is a pure core: no I/O, no clock (every call takes now), no goroutines.
// The gateway feeds every decision to Observe and acts on the Verdict: it
// records agent.circuit.opened and blocks the agent, and calls
// estop.Breaker.Trip when Verdict.Trip is set. A Detector is safe for
// concurrent use.
//
// # Signals, per agent, over a sliding window (Config.Window)
//
//   - injection hits: GOAL_HIJACK denies;
//   - severe physics violations: a value ≥ 2× its limit (Observation.Severe);
//   - denies: count and rate (denies / decisions, once MinDecisions is
//     reached). Denies that are not the agent's doing (CIRCUIT_OPEN,
//     ESTOP_ENGAGED, LEDGER_UNAVAILABLE, INTERNAL_ERROR) are not counted.
//
// Each signal is divided by its threshold; the agent's Score is the largest
// ratio. Score ≥ 1 opens the circuit (once, until CloseCircuit). Score ≥
// Config.BumpScore is the "anomaly score above threshold" of §5.3 that bumps
// the tier by one.
//
// # Trips (fleet-wide)
//
//   - TripOnSevereViolation: any severe violation trips (policy
//     tripOnSevereViolation);
//   - TripOpenCircuits: this many circuits opened within the window trips
//     (a coordinated or systemic failure, not one bad agent);
//   - injection flood: TripInjectionHits injection hits fleet-wide within
//     the window is reported as Verdict.InjectionFlood; it trips only when
//     the observation says so (Observation.TripOnFlood, the policy's
//     tripOnInjectionFlood, default false). Otherwise the verdict opens the
//     circuit of the agent whose hit completed the flood (its delegates are
//     denied with it, because every token chain through it is) and the
//     gateway alerts operators: one agent reading a poisoned page must not
//     stop every robot.
//
// After a trip verdict the fleet counters start over, so a reset needs fresh
// evidence to trip again.
package anomaly

import (
	"sync"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// Config holds thresholds. Zero values take the defaults noted; a negative
// threshold disables that signal.
type Config struct {
	Window                time.Duration // sliding window; default 60 s
	InjectionHits         int           // per agent; default 3
	SevereViolations      int           // per agent; default 1
	MaxDenies             int           // per agent; default 100
	DenyRate              float64       // per agent, 0..1; default 0.9
	MinDecisions          int           // decisions before DenyRate applies; default 20
	BumpScore             float64       // tier bump threshold; default 0.5
	TripOnSevereViolation bool          // default false
	TripOpenCircuits      int           // default 3; negative disables
	TripInjectionHits     int           // injection flood threshold, fleet-wide; default 10; negative disables
	MaxAgents             int           // tracked agents before idle ones are dropped; default 100000
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Window <= 0 {
		c.Window = time.Minute
	}
	def(&c.InjectionHits, 3)
	def(&c.SevereViolations, 1)
	def(&c.MaxDenies, 100)
	def(&c.MinDecisions, 20)
	def(&c.TripOpenCircuits, 3)
	def(&c.TripInjectionHits, 10)
	def(&c.MaxAgents, 100000)
	if c.DenyRate == 0 {
		c.DenyRate = 0.9
	}
	if c.BumpScore == 0 {
		c.BumpScore = 0.5
	}
	return c
}

// Observation is one decision.
type Observation struct {
	AgentID  string
	Decision string     // "allow" | "deny" | "escalate"
	Code     codes.Code // deny code, empty otherwise
	Severe   bool       // a physical value ≥ 2× its limit
	// TripOnFlood: an injection flood trips the e-stop (policy
	// tripOnInjectionFlood); otherwise it opens the agent's circuit.
	TripOnFlood bool
}

// Verdict is what the gateway must do after an observation.
type Verdict struct {
	Score         float64 // the agent's score after this observation
	Bump          bool    // Score ≥ BumpScore: bump the tier by one
	OpenCircuit   bool    // open the agent's circuit now (reported once)
	CircuitReason string
	Trip          bool // trip the breaker (source kind "anomaly")
	TripReason    string
	// InjectionFlood: fleet-wide injection hits reached TripInjectionHits
	// with this observation (reported once; the counters start over).
	// Without TripOnFlood the verdict opens the agent's circuit instead of
	// tripping (OpenCircuit, unless it is open already) and the gateway
	// alerts operators.
	InjectionFlood bool
	FloodReason    string
}

const buckets = 12

type counts struct{ decisions, denies, injections, severe int }

func (c *counts) add(o counts) {
	c.decisions += o.decisions
	c.denies += o.denies
	c.injections += o.injections
	c.severe += o.severe
}

// window is a ring of time buckets covering Config.Window.
type window struct {
	idx [buckets]int64 // bucket number held in each slot
	c   [buckets]counts
}

func (w *window) add(now time.Time, width time.Duration, o counts) {
	n := now.UnixNano() / int64(width)
	i := int(uint64(n) % buckets)
	if w.idx[i] != n {
		w.idx[i], w.c[i] = n, counts{}
	}
	w.c[i].add(o)
}

func (w *window) sum(now time.Time, width time.Duration) counts {
	n := now.UnixNano() / int64(width)
	var s counts
	for i := range buckets {
		if d := n - w.idx[i]; d >= 0 && d < buckets {
			s.add(w.c[i])
		}
	}
	return s
}

type agentState struct {
	w        window
	open     bool
	lastSeen time.Time
}

// Detector is the anomaly detector.
type Detector struct {
	cfg   Config
	width time.Duration

	mu      sync.Mutex
	agents  map[string]*agentState
	fleet   window // injections and severe, fleet-wide
	opened  window // circuits opened (in decisions)
	nObserv uint64
}

// New returns a detector.
func New(cfg Config) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, width: cfg.Window / buckets, agents: map[string]*agentState{}}
}

func notAgentsFault(c codes.Code) bool {
	return c == codes.CircuitOpen || c == codes.EstopEngaged || c == codes.LedgerUnavailable || c == codes.InternalError
}

// Observe records a decision at now and returns what to do.
func (d *Detector) Observe(now time.Time, o Observation) Verdict {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nObserv++
	if d.nObserv%1024 == 0 && len(d.agents) > d.cfg.MaxAgents {
		d.sweep(now)
	}
	a := d.agents[o.AgentID]
	if a == nil {
		a = &agentState{}
		d.agents[o.AgentID] = a
	}
	a.lastSeen = now
	var c counts
	if !(o.Decision == "deny" && notAgentsFault(o.Code)) {
		c.decisions = 1
	}
	if o.Decision == "deny" && !notAgentsFault(o.Code) {
		c.denies = 1
	}
	if o.Code == codes.GoalHijack {
		c.injections = 1
	}
	if o.Severe {
		c.severe = 1
	}
	a.w.add(now, d.width, c)
	d.fleet.add(now, d.width, counts{injections: c.injections, severe: c.severe})

	score, why := d.score(a.w.sum(now, d.width))
	v := Verdict{Score: score, Bump: score >= d.cfg.BumpScore}
	if score >= 1 && !a.open {
		a.open = true
		v.OpenCircuit, v.CircuitReason = true, why
		d.opened.add(now, d.width, counts{decisions: 1})
	}
	f := d.fleet.sum(now, d.width)
	switch {
	case d.cfg.TripOnSevereViolation && o.Severe:
		v.Trip, v.TripReason = true, "anomaly: severe physical violation by agent "+o.AgentID
	case d.cfg.TripOpenCircuits > 0 && d.opened.sum(now, d.width).decisions >= d.cfg.TripOpenCircuits:
		v.Trip, v.TripReason = true, "anomaly: too many agent circuits opened within the window"
	case d.cfg.TripInjectionHits > 0 && f.injections >= d.cfg.TripInjectionHits:
		v.InjectionFlood, v.FloodReason = true, "anomaly: fleet-wide injection attempts over threshold (last from agent "+o.AgentID+")"
		if o.TripOnFlood {
			v.Trip, v.TripReason = true, v.FloodReason
			break
		}
		if !a.open {
			a.open = true
			v.OpenCircuit, v.CircuitReason = true, "injection flood: fleet-wide injection attempts over threshold"
			d.opened.add(now, d.width, counts{decisions: 1})
		}
		d.fleet = window{} // the flood is reported once; a new one needs fresh hits
	}
	if v.Trip {
		d.fleet, d.opened = window{}, window{}
	}
	return v
}

// score returns the largest signal/threshold ratio and the signal's name.
func (d *Detector) score(c counts) (float64, string) {
	best, why := 0.0, ""
	try := func(v, limit float64, name string) {
		if limit > 0 {
			if r := v / limit; r > best {
				best, why = r, name
			}
		}
	}
	try(float64(c.injections), float64(d.cfg.InjectionHits), "injection attempts over threshold")
	try(float64(c.severe), float64(d.cfg.SevereViolations), "severe physical violations over threshold")
	try(float64(c.denies), float64(d.cfg.MaxDenies), "deny count over threshold")
	if d.cfg.MinDecisions > 0 && c.decisions >= d.cfg.MinDecisions {
		try(float64(c.denies)/float64(c.decisions), d.cfg.DenyRate, "deny rate over threshold")
	}
	return best, why
}

// Score returns an agent's current score at now (0 for unknown agents).
func (d *Detector) Score(agentID string, now time.Time) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.agents[agentID]
	if a == nil {
		return 0
	}
	s, _ := d.score(a.w.sum(now, d.width))
	return s
}

// CloseCircuit forgets an agent's history after an operator closed its
// circuit (POST /v1/discovery/agents/{id}/circuit/close).
func (d *Detector) CloseCircuit(agentID string) {
	d.mu.Lock()
	delete(d.agents, agentID)
	d.mu.Unlock()
}

func (d *Detector) sweep(now time.Time) {
	for id, a := range d.agents {
		if !a.open && now.Sub(a.lastSeen) > d.cfg.Window {
			delete(d.agents, id)
		}
	}
}
