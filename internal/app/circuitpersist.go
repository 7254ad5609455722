package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/store"
)

// circuitRetryInterval is how often circuits the store refused are written
// again.
const circuitRetryInterval = time.Second

// circuitPersister writes circuits to the store (gateway.Circuits.Persist)
// and keeps writing those the store refused until it takes them. A
// circuit opened while the store was down used to be logged and forgotten:
// in force on this replica only, and — when its ledger event was lost too
// (a fleet's PostgreSQL holds both) — never announced, so the other
// replicas kept allowing the agent after PostgreSQL came back. Writes are
// serialised, and the retry writes the latest state asked for, so a retry
// can never write back an older state over a newer one.
type circuitPersister struct {
	st    store.Agents
	clock func() time.Time
	log   *slog.Logger
	// isOpen reports whether a circuit is open here now (nil: unknown). A
	// close the store refused is dropped once the circuit is open here
	// again: a newer open (this replica's own replaces it; one applied
	// from another replica is in the store already).
	isOpen func(agentID string) bool

	mu      sync.Mutex
	pending map[string]pendingCircuit // agent → the state the store refused; guarded by mu
}

// pendingCircuit is a circuit state the store refused, and when it was
// asked for (this replica's clock).
type pendingCircuit struct {
	c  gateway.Circuit
	at time.Time
}

// circuitWriteTimeout bounds one store write of a circuit: persist runs
// under the circuits' lock, which every intercept's circuit check takes, so
// a store that does not answer must not hold it longer (a write that times
// out is retried like any refused one).
const circuitWriteTimeout = 2 * time.Second

// persist writes agentID's circuit c (called under the circuits' lock),
// bounded by circuitWriteTimeout.
func (p *circuitPersister) persist(ctx context.Context, agentID string, c gateway.Circuit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, circuitWriteTimeout)
	defer cancel()
	if err := p.write(ctx, agentID, c); err != nil {
		p.log.Error("persist circuit (retried until the store takes it)", "agentId", agentID, "open", c.Open, "err", err)
		if p.pending == nil {
			p.pending = map[string]pendingCircuit{}
		}
		p.pending[agentID] = pendingCircuit{c: c, at: p.clock()}
		return
	}
	delete(p.pending, agentID)
}

func (p *circuitPersister) write(ctx context.Context, agentID string, c gateway.Circuit) error {
	_, err := p.writeUnless(ctx, agentID, c, time.Time{})
	return err
}

// writeUnless writes agentID's circuit c, unless c is a close asked for
// at closedAt (not zero: a retry) and the store holds an open that began
// after it: another replica opened the circuit again while this one could
// not write its close, and writing the close now would close, on every
// replica (the write is announced), a circuit nobody closed. It reports
// whether it wrote.
func (p *circuitPersister) writeUnless(ctx context.Context, agentID string, c gateway.Circuit, closedAt time.Time) (bool, error) {
	a, err := p.st.GetAgent(ctx, agentID)
	if errors.Is(err, store.ErrNotFound) {
		a, err = store.Agent{AgentID: agentID, RegisteredAt: p.clock().UnixMilli()}, nil
	}
	if err != nil {
		return false, err
	}
	if !c.Open && !closedAt.IsZero() && a.CircuitOpen && a.CircuitSince > closedAt.UnixMilli() {
		return false, nil
	}
	a.CircuitOpen, a.CircuitCause, a.CircuitSince = c.Open, c.Cause, 0
	if c.Open {
		a.CircuitSince = c.Since.UnixMilli()
	}
	return true, p.st.PutAgent(ctx, a)
}

// retry writes every pending circuit once (each write bounded: a store
// that does not answer must not hold the lock, which the circuits' own
// changes take).
func (p *circuitPersister) retry(ctx context.Context) {
	// Which pending closes were superseded by an open here, asked outside
	// p.mu (persist is called under the circuits' lock, which isOpen
	// takes).
	var reopened map[string]time.Time
	if p.isOpen != nil {
		p.mu.Lock()
		closes := map[string]time.Time{}
		for agentID, pc := range p.pending {
			if !pc.c.Open {
				closes[agentID] = pc.at
			}
		}
		p.mu.Unlock()
		for agentID, at := range closes {
			if p.isOpen(agentID) {
				if reopened == nil {
					reopened = map[string]time.Time{}
				}
				reopened[agentID] = at
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for agentID, pc := range p.pending {
		if at, ok := reopened[agentID]; ok && !pc.c.Open && at.Equal(pc.at) {
			delete(p.pending, agentID)
			p.log.Info("circuit close not persisted: the circuit was opened again since", "agentId", agentID)
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, circuitWriteTimeout)
		wrote, err := p.writeUnless(wctx, agentID, pc.c, pc.at)
		cancel()
		if err != nil {
			return // still down: the next round
		}
		delete(p.pending, agentID)
		if !wrote {
			p.log.Info("circuit close not persisted: the store holds a newer open", "agentId", agentID)
			continue
		}
		p.log.Info("circuit persisted after the store came back", "agentId", agentID, "open", pc.c.Open)
	}
}

// run retries every circuitRetryInterval until ctx ends.
func (p *circuitPersister) run(ctx context.Context) {
	t := time.NewTicker(circuitRetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.retry(ctx)
		}
	}
}
