package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/redisx"
	"github.com/sintgate/sintgate/store"
)

// Circuits and standing approvals across a fleet, by the mechanism of token
// revocations (docs/deploy.md): a replica that changes one announces it on
// the bus once it is durable in PostgreSQL, and every replica re-reads it
// from PostgreSQL; the catch-up poll (SyncInterval) reads the ledger's
// change events past a cursor, so a lost announcement is made up for
// within one poll.
//
//   - Circuits: agent.circuit.opened / agent.circuit.closed. The store row
//     is written before the event is appended, so re-reading the agent when
//     the event is seen gives at least that state.
//   - Standing approvals: approval.standing.revoked drops the approval at
//     once and for good (the ledger has the revocation before the store
//     does); approval.granted with standingUntil re-reads the approval
//     until the store has the grant (the grant is appended first too).

// changeTypes are the ledger events the catch-up reads.
// token.revoked is read too: the revocation poll of the store
// (RevokedSince) is keyed by the revoking replica's clock, so a revocation
// from a replica whose clock is behind, or whose commit took longer than
// the poll's overlap, was missed by the poll when its bus message was
// lost; the ledger's sequence numbers do not depend on any clock.
var changeTypes = []string{"agent.circuit.opened", "agent.circuit.closed", "approval.granted", "approval.standing.revoked", "token.revoked"}

const (
	// changeLookback is how many entries before the ledger's size at start
	// the catch-up re-reads (changes racing the start's load).
	changeLookback = 1000
	// changeBatch is the most change events one poll reads.
	changeBatch = 512
	// grantWait is how long a standing grant in the ledger is re-read
	// until the store has it (after that it was never completed).
	grantWait = 30 * time.Second
)

// attachChanges points the fleet at the gateway's circuits and standing
// approvals. A circuit this replica changes is noted, so that an older
// state read from PostgreSQL at the same time does not undo it.
func (f *fleet) attachChanges(g *Gateway) {
	f.circuits, f.approvals, f.onClosed = g.Pipeline.Circuits, g.Approvals, g.forgetAnomaly
	f.pending = map[string]time.Time{}
	if persist := f.circuits.Persist; persist != nil {
		f.circuits.Persist = func(agentID string, c gateway.Circuit) {
			f.localCirc.Store(agentID, time.Now())
			persist(agentID, c)
			f.localCirc.Store(agentID, time.Now())
		}
	}
}

// applyChange applies an announcement from another replica.
func (f *fleet) applyChange(ctx context.Context, c redisx.Change) {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, id := range c.IDs {
		var err error
		switch c.Type {
		case redisx.ChangeAgents:
			err = f.syncCircuit(qctx, id)
		case redisx.ChangeApprovals:
			_, err = f.approvals.SyncStanding(qctx, id)
		}
		if err != nil {
			f.log.Warn("fleet change not applied (the catch-up will)", "type", c.Type, "id", id, "err", err)
		}
	}
}

// syncCircuit makes agentID's circuit here what PostgreSQL holds, unless
// this replica changed it since the read began (its own change is newer).
func (f *fleet) syncCircuit(ctx context.Context, agentID string) error {
	start := time.Now()
	a, err := f.pg.GetAgent(ctx, agentID)
	if errors.Is(err, store.ErrNotFound) {
		a, err = store.Agent{AgentID: agentID}, nil
	}
	if err != nil {
		return err
	}
	if t, ok := f.localCirc.Load(agentID); ok && !t.(time.Time).Before(start) {
		return nil
	}
	ci := gateway.Circuit{Open: a.CircuitOpen}
	if ci.Open {
		ci.Since, ci.Cause = time.UnixMilli(a.CircuitSince), a.CircuitCause
	}
	if f.circuits.Apply(agentID, ci) && !ci.Open && f.onClosed != nil {
		f.onClosed(agentID)
	}
	return nil
}

// catchUpChanges reads the ledger's change events past the cursor and
// applies them; an event whose store read fails is retried on the next
// poll (the cursor stops before it).
func (f *fleet) catchUpChanges(ctx context.Context) {
	if f.circuits == nil || f.approvals == nil {
		return
	}
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	es, err := f.lg.EntriesOfTypes(ctx, changeTypes, f.ledgerSeq, changeBatch)
	if err != nil {
		return
	}
	now := time.Now()
	for _, e := range es {
		var p struct {
			AgentID       string `json:"agentId"`
			ApprovalID    string `json:"approvalId"`
			TokenID       string `json:"tokenId"`
			StandingUntil int64  `json:"standingUntil"`
			Until         int64  `json:"until"`
			Cause         string `json:"cause"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		switch e.EventType {
		case "agent.circuit.opened":
			// The ledger's open is the fact: applied as it is, never from
			// a store read, which may not hold it (the opening replica's
			// write can have failed) and would then close the circuit.
			if p.AgentID == "" {
				p.AgentID = e.AgentID
			}
			f.circuits.Apply(p.AgentID, gateway.Circuit{Open: true, Since: now, Cause: p.Cause})
		case "agent.circuit.closed":
			if p.AgentID == "" {
				p.AgentID = e.AgentID
			}
			if err := f.syncCircuit(ctx, p.AgentID); err != nil {
				return
			}
		case "approval.standing.revoked":
			f.approvals.ForgetStanding(p.ApprovalID, p.Until)
		case "token.revoked":
			if p.TokenID == "" {
				p.TokenID = e.TokenID
			}
			if p.TokenID != "" {
				f.reg.ApplyRevocations([]string{p.TokenID})
			}
		case "approval.granted":
			if p.StandingUntil > 0 {
				f.pending[p.ApprovalID] = now.Add(grantWait)
			}
		}
		f.ledgerSeq = e.SequenceNumber
	}
	for id, until := range f.pending {
		done, err := f.approvals.SyncStanding(ctx, id)
		if done || (err == nil && now.After(until)) {
			delete(f.pending, id)
		}
	}
}

// resyncCircuits re-reads, through syncCircuit, every agent whose circuit
// PostgreSQL holds open and this replica does not: an open whose
// announcement and ledger entry were both lost (the catch-up reads only
// the ledger, and a ledger append can fail after the store's write).
// Only opens are looked for (the fail-closed direction); each is re-read
// on its own, so a close made meanwhile is not undone by the listing.
func (f *fleet) resyncCircuits(ctx context.Context) {
	if f.circuits == nil {
		return
	}
	as, err := f.pg.ListAgents(ctx)
	if err != nil {
		return
	}
	for _, a := range as {
		if a.CircuitOpen && !f.circuits.IsOpen(a.AgentID) {
			if err := f.syncCircuit(ctx, a.AgentID); err != nil {
				return
			}
		}
	}
}
