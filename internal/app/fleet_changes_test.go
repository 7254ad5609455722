package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/pgstore"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// bodyFor is a signed-intercept body of agent with token tokenID on
// resource, moving at x m/s.
func bodyFor(agent, tokenID, resource string, x float64) []byte {
	b, _ := json.Marshal(map[string]any{
		"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub(agent),
		"timestamp": time.Now().UnixMilli(), "tokenId": tokenID, "resource": resource, "action": "publish",
		"params": map[string]any{"linear": map[string]any{"x": x, "y": 0, "z": 0}},
	})
	return b
}

// waitFor polls cond until it holds (10 s at most) and returns how long it
// took from start.
func waitFor(t *testing.T, what string, start time.Time, cond func() bool) time.Duration {
	t.Helper()
	waitUntil(t, what, cond)
	return time.Since(start)
}

// circuitOpenOn reports whether replica g has agent's circuit open.
func (f *fleetT) circuitOpenOn(g *gatewayProc, agent string) bool {
	var c struct{ Open bool }
	f.call(g, "GET", "/v1/discovery/agents/"+tokentest.Pub(agent)+"/circuit", nil, &c)
	return c.Open
}

// standingOn lists the standing approval ids replica g has in force.
func (f *fleetT) standingOn(g *gatewayProc) []string {
	var out struct {
		Standing []struct {
			ApprovalID string `json:"approvalId"`
		} `json:"standing"`
	}
	f.call(g, "GET", "/v1/approvals/standing", nil, &out)
	var ids []string
	for _, s := range out.Standing {
		ids = append(ids, s.ApprovalID)
	}
	return ids
}

// decide sends one intercept and returns the decision and its code.
func (f *fleetT) decide(g *gatewayProc, agent string, body []byte) (string, string) {
	d, _, err := intercept(f.hc, g, agent, body)
	if err != nil {
		return "error", err.Error()
	}
	return d.Decision, code(d)
}

// TestFleetCircuitsAndStanding (issue 17 item 7): circuits and standing
// approvals are the fleet's, not one replica's. Three replicas: a circuit
// opened on A denies CIRCUIT_OPEN on B and C; closed on B, A and C allow; a
// standing approval granted on A is used on C; revoked on C, A no longer
// uses it. Then the same changes written to PostgreSQL with no bus message
// at all (every announcement lost) reach every replica through the
// catch-up. Delays are logged (the bounds are measured, not asserted).
func TestFleetCircuitsAndStanding(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	f := newFleet(t, 3, pgURL, redisAddr)
	a, b, c := f.gws[0], f.gws[1], f.gws[2]
	// An agent with a registered token, and a second token limiting its
	// speed (a severe violation of it opens the agent's circuit). Two
	// rounds of a fresh agent each: a third circuit opened on one replica
	// within the anomaly window trips the e-stop (TripOpenCircuits).
	newAgent := func(name string, n int) (tok, limited *tokens.Token) {
		tok = fleetToken(t, f, name, n)
		claims := tokentest.Root("root", name, n+1, time.Now().UnixMilli())
		vmax := 0.5
		claims.Constraints.MaxVelocityMps = &vmax
		limited = tokentest.Sign("root", claims)
		if st := f.call(a, "POST", "/v1/tokens", map[string]string{"token": limited.Raw}, nil); st != 201 {
			t.Fatalf("register the limited token: %d", st)
		}
		return tok, limited
	}
	move := func(agent string, tk *tokens.Token) []byte {
		return bodyFor(agent, tk.Claims.TokenID, "ros:///cmd_vel", 0.1)
	}

	var opens, closes []time.Duration
	for round := range 2 {
		agent := fmt.Sprint("circuit-agent-", round)
		tok, limited := newAgent(agent, 10*round+10)
		// The root and tokens were registered on A: the other replicas
		// learn them over the bus, so wait until each allows.
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("round %d: replica %d to allow before the circuit opens", round, i), func() bool {
				d, _ := f.decide(g, agent, move(agent, tok))
				return d == "allow"
			})
		}
		// A severe violation on A opens the agent's circuit there.
		d, cd := f.decide(a, agent, bodyFor(agent, limited.Claims.TokenID, "ros:///cmd_vel", 5.0))
		if d != "deny" || cd != "PHYSICS_CONSTRAINT" {
			t.Fatalf("round %d: severe violation on A: %s %s", round, d, cd)
		}
		start := time.Now()
		for _, g := range []*gatewayProc{b, c} {
			opens = append(opens, waitFor(t, fmt.Sprintf("round %d: CIRCUIT_OPEN on %s", round, g.url), start, func() bool {
				d, cd := f.decide(g, agent, move(agent, tok))
				return d == "deny" && cd == "CIRCUIT_OPEN"
			}))
		}
		// Closed on B: A and C allow again.
		if st := f.call(b, "POST", "/v1/discovery/agents/"+tokentest.Pub(agent)+"/circuit/close", map[string]string{"reason": "fleet test"}, nil); st != 200 {
			t.Fatalf("round %d: close on B: %d", round, st)
		}
		start = time.Now()
		for _, g := range []*gatewayProc{a, c} {
			closes = append(closes, waitFor(t, fmt.Sprintf("round %d: allow on %s after the close on B", round, g.url), start, func() bool {
				d, _ := f.decide(g, agent, move(agent, tok))
				return d == "allow"
			}))
		}
	}
	t.Logf("bus path: circuit opened on A → CIRCUIT_OPEN on B and C: %s; closed on B → allow on A and C: %s", summary(opens), summary(closes))

	// Standing approvals: escalate on A, grant standing on A, used on C.
	const agent = "standing-agent"
	tok, _ := newAgent(agent, 100)
	arm := func() []byte { return bodyFor(agent, tok.Claims.TokenID, "ros:///arm/joint1", 0.1) }
	var grants, revokes []time.Duration
	for round := range 5 {
		dd, st, err := intercept(f.hc, a, agent, arm())
		if err != nil || st != 202 || dd.ApprovalID == nil {
			t.Fatalf("round %d: escalate on A: %d %s %v", round, st, code(dd), err)
		}
		id := *dd.ApprovalID
		if st := f.call(a, "POST", "/v1/approvals/"+id+"/approve", map[string]any{"reason": "fleet test", "standingForMs": 600_000}, nil); st != 200 {
			t.Fatalf("round %d: grant standing on A: %d", round, st)
		}
		start := time.Now()
		grants = append(grants, waitFor(t, fmt.Sprintf("round %d: the standing approval used on C", round), start, func() bool {
			d, _ := f.decide(c, agent, arm())
			return d == "allow"
		}))
		if st := f.call(c, "DELETE", "/v1/approvals/standing/"+id, nil, nil); st != 200 {
			t.Fatalf("round %d: revoke on C: %d", round, st)
		}
		start = time.Now()
		revokes = append(revokes, waitFor(t, fmt.Sprintf("round %d: A to stop using the revoked standing approval", round), start, func() bool {
			dd, st, _ := intercept(f.hc, a, agent, arm())
			if st == 202 && dd.ApprovalID != nil {
				// Leave no pending approval behind for the next round.
				f.call(a, "POST", "/v1/approvals/"+*dd.ApprovalID+"/deny", map[string]any{"reason": "test"}, nil)
			}
			return st == 202
		}))
		// Every replica drops it from its listing too; A's denial above
		// says nothing of when B heard of the revocation (a loaded CI run
		// caught B a moment behind), so each replica is waited for.
		for i, g := range f.gws {
			waitFor(t, fmt.Sprintf("round %d: replica %d to stop listing the revoked standing approval", round, i), time.Now(), func() bool {
				return !slices.Contains(f.standingOn(g), id)
			})
		}
	}
	t.Logf("bus path: standing granted on A → used on C: %s; revoked on C → not used on A: %s", summary(grants), summary(revokes))

	// Every announcement lost: the changes are written to PostgreSQL (store
	// row, then ledger event, as a replica does) and nothing is published.
	t.Run("catch-up/no-bus-message", func(t *testing.T) {
		ctx := context.Background()
		pg, err := pgstore.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		lg, err := pgledger.Open(ctx, pgURL, pgledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		pub := tokentest.Pub(agent)
		ag, err := pg.GetAgent(ctx, pub)
		if errors.Is(err, store.ErrNotFound) {
			ag, err = store.Agent{AgentID: pub, RegisteredAt: time.Now().UnixMilli()}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		ag.CircuitOpen, ag.CircuitSince, ag.CircuitCause = true, time.Now().UnixMilli(), "opened behind the fleet's back"
		if err := pg.PutAgent(ctx, ag); err != nil {
			t.Fatal(err)
		}
		if _, err := lg.Append(ctx, ledger.Event{EventType: "agent.circuit.opened", AgentID: pub, Payload: map[string]any{"agentId": pub, "cause": ag.CircuitCause}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var ds []time.Duration
		for i, g := range f.gws {
			ds = append(ds, waitFor(t, fmt.Sprintf("replica %d: CIRCUIT_OPEN from the catch-up", i), start, func() bool {
				d, cd := f.decide(g, agent, move(agent, tok))
				return d == "deny" && cd == "CIRCUIT_OPEN"
			}))
		}
		ag.CircuitOpen, ag.CircuitSince, ag.CircuitCause = false, 0, ""
		if err := pg.PutAgent(ctx, ag); err != nil {
			t.Fatal(err)
		}
		if _, err := lg.Append(ctx, ledger.Event{EventType: "agent.circuit.closed", AgentID: pub, Payload: map[string]any{"agentId": pub, "reason": "closed behind the fleet's back"}}); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		for i, g := range f.gws {
			ds = append(ds, waitFor(t, fmt.Sprintf("replica %d: allow after the silent close", i), start, func() bool {
				d, _ := f.decide(g, agent, move(agent, tok))
				return d == "allow"
			}))
		}
		// A circuit opened in the ledger whose store write failed (the row
		// still says closed): the ledger's open is the fact, so every
		// replica opens it and no later catch-up closes it from the row.
		if _, err := lg.Append(ctx, ledger.Event{EventType: "agent.circuit.opened", AgentID: pub, Payload: map[string]any{"agentId": pub, "cause": "store write failed"}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d: CIRCUIT_OPEN from a ledger-only open", i), func() bool {
				d, cd := f.decide(g, agent, move(agent, tok))
				return d == "deny" && cd == "CIRCUIT_OPEN"
			})
		}
		time.Sleep(300 * time.Millisecond) // several catch-ups
		for i, g := range f.gws {
			if d, cd := f.decide(g, agent, move(agent, tok)); d != "deny" || cd != "CIRCUIT_OPEN" {
				t.Fatalf("replica %d: a ledger-only open was undone by a store read: %s %s", i, d, cd)
			}
		}
		if _, err := lg.Append(ctx, ledger.Event{EventType: "agent.circuit.closed", AgentID: pub, Payload: map[string]any{"agentId": pub, "reason": "closed again"}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d: allow after closing the ledger-only open", i), func() bool {
				d, _ := f.decide(g, agent, move(agent, tok))
				return d == "allow"
			})
		}
		// A standing approval granted on A, then its revocation recorded
		// with no announcement (the ledger event alone, as when the
		// revoking replica's store update and message were both lost).
		dd, st, err := intercept(f.hc, a, agent, arm())
		if err != nil || st != 202 || dd.ApprovalID == nil {
			t.Fatalf("escalate on A: %d %v", st, err)
		}
		id := *dd.ApprovalID
		if st := f.call(a, "POST", "/v1/approvals/"+id+"/approve", map[string]any{"standingForMs": 600_000}, nil); st != 200 {
			t.Fatalf("grant on A: %d", st)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to list the standing approval", i), func() bool { return slices.Contains(f.standingOn(g), id) })
		}
		if _, err := lg.Append(ctx, ledger.Event{EventType: "approval.standing.revoked", AgentID: pub, Payload: map[string]any{"approvalId": id, "operatorId": "test", "until": time.Now().Add(10 * time.Minute).UnixMilli()}}); err != nil {
			t.Fatal(err)
		}
		start = time.Now()
		for i, g := range f.gws {
			ds = append(ds, waitFor(t, fmt.Sprintf("replica %d to drop the silently revoked standing approval", i), start, func() bool {
				return !slices.Contains(f.standingOn(g), id)
			}))
		}
		if st, _ := f.statusOf(c, agent, arm()); st != 202 {
			t.Fatalf("C after the silent revocation: %d, want 202", st)
		}
		t.Logf("catch-up path (no bus message): circuit open, close and standing revocation seen by every replica: %s", summary(ds))
	})
}

// statusOf sends an intercept and returns its HTTP status.
func (f *fleetT) statusOf(g *gatewayProc, agent string, body []byte) (int, api.Decision) {
	d, st, _ := intercept(f.hc, g, agent, body)
	return st, d
}

// summary is "p50 X, max Y over N".
func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %v, max %v over %d", s[len(s)/2].Round(100*time.Microsecond), s[len(s)-1].Round(100*time.Microsecond), len(s))
}

// TestFleetChangesWithRedisDown (issue 17 item 7, catch-up path): with the
// bus gone (a private redis-server, killed), a circuit closed on B and a
// standing approval revoked on C still reach the other replicas, through
// PostgreSQL alone. Delays (from the start of the operator's call) are
// logged.
func TestFleetChangesWithRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes and a redis-server")
	}
	pgURL := testenv.FreshPGDatabase(t)
	rs := startPrivateRedis(t)
	addr := rs.Addr
	f := newFleet(t, 3, pgURL, addr)
	a, b, c := f.gws[0], f.gws[1], f.gws[2]
	const agent = "outage-agent"
	tok := fleetToken(t, f, agent, 1)
	claims := tokentest.Root("root", agent, 2, time.Now().UnixMilli())
	vmax := 0.5
	claims.Constraints.MaxVelocityMps = &vmax
	limited := tokentest.Sign("root", claims)
	if st := f.call(a, "POST", "/v1/tokens", map[string]string{"token": limited.Raw}, nil); st != 201 {
		t.Fatalf("register the limited token: %d", st)
	}
	if d, cd := f.decide(a, agent, bodyFor(agent, limited.Claims.TokenID, "ros:///cmd_vel", 5.0)); cd != "PHYSICS_CONSTRAINT" {
		t.Fatalf("severe violation on A: %s %s", d, cd)
	}
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to have the circuit open", i), func() bool { return f.circuitOpenOn(g, agent) })
	}
	dd, st, err := intercept(f.hc, a, agent, bodyFor(agent, tok.Claims.TokenID, "ros:///arm/joint1", 0.1))
	if err != nil || st != 403 || code(dd) != "CIRCUIT_OPEN" {
		// The circuit denies before tiering: use a second agent for the
		// standing approval.
		t.Fatalf("tier-3 request while the circuit is open: %d %s %v", st, code(dd), err)
	}
	const agent2 = "outage-agent-2"
	tok2 := fleetToken(t, f, agent2, 3)
	dd, st, err = intercept(f.hc, a, agent2, bodyFor(agent2, tok2.Claims.TokenID, "ros:///arm/joint1", 0.1))
	if err != nil || st != 202 || dd.ApprovalID == nil {
		t.Fatalf("escalate on A: %d %s %v", st, code(dd), err)
	}
	id := *dd.ApprovalID
	if st := f.call(a, "POST", "/v1/approvals/"+id+"/approve", map[string]any{"standingForMs": 600_000}, nil); st != 200 {
		t.Fatalf("grant standing on A: %d", st)
	}
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to list the standing approval", i), func() bool { return slices.Contains(f.standingOn(g), id) })
	}

	rs.Stop()
	// Each replica is watched from the start of the operator's call (with
	// Redis down the call itself takes longer: its announcement fails).
	watch := func(what string, gs []*gatewayProc, cond func(g *gatewayProc) bool, call func()) []time.Duration {
		start := time.Now()
		out := make([]time.Duration, len(gs))
		var wg sync.WaitGroup
		for i, g := range gs {
			wg.Go(func() {
				deadline := start.Add(10 * time.Second)
				for !cond(g) {
					if time.Now().After(deadline) {
						t.Errorf("timed out waiting for %s on %s", what, g.url)
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
				out[i] = time.Since(start)
			})
		}
		call()
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		return out
	}
	closes := watch("the close on B with Redis down", []*gatewayProc{a, c}, func(g *gatewayProc) bool { return !f.circuitOpenOn(g, agent) }, func() {
		if st := f.call(b, "POST", "/v1/discovery/agents/"+tokentest.Pub(agent)+"/circuit/close", map[string]string{"reason": "redis down"}, nil); st != 200 {
			t.Errorf("close on B with Redis down: %d", st)
		}
	})
	revokes := watch("the revocation on C with Redis down", []*gatewayProc{a, b}, func(g *gatewayProc) bool { return !slices.Contains(f.standingOn(g), id) }, func() {
		if st := f.call(c, "DELETE", "/v1/approvals/standing/"+id, nil, nil); st != 200 {
			t.Errorf("revoke on C with Redis down: %d", st)
		}
	})
	t.Logf("catch-up path, Redis down (from the start of the operator's call): circuit closed on B → closed on A and C: %s; standing revoked on C → gone on A and B: %s", summary(closes), summary(revokes))
}
