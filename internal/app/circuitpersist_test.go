package app

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// eventFaultLedger fails, while down, the appends of one event type (what
// an outage of the fleet's PostgreSQL does to the ledger event that
// follows a circuit's store write).
type eventFaultLedger struct {
	ledger.Store
	typ  string
	down *atomic.Bool
}

func (l eventFaultLedger) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	if l.down.Load() && ev.EventType == l.typ {
		return ledger.Entry{}, errDiskFull
	}
	return l.Store.Append(ctx, ev)
}

// TestFleetCircuitOpenedDuringOutageReachesOthers: a circuit opened on
// replica A while PostgreSQL refused both its store write and its ledger
// event reaches replica B once PostgreSQL is back. It used to be logged
// and forgotten: open on A only, and B kept allowing the agent for good.
func TestFleetCircuitOpenedDuringOutageReachesOthers(t *testing.T) {
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	dirA, dirB := t.TempDir(), t.TempDir()
	res, _, err := InitDataDir(context.Background(), dirA, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := InitDataDir(context.Background(), dirB, ck.Now()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{KeysFile, configFile} {
		b, err := os.ReadFile(filepath.Join(dirA, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	down := &atomic.Bool{}
	a, _ := serveWith(t, dirA, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: redisAddr, wrapBackend: func(be *Backend) {
		be.Store = writeFaultStore{Store: be.Store, down: down}
		be.Ledger = eventFaultLedger{Store: be.Ledger, typ: "agent.circuit.opened", down: down}
	}}, nil)
	b, _ := serveWith(t, dirB, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: redisAddr}, nil)
	b.nextN = 5000
	a.trustRoot("root")
	bot := a.tokenFor("cp-bot", func(c *tokens.Claims) {
		vmax := 0.5
		c.Constraints.MaxVelocityMps = &vmax
	})
	move := func(h *harness, x float64) (string, string) {
		m := h.interceptBody("cp-bot", func(m map[string]any) {
			m["tokenId"] = bot.Claims.TokenID
			m["params"] = map[string]any{"linear": map[string]any{"x": x, "y": 0, "z": 0}, "angular": map[string]any{"x": 0, "y": 0, "z": 0}}
		})
		_, d := h.intercept("cp-bot", m)
		return d.Decision, str(d.Code)
	}
	waitUntil(t, "B to allow the bot (root and token learned)", func() bool {
		d, _ := move(b, 0.1)
		return d == "allow"
	})
	down.Store(true)
	if d, c := move(a, 5.0); d != "deny" || c != "PHYSICS_CONSTRAINT" {
		t.Fatalf("severe violation on A: %s %s", d, c)
	}
	if _, c := move(a, 0.1); c != "CIRCUIT_OPEN" {
		t.Fatalf("A after the severe violation: %s, want CIRCUIT_OPEN", c)
	}
	down.Store(false) // PostgreSQL is back
	waitUntil(t, "B to deny CIRCUIT_OPEN after PostgreSQL came back", func() bool {
		_, c := move(b, 0.1)
		return c == "CIRCUIT_OPEN"
	})
	if ag, err := b.g.Store.GetAgent(context.Background(), tokentest.Pub("cp-bot")); err != nil || !ag.CircuitOpen {
		t.Fatalf("the store after the retry: %+v %v, want the circuit open", ag, err)
	}
}
