package app

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestEstopTripsPostgresAndRedisDown runs a replicated gateway on a private
// PostgreSQL cluster and a private redis-server and stops each in turn: an
// operator's trip and an agent-signed trip are answered 200 and trip the
// breaker at once while PostgreSQL is down (GET /v1/estop shows it), and
// each trip entry is in the PostgreSQL ledger exactly once after it
// returns; with Redis down an agent's trip still trips (its replay check is
// recorded as skipped) (issue 17 item 1).
func TestEstopTripsPostgresAndRedisDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and a redis-server")
	}
	pg := startPrivatePG(t)
	rs := startPrivateRedis(t)
	raddr := rs.Addr

	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := Build(ctx, Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", StoreURL: pg.url(), RedisAddr: raddr})
	if err != nil {
		t.Fatal(err)
	}
	g.Background(ctx, time.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() {
		cancel()
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	h := &harness{t: t, g: g, url: "http://" + ln.Addr().String(), adminKey: res.AdminAPIKey, clock: &clock{t: time.Now()}, http: defaultClient(), nextN: 8000}
	h.trustRoot("root")
	h.register(h.rootToken("pg-tripper", func(c *tokens.Claims) {}))
	agentTrip := func(reason string) (int, map[string]any, time.Duration) {
		ts := time.Now().UnixMilli()
		body, _ := json.Marshal(map[string]any{"agentId": tokentest.Pub("pg-tripper"), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": ts, "reason": reason})
		var out map[string]any
		start := time.Now()
		st := h.do("POST", "/v1/estop/trip", signed("pg-tripper", body, ts), body, &out)
		return st, out, time.Since(start)
	}

	// PostgreSQL down.
	pg.stop()
	start := time.Now()
	var out map[string]any
	if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "postgres down"}, &out); st != 200 || out["state"] != "tripped" {
		t.Fatalf("operator trip with PostgreSQL down: %d %v", st, out)
	}
	opLatency := time.Since(start)
	if !g.Breaker.Tripped() {
		t.Fatal("breaker not tripped")
	}
	epoch := g.Breaker.Snapshot().Epoch
	st, out, agLatency := agentTrip("agent with postgres down")
	if st != 200 || out["state"] != "tripped" {
		t.Fatalf("agent trip with PostgreSQL down: %d %v", st, out)
	}
	var view map[string]any
	if st := h.admin("GET", "/v1/estop", nil, &view); st != 200 || view["state"] != "tripped" {
		t.Fatalf("GET /v1/estop with PostgreSQL down: %d %v", st, view)
	}
	if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "too early"}, nil); st == 200 {
		t.Fatal("reset accepted while the trips are not in the ledger")
	}
	t.Logf("PostgreSQL down: operator trip answered in %v, agent trip in %v", opLatency, agLatency)
	pg.start()
	waitUntil(t, "the journal to drain into PostgreSQL", func() bool { return len(g.Journal.Pending()) == 0 })

	lg := g.Ledger
	count := func(epoch uint64, source string) (n int, auth string) {
		var after uint64
		for {
			es, next, err := lg.List(context.Background(), ledger.ListQuery{After: after, Limit: ledger.MaxListLimit, EventType: "safety.estop.tripped"})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				var p struct {
					Epoch  uint64 `json:"epoch"`
					Source string `json:"source"`
					Auth   string `json:"authorization"`
				}
				_ = json.Unmarshal(e.Payload, &p)
				if p.Epoch == epoch && p.Source == source {
					n++
					auth = p.Auth
				}
			}
			if next == nil {
				return n, auth
			}
			after = *next
		}
	}
	if n, auth := count(epoch, "operator:admin"); n != 1 || auth == "" {
		t.Fatalf("operator trip entries: %d (authorization %q), want 1 recorded as checked without the store", n, auth)
	}
	if n, auth := count(epoch, "agent:"+tokentest.Pub("pg-tripper")); n != 1 || auth == "" {
		t.Fatalf("agent trip entries: %d (authorization %q), want 1 recorded as checked without the store", n, auth)
	}
	waitUntil(t, "a reset once PostgreSQL is back", func() bool {
		return h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "postgres back"}, nil) == 200
	})

	// Redis down: the bus breaks (the replica trips itself) and the replay
	// cache cannot answer; an agent's trip still trips and is recorded.
	rs.Stop()
	st, out, agLatency = agentTrip("agent with redis down")
	if st != 200 || out["state"] != "tripped" {
		t.Fatalf("agent trip with Redis down: %d %v", st, out)
	}
	t.Logf("Redis down: agent trip answered in %v", agLatency)
	epoch2 := g.Breaker.Snapshot().Epoch
	waitUntil(t, "the Redis-down trip to be recorded", func() bool {
		n, auth := count(epoch2, "agent:"+tokentest.Pub("pg-tripper"))
		return n == 1 && strings.Contains(auth, "replay not checked")
	})
}
