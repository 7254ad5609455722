package app

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// restartTokens are the two tokens of a restart test, both for one agent:
// plain (no budget), and limited (maxRepetitions: 2).
type restartTokens struct{ plain, limited *tokens.Token }

func newRestartTokens(agent string, n int) restartTokens {
	now := time.Now().UnixMilli()
	lim := tokentest.Root("root", agent, n+1, now)
	two := int64(2)
	lim.Constraints.MaxRepetitions = &two
	return restartTokens{
		plain:   tokentest.Sign("root", tokentest.Root("root", agent, n, now)),
		limited: tokentest.Sign("root", lim),
	}
}

// allowsOf counts the allow decisions recorded for requestID.
func allowsOf(t *testing.T, lg ledger.Store, requestID string) int {
	t.Helper()
	n := 0
	q := ledger.ListQuery{EventType: "policy.evaluated", Limit: ledger.MaxListLimit}
	for {
		es, next, err := lg.List(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			var p struct{ RequestID, Decision string }
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if p.RequestID == requestID && p.Decision == "allow" {
				n++
			}
		}
		if next == nil {
			return n
		}
		q.After = *next
	}
}

// beforeRestart spends the limited token's budget (two allows, then
// REPETITIONS_EXHAUSTED) and returns a captured allowed request on the
// plain token, to be replayed after the restart.
func beforeRestart(t *testing.T, hc interceptClient, agent string, toks restartTokens) []byte {
	t.Helper()
	// Signed 25 s ahead (an agent clock the ±30 s freshness still accepts):
	// the capture stays fresh for 55 s, so the replay after the restart
	// tests replay protection, not freshness, even on a loaded machine.
	var m map[string]any
	_ = json.Unmarshal(moveBody(agent, toks.plain.Claims.TokenID), &m)
	m["timestamp"] = time.Now().Add(25 * time.Second).UnixMilli()
	captured, _ := json.Marshal(m)
	if d, st := hc(captured); d.Decision != "allow" {
		t.Fatalf("captured request before the restart: %d %s %s", st, d.Decision, code(d))
	}
	for i := range 3 {
		d, st := hc(moveBody(agent, toks.limited.Claims.TokenID))
		want := "allow"
		if i == 2 {
			want = "REPETITIONS_EXHAUSTED"
		}
		got := d.Decision
		if got != "allow" {
			got = code(d)
		}
		if got != want {
			t.Fatalf("limited token, use %d before the restart: %d %s %s; want %s", i+1, st, d.Decision, code(d), want)
		}
	}
	return captured
}

// afterRestart replays the captured request and uses the limited token
// again: REPLAY_DETECTED and REPETITIONS_EXHAUSTED, and the plain token
// still works.
func afterRestart(t *testing.T, hc interceptClient, agent string, toks restartTokens, captured []byte) {
	t.Helper()
	var m struct{ Timestamp int64 }
	_ = json.Unmarshal(captured, &m)
	if age := time.Since(time.UnixMilli(m.Timestamp)); age > 28*time.Second {
		t.Fatalf("the replay comes %v after its timestamp: the freshness check, not replay protection, would refuse it", age)
	}
	d, st := hc(captured)
	if d.Decision != "deny" || code(d) != "REPLAY_DETECTED" || st != 401 {
		t.Errorf("replay of a request answered before the restart: %d %s %s; want 401 REPLAY_DETECTED", st, d.Decision, code(d))
	}
	d, st = hc(moveBody(agent, toks.limited.Claims.TokenID))
	if d.Decision != "deny" || code(d) != "REPETITIONS_EXHAUSTED" {
		t.Errorf("limited token after the restart: %d %s %s; want REPETITIONS_EXHAUSTED (maxRepetitions is a lifetime count)", st, d.Decision, code(d))
	}
	d, st = hc(moveBody(agent, toks.plain.Claims.TokenID))
	if d.Decision != "allow" {
		t.Errorf("fresh request after the restart: %d %s %s; want allow", st, d.Decision, code(d))
	}
}

type interceptClient func(body []byte) (api.Decision, int)

// TestRestartKeepsReplayAndRepetitions restarts a single-node gateway
// process (SIGKILL, then a clean SIGTERM) between a captured request and
// its replay, and between spending a maxRepetitions budget and using the
// token again: neither a replay nor a spent budget comes back.
func TestRestartKeepsReplayAndRepetitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	bin := gatewayBinary(t)
	policy, _ := filepath.Abs("testdata/policy.yaml")
	for i, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			res, _, err := InitDataDir(context.Background(), dir, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			g := startGateway(t, bin, dir, "--policy", policy)
			t.Cleanup(func() {
				if g.cmd.ProcessState == nil {
					_ = g.cmd.Process.Kill()
					_ = g.cmd.Wait()
				}
				if t.Failed() {
					t.Logf("gateway logs:\n%s", g.logs.String())
				}
			})
			f := &fleetT{t: t, adminKey: res.AdminAPIKey, hc: defaultClient()}
			if st := f.call(g, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 && st != 200 {
				t.Fatalf("add root: %d", st)
			}
			agent := "restart-agent"
			toks := newRestartTokens(agent, 10*i+1)
			for _, tok := range []*tokens.Token{toks.plain, toks.limited} {
				if st := f.call(g, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
					t.Fatalf("register token: %d", st)
				}
			}
			hc := func(body []byte) (api.Decision, int) {
				d, st, err := intercept(f.hc, g, agent, body)
				if err != nil {
					t.Fatal(err)
				}
				return d, st
			}
			captured := beforeRestart(t, hc, agent, toks)
			_ = g.cmd.Process.Signal(sig)
			_ = g.cmd.Wait()
			g = startGateway(t, bin, dir, "--policy", policy)
			afterRestart(t, hc, agent, toks, captured)
			_ = g.cmd.Process.Signal(syscall.SIGTERM)
			_ = g.cmd.Wait()

			lg, err := filestore.Open(filepath.Join(dir, ledgerDir), filestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer lg.Close()
			var m struct{ RequestID string }
			_ = json.Unmarshal(captured, &m)
			if n := allowsOf(t, lg, m.RequestID); n != 1 {
				t.Errorf("the ledger holds %d allows for the captured requestId; want 1", n)
			}
		})
	}
}

// TestFleetRedisRestartKeepsReplayAndRepetitions restarts the fleet's
// Redis without persistence (it comes back empty) and resets the e-stop
// the outage tripped: a request answered before the outage is still a
// replay on another replica after it, and a spent maxRepetitions budget
// (kept in PostgreSQL) stays spent.
func TestFleetRedisRestartKeepsReplayAndRepetitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes and a redis-server")
	}
	pgURL := testenv.FreshPGDatabase(t)
	rs := startPrivateRedis(t)
	addr := rs.Addr
	f := newFleet(t, 2, pgURL, addr)
	agent := "redis-restart-agent"
	if st := f.call(f.gws[0], "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 && st != 200 {
		t.Fatalf("add root: %d", st)
	}
	toks := newRestartTokens(agent, 31)
	for _, tok := range []*tokens.Token{toks.plain, toks.limited} {
		if st := f.call(f.gws[0], "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
			t.Fatalf("register token: %d", st)
		}
	}
	on := func(i int) interceptClient {
		return func(body []byte) (api.Decision, int) {
			d, st, err := intercept(f.hc, f.gws[i], agent, body)
			if err != nil {
				t.Fatal(err)
			}
			return d, st
		}
	}
	captured := beforeRestart(t, on(0), agent, toks)

	rs.Stop()
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to trip on the broken bus", i), func() bool {
			var s struct{ State string }
			f.call(g, "GET", "/v1/estop", nil, &s)
			return s.State == "tripped"
		})
	}
	rs.Start()                         // empty: no persistence
	time.Sleep(500 * time.Millisecond) // the subscriptions reconnect
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to be reset", i), func() bool {
			var s struct{ State string }
			f.call(g, "GET", "/v1/estop", nil, &s)
			return s.State == "armed" || f.call(g, "POST", "/v1/estop/reset", map[string]string{"reason": "redis back"}, nil) == 200
		})
	}
	for i := range f.gws {
		var last string
		waitUntil(t, fmt.Sprintf("replica %d to allow after the reset ", i), func() bool {
			d, st := on(i)(moveBody(agent, toks.plain.Claims.TokenID))
			last = fmt.Sprint(st, " ", d.Decision, " ", code(d))
			if d.Decision != "allow" {
				t.Logf("replica %d: %s", i, last)
			}
			return d.Decision == "allow"
		})
	}
	afterRestart(t, on(1), agent, toks, captured)

	lg, err := pgledger.Open(context.Background(), pgURL, pgledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	var m struct{ RequestID string }
	_ = json.Unmarshal(captured, &m)
	if n := allowsOf(t, lg, m.RequestID); n != 1 {
		t.Errorf("the ledger holds %d allows for the captured requestId; want 1", n)
	}
}

// latestCheckpointSize returns the tree size of the latest checkpoint entry
// (0 when there is none), read through the ledger API without signing one.
func latestCheckpointSize(f *fleetT, g *gatewayProc) uint64 {
	q := "/v1/ledger?eventType=ledger.checkpoint&limit=1000"
	var last uint64
	for {
		var page struct {
			Events []ledger.Entry
			Next   *uint64
		}
		if st := f.call(g, "GET", q, nil, &page); st != 200 {
			f.t.Fatalf("GET %s: %d", q, st)
		}
		for _, e := range page.Events {
			var cp ledger.Checkpoint
			_ = json.Unmarshal(e.Payload, &cp)
			last = cp.TreeSize
		}
		if page.Next == nil {
			return last
		}
		q = fmt.Sprintf("/v1/ledger?eventType=ledger.checkpoint&limit=1000&after=%d", *page.Next)
	}
}

// TestCheckpointsInACrashLoop: a gateway killed before its first minute of
// uptime still leaves signed checkpoints: one every --checkpoint-entries
// entries, one at start covering what the killed run left, and one at a
// clean shutdown covering everything before it.
func TestCheckpointsInACrashLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	bin := gatewayBinary(t)
	policy, _ := filepath.Abs("testdata/policy.yaml")
	dir := t.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f := &fleetT{t: t, adminKey: res.AdminAPIKey, hc: defaultClient()}
	var g *gatewayProc
	start := func() {
		g = startGateway(t, bin, dir, "--policy", policy, "--checkpoint-entries", "25")
	}
	t.Cleanup(func() {
		if g != nil && g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill()
			_ = g.cmd.Wait()
		}
		if t.Failed() && g != nil {
			t.Logf("gateway logs:\n%s", g.logs.String())
		}
	})
	ledgerSize := func() uint64 {
		lg, err := filestore.Open(filepath.Join(dir, ledgerDir), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		n, err := lg.Size(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	kill := func() {
		_ = g.cmd.Process.Signal(syscall.SIGKILL)
		_ = g.cmd.Wait()
	}

	start()
	if st := f.call(g, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 && st != 200 {
		t.Fatalf("add root: %d", st)
	}
	tok := tokentest.Sign("root", tokentest.Root("root", "cp-agent", 41, time.Now().UnixMilli()))
	if st := f.call(g, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		t.Fatalf("register token: %d", st)
	}
	for range 40 {
		if d, st, err := intercept(f.hc, g, "cp-agent", moveBody("cp-agent", tok.Claims.TokenID)); err != nil || d.Decision != "allow" {
			t.Fatalf("intercept: %v %d %s %s", err, st, d.Decision, code(d))
		}
	}
	t.Run("entries", func(t *testing.T) {
		waitUntil(t, "a checkpoint after 25 entries", func() bool { return latestCheckpointSize(f, g) >= 40 })
	})
	kill()

	size := ledgerSize()
	start()
	t.Run("start", func(t *testing.T) {
		waitUntil(t, fmt.Sprintf("a checkpoint at start covering the %d entries left by the killed run", size), func() bool {
			return latestCheckpointSize(f, g) >= size
		})
	})
	kill()

	start()
	for range 3 {
		if d, st, err := intercept(f.hc, g, "cp-agent", moveBody("cp-agent", tok.Claims.TokenID)); err != nil || d.Decision != "allow" {
			t.Fatalf("intercept: %v %d %s %s", err, st, d.Decision, code(d))
		}
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	_ = g.cmd.Wait()
	t.Run("shutdown", func(t *testing.T) {
		lg, err := filestore.Open(filepath.Join(dir, ledgerDir), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		head, err := lg.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var cp ledger.Checkpoint
		_ = json.Unmarshal(head.Payload, &cp)
		if head.EventType != ledger.EventTypeCheckpoint || cp.TreeSize != head.SequenceNumber-1 {
			t.Fatalf("the last entry after a clean shutdown is %s (seq %d, treeSize %d); want a checkpoint covering every entry before it",
				head.EventType, head.SequenceNumber, cp.TreeSize)
		}
	})
}

// TestRepetitionStoreFailureDenies: when the durable repetition count
// cannot be written, a token with maxRepetitions is denied (fail closed),
// while a token without it is unaffected by the store.
func TestRepetitionStoreFailureDenies(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	two := int64(2)
	limited := h.rootToken("rep-agent", func(c *tokens.Claims) { c.Constraints.MaxRepetitions = &two })
	plain := h.rootToken("rep-agent", nil)
	h.register(limited)
	h.register(plain)
	body := func(tok *tokens.Token) map[string]any {
		return h.interceptBody("rep-agent", func(m map[string]any) { m["tokenId"] = tok.Claims.TokenID })
	}
	if st, d := h.intercept("rep-agent", body(limited)); d.Decision != "allow" {
		t.Fatalf("limited token with the store up: %d %s %s", st, d.Decision, str(d.Code))
	}
	if err := h.g.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if st, d := h.intercept("rep-agent", body(limited)); d.Decision != "deny" || str(d.Code) != "INTERNAL_ERROR" {
		t.Fatalf("limited token with the store closed: %d %s %s; want deny INTERNAL_ERROR", st, d.Decision, str(d.Code))
	}
	if st, d := h.intercept("rep-agent", body(plain)); d.Decision != "allow" {
		t.Fatalf("token without maxRepetitions with the store closed: %d %s %s; want allow", st, d.Decision, str(d.Code))
	}
}
