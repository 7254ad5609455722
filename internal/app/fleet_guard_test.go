package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/pgledger"
)

// estopState is one replica's e-stop state.
func (f *fleetT) estopState(g *gatewayProc) string {
	var s struct{ State string }
	f.call(g, "GET", "/v1/estop", nil, &s)
	return s.State
}

// chainRow is the part of a ledger entry the offline pass reads.
type chainRow struct {
	seq     int64
	typ     string
	agent   string
	payload map[string]any
}

// readChain reads every entry of the chain in sequence order.
func readChain(t *testing.T, pgURL string) []chainRow {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT seq, event_type, agent_id, entry FROM sint_ledger_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []chainRow
	for rows.Next() {
		var r chainRow
		var raw []byte
		if err := rows.Scan(&r.seq, &r.typ, &r.agent, &raw); err != nil {
			t.Fatal(err)
		}
		var e struct {
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		r.payload = e.Payload
		if len(out) > 0 && out[len(out)-1].seq+1 != r.seq {
			t.Fatalf("chain has a gap before %d", r.seq)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// allowsWhileTripped is the offline pass over the whole chain: a trip
// entry caused on a replica (kind other than "replica": an operator, a
// button, a controller, the anomaly detector) trips the fleet until a
// reset entry made by an operator (not a reset a replica applied from
// the fleet, operator "replica:…"); every allow (policy.evaluated with
// decision allow, approval.granted) in between is returned.
func allowsWhileTripped(chain []chainRow) (violations []string, trips int) {
	tripped, since := false, int64(0)
	for _, r := range chain {
		switch r.typ {
		case "safety.estop.tripped":
			if r.payload["kind"] != "replica" && !tripped {
				tripped, since = true, r.seq
				trips++
			}
		case "safety.estop.reset":
			if !strings.HasPrefix(r.agent, "replica:") {
				tripped = false
			}
		case "policy.evaluated", "approval.granted":
			if tripped && r.payload["decision"] == "allow" {
				violations = append(violations, fmt.Sprintf("allow #%d after the trip entry #%d", r.seq, since))
			}
		}
	}
	return violations, trips
}

// TestFleetNoAllowBetweenTripAndReset (issue 17 item 3): three replicas
// under load; trips and resets on random replicas. The offline pass over
// the chain finds no allow between any trip entry and its reset entry:
// the ledger refuses allows at the point that assigns sequence numbers
// while the chain holds a trip not yet reset, whichever replica appends.
func TestFleetNoAllowBetweenTripAndReset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	f := newFleet(t, 3, pgURL, redisAddr)
	tok := fleetToken(t, f, "guard-agent", 1)

	var stop atomic.Bool
	var allows, estopDenies atomic.Int64
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			g := f.gws[w%len(f.gws)]
			for !stop.Load() {
				d, _, err := intercept(f.hc, g, "guard-agent", moveBody("guard-agent", tok.Claims.TokenID))
				switch {
				case err != nil:
				case d.Decision == "allow":
					allows.Add(1)
				case code(d) == "ESTOP_ENGAGED":
					estopDenies.Add(1)
				}
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	const rounds = 20
	for i := range rounds {
		time.Sleep(time.Duration(20+rng.IntN(60)) * time.Millisecond) // allows flow
		tr, rs := f.gws[rng.IntN(3)], f.gws[rng.IntN(3)]
		if st := f.call(tr, "POST", "/v1/estop/trip", map[string]string{"reason": fmt.Sprint("guard round ", i)}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		for j, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip (round %d)", j, i), func() bool { return f.estopState(g) == "tripped" })
		}
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		if st := f.call(rs, "POST", "/v1/estop/reset", map[string]string{"reason": "guard test"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		for j, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to re-arm (round %d)", j, i), func() bool { return f.estopState(g) == "armed" })
		}
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	chain := readChain(t, pgURL)
	violations, trips := allowsWhileTripped(chain)
	t.Logf("%d entries, %d trips, %d allows and %d ESTOP_ENGAGED answers under load", len(chain), trips, allows.Load(), estopDenies.Load())
	if trips != rounds {
		t.Fatalf("the pass found %d trips, the test made %d", trips, rounds)
	}
	if allows.Load() < 100 {
		t.Fatalf("only %d allows: no load", allows.Load())
	}
	if len(violations) > 0 {
		t.Fatalf("%d allows committed between a trip entry and its reset entry: %s", len(violations), strings.Join(violations[:min(len(violations), 10)], "; "))
	}

	// A trip entry that reached only the ledger (its replica died before
	// publishing it and saving the row): the ledger refuses every allow, so
	// every replica must show the trip (else the fleet looks armed and
	// allows nothing), and one operator reset clears it.
	t.Run("converge/trip-only-in-the-ledger", func(t *testing.T) {
		ctx := context.Background()
		lg, err := pgledger.Open(ctx, pgURL, pgledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		const ghost = "ghost-gw/0000dead/7"
		if _, err := lg.Append(ctx, ledger.Event{EventType: "safety.estop.tripped", AgentID: "system",
			Payload: map[string]any{"epoch": 7, "source": "operator:gone", "kind": "api", "reason": "replica died after its trip entry", "tripId": ghost}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip on the ledger's trip", i), func() bool { return f.estopState(g) == "tripped" })
		}
		if st := f.call(f.gws[1], "POST", "/v1/estop/reset", map[string]string{"reason": "ghost trip seen"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to allow after the reset", i), func() bool {
				d, _, _ := intercept(f.hc, g, "guard-agent", moveBody("guard-agent", tok.Claims.TokenID))
				return d.Decision == "allow"
			})
		}
		if active, err := lg.ActiveTrips(ctx); err != nil || len(active) != 0 {
			t.Fatalf("active trips after the reset: %v %v", active, err)
		}
	})
}
