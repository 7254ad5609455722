package app

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// blackholedGateway runs a replicated gateway whose PostgreSQL (a fresh
// database on the test server) and Redis are reached through black-hole
// proxies, so that a test can make both stop answering without stopping
// the shared services.
func blackholedGateway(t *testing.T) (*harness, *blackhole, *blackhole) {
	t.Helper()
	g, url, key, pgHole, redisHole := blackholedBuild(t)
	// Every call the test makes, during the black-hole too, is answered
	// within 5 s or fails the test: nothing may hang.
	h := &harness{t: t, g: g, url: url, adminKey: key,
		clock: &clock{t: time.Now()}, http: &http.Client{Timeout: 5 * time.Second}, nextN: 9000}
	return h, pgHole, redisHole
}

// blackholedBuild builds and serves the gateway of blackholedGateway and
// returns it with its URL and admin key.
func blackholedBuild(t testing.TB) (*Gateway, string, string, *blackhole, *blackhole) {
	t.Helper()
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	pgHole := newBlackhole(t, u.Host)
	redisHole := newBlackhole(t, redisAddr)
	u.Host = pgHole.Addr()
	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := Build(ctx, Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", StoreURL: u.String(), RedisAddr: redisHole.Addr()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	g.Background(ctx, time.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() {
		// Restore first: closing a client whose server is black-holed
		// would wait on it.
		pgHole.Restore()
		redisHole.Restore()
		cancel()
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	return g, "http://" + ln.Addr().String(), res.AdminAPIKey, pgHole, redisHole
}

// TestEstopTripsStoreBlackholed: with PostgreSQL and Redis black-holed
// (connections accepted, nothing answered, as on a partitioned network,
// unlike a stopped server that refuses), an operator's trip and an
// agent-signed trip each trip the breaker and are answered 200 within the
// client's 5 s deadline, and GET /v1/estop keeps answering (bridges poll
// it). Once the network heals, each trip entry is in the ledger exactly
// once, the approval pending at the trip is cancelled (never granted, also
// after the reset) and an operator reset succeeds (issue 17 item 1,
// store-hung case).
func TestEstopTripsStoreBlackholed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a replicated gateway on the test PostgreSQL and Redis")
	}
	h, pgHole, redisHole := blackholedGateway(t)
	h.trustRoot("root")
	mut := withToken("bh-agent", func(c *tokens.Claims) {})(h)
	m := h.interceptBody("bh-agent", mut)
	m["timestamp"] = time.Now().UnixMilli()
	m["resource"] = "ros:///arm/j1"
	st, d := h.intercept("bh-agent", m)
	if st != 202 || d.ApprovalID == nil {
		t.Fatalf("escalation: %d %s", st, str(d.Code))
	}
	agent := tokentest.Pub("bh-agent")

	pgHole.Hole()
	redisHole.Hole()
	start := time.Now()
	var out map[string]any
	if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "store black-holed"}, &out); st != 200 || out["state"] != "tripped" {
		t.Fatalf("operator trip with the store black-holed: %d %v", st, out)
	}
	opLatency := time.Since(start)
	if !h.g.Breaker.Tripped() {
		t.Fatal("breaker not tripped")
	}
	epoch := h.g.Breaker.Snapshot().Epoch

	ts := time.Now().UnixMilli()
	body, _ := json.Marshal(map[string]any{"agentId": agent, "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": ts, "reason": "agent, store black-holed"})
	start = time.Now()
	if st := h.do("POST", "/v1/estop/trip", signed("bh-agent", body, ts), body, &out); st != 200 || out["state"] != "tripped" {
		t.Fatalf("agent trip with the store black-holed: %d %v", st, out)
	}
	agLatency := time.Since(start)
	var view map[string]any
	if st := h.admin("GET", "/v1/estop", nil, &view); st != 200 || view["state"] != "tripped" {
		t.Fatalf("GET /v1/estop with the store black-holed: %d %v", st, view)
	}
	t.Logf("store black-holed: operator trip answered in %v, agent trip in %v", opLatency, agLatency)

	pgHole.Restore()
	redisHole.Restore()
	waitUntil(t, "the journal to drain into PostgreSQL", func() bool { return len(h.g.Journal.Pending()) == 0 })
	for _, src := range []string{"operator:admin", "agent:" + agent} {
		if n := len(tripEntries(t, h, epoch, src)); n != 1 {
			t.Errorf("trip entries of %s in epoch %d: %d, want 1", src, epoch, n)
		}
	}
	waitUntil(t, "the pending approval to be cancelled", func() bool {
		var got map[string]any
		h.admin("GET", "/v1/approvals/"+*d.ApprovalID, nil, &got)
		return got["state"] == "cancelled"
	})
	waitUntil(t, "a reset once the store answers again", func() bool {
		return h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "network healed"}, nil) == 200
	})
	if st := h.admin("POST", "/v1/approvals/"+*d.ApprovalID+"/approve", map[string]string{"reason": "after reset"}, nil); st == 200 {
		t.Fatal("an approval pending at the trip was granted after the reset")
	}
}
