package gateway

import (
	"sync"
	"time"
)

// Circuit is the state of one agent's circuit: open means every intercept of
// the agent is denied CIRCUIT_OPEN until an operator closes it.
type Circuit struct {
	Open  bool      `json:"open"`
	Since time.Time `json:"since"`
	Cause string    `json:"cause"`
}

// Circuits tracks per-agent circuits in memory; the gateway persists changes
// through the store and reloads them at start. Safe for concurrent use.
type Circuits struct {
	mu   sync.RWMutex
	open map[string]Circuit
	// Persist, if set, saves a change (c.Open false = closed). It is called
	// outside the lock, after the in-memory change, which already denies.
	Persist func(agentID string, c Circuit)
}

// NewCircuits returns an empty set (every circuit closed).
func NewCircuits() *Circuits { return &Circuits{open: map[string]Circuit{}} }

// IsOpen reports whether agentID's circuit is open.
func (c *Circuits) IsOpen(agentID string) bool {
	c.mu.RLock()
	_, ok := c.open[agentID]
	c.mu.RUnlock()
	return ok
}

// Get returns agentID's circuit.
func (c *Circuits) Get(agentID string) Circuit {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.open[agentID]
}

// Open opens agentID's circuit and reports whether it was closed before.
func (c *Circuits) Open(agentID, cause string, at time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.open[agentID]; ok {
		return false
	}
	c.open[agentID] = Circuit{Open: true, Since: at, Cause: cause}
	if p := c.Persist; p != nil {
		defer p(agentID, Circuit{Open: true, Since: at, Cause: cause})
	}
	return true
}

// Restore marks a circuit open without persisting (used at start).
func (c *Circuits) Restore(agentID string, ci Circuit) {
	c.mu.Lock()
	c.open[agentID] = ci
	c.mu.Unlock()
}

// Close closes agentID's circuit and reports whether it was open.
func (c *Circuits) Close(agentID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.open[agentID]
	delete(c.open, agentID)
	if p := c.Persist; p != nil && ok {
		defer p(agentID, Circuit{})
	}
	return ok
}

// OpenAgents returns the agents whose circuit is open.
func (c *Circuits) OpenAgents() map[string]Circuit {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]Circuit, len(c.open))
	for k, v := range c.open {
		out[k] = v
	}
	return out
}

// Apply sets agentID's circuit to ci as the shared store holds it (a change
// made on another replica), without persisting, and reports whether it
// changed anything here.
func (c *Circuits) Apply(agentID string, ci Circuit) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.open[agentID]
	if ci.Open {
		if ok {
			return false
		}
		c.open[agentID] = ci
		return true
	}
	delete(c.open, agentID)
	return ok
}
