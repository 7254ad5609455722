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

	mu      sync.Mutex
	pending map[string]gateway.Circuit // agent → the state the store refused; guarded by mu
}

// persist writes agentID's circuit c (called under the circuits' lock).
func (p *circuitPersister) persist(ctx context.Context, agentID string, c gateway.Circuit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.write(ctx, agentID, c); err != nil {
		p.log.Error("persist circuit (retried until the store takes it)", "agentId", agentID, "open", c.Open, "err", err)
		if p.pending == nil {
			p.pending = map[string]gateway.Circuit{}
		}
		p.pending[agentID] = c
		return
	}
	delete(p.pending, agentID)
}

func (p *circuitPersister) write(ctx context.Context, agentID string, c gateway.Circuit) error {
	a, err := p.st.GetAgent(ctx, agentID)
	if errors.Is(err, store.ErrNotFound) {
		a, err = store.Agent{AgentID: agentID, RegisteredAt: p.clock().UnixMilli()}, nil
	}
	if err != nil {
		return err
	}
	a.CircuitOpen, a.CircuitCause, a.CircuitSince = c.Open, c.Cause, 0
	if c.Open {
		a.CircuitSince = c.Since.UnixMilli()
	}
	return p.st.PutAgent(ctx, a)
}

// retry writes every pending circuit once (each write bounded: a store
// that does not answer must not hold the lock, which the circuits' own
// changes take).
func (p *circuitPersister) retry(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for agentID, c := range p.pending {
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := p.write(wctx, agentID, c)
		cancel()
		if err != nil {
			return // still down: the next round
		}
		delete(p.pending, agentID)
		p.log.Info("circuit persisted after the store came back", "agentId", agentID, "open", c.Open)
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
