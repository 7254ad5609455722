package app

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/ledgertest"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// writeFaultStore fails, while down, the store writes that follow a
// revocation-like ledger event (a standing approval's revocation, a
// circuit's persistence): what a crash, a full disk or a PostgreSQL outage
// between the ledger append and the store write leaves behind.
type writeFaultStore struct {
	store.Store
	down *atomic.Bool
}

func (s writeFaultStore) UpdateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	if s.down.Load() {
		return store.Approval{}, errDiskFull
	}
	return s.Store.UpdateApproval(ctx, a)
}

func (s writeFaultStore) PutAgent(ctx context.Context, a store.Agent) error {
	if s.down.Load() {
		return errDiskFull
	}
	return s.Store.PutAgent(ctx, a)
}

func (s writeFaultStore) reps() store.Repetitions {
	inner := s.Store
	if fs, ok := inner.(*fleetStore); ok {
		inner = fs.Store
	}
	return inner.(store.Repetitions)
}

func (s writeFaultStore) TakeRepetition(ctx context.Context, key string, max int64) (bool, error) {
	return s.reps().TakeRepetition(ctx, key, max)
}

func (s writeFaultStore) RepetitionCount(ctx context.Context, key string) (int64, error) {
	return s.reps().RepetitionCount(ctx, key)
}

// serveWith builds and serves a gateway on dir with o's backend (the
// Background work started too, as serve does); stop shuts it down
// (idempotent, also run at cleanup). down, if non-nil, makes the store's
// revocation-like writes fail while set.
func serveWith(t *testing.T, dir string, ck *clock, adminKey string, o Options, down *atomic.Bool) (*harness, func()) {
	t.Helper()
	o.DataDir, o.PolicyPath, o.Clock = dir, "testdata/policy.yaml", ck.Now
	if down != nil {
		o.wrapBackend = func(be *Backend) { be.Store = writeFaultStore{Store: be.Store, down: down} }
	}
	g, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.Background(ctx, ck.Now)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
			_ = g.Close()
		})
	}
	t.Cleanup(stop)
	return &harness{t: t, g: g, url: "http://" + ln.Addr().String(), adminKey: adminKey, clock: ck, http: defaultClient(), nextN: 1000}, stop
}

// revocationsSurviveRestart (issue: revocation-like changes that reached
// the ledger but not the store came back after a full restart): a standing
// approval revoked and a circuit opened while the store's writes fail are
// in force at once, and still after every gateway of the fleet restarted.
// filler, if set, appends entries after the changes (so that they are
// older than any look-back window of the fleet's catch-up).
func revocationsSurviveRestart(t *testing.T, start func(down *atomic.Bool) (*harness, func()), filler func(h *harness)) {
	down := &atomic.Bool{}
	h, stop := start(down)
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("rc-agent", nil)
	bot := h.tokenFor("rc-bot", func(c *tokens.Claims) {
		vmax := 0.5
		c.Constraints.MaxVelocityMps = &vmax
	})
	e := h.escalate("rc-agent", tok, 3)
	if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"reason": "shift", "standingForMs": 600_000}, nil); st != 200 {
		t.Fatalf("approve standing: %d", st)
	}
	covered := func(h *harness) string {
		m := h.interceptBody("rc-agent", func(m map[string]any) {
			m["tokenId"], m["resource"], m["params"] = tok.Claims.TokenID, e.resource, map[string]any{"n": h.n()}
		})
		_, d := h.intercept("rc-agent", m)
		return d.Decision
	}
	botMove := func(h *harness, x float64) (string, string) {
		m := h.interceptBody("rc-bot", func(m map[string]any) {
			m["tokenId"] = bot.Claims.TokenID
			m["params"] = map[string]any{"linear": map[string]any{"x": x, "y": 0, "z": 0}, "angular": map[string]any{"x": 0, "y": 0, "z": 0}}
		})
		_, d := h.intercept("rc-bot", m)
		return d.Decision, str(d.Code)
	}
	if d := covered(h); d != "allow" {
		t.Fatalf("the standing approval does not cover: %s", d)
	}
	if d, c := botMove(h, 0.1); d != "allow" {
		t.Fatalf("bot before the circuit opens: %s %s", d, c)
	}

	down.Store(true) // from here the store loses the changes
	if st := h.as(alice, "DELETE", "/v1/standing-approvals/"+e.approvalID, nil, nil); st == 200 {
		t.Fatalf("revoking with the store failing answered 200")
	}
	if d := covered(h); d == "allow" {
		t.Fatal("the revoked standing approval still covers before the restart")
	}
	if d, c := botMove(h, 5.0); d != "deny" || c != "PHYSICS_CONSTRAINT" {
		t.Fatalf("severe violation: %s %s", d, c)
	}
	if d, c := botMove(h, 0.1); c != "CIRCUIT_OPEN" {
		t.Fatalf("bot after the severe violation: %s %s, want CIRCUIT_OPEN", d, c)
	}
	if got := h.ledgerTypes(e.approvalID); !slices.Contains(got, "approval.standing.revoked") {
		t.Fatalf("the revocation is not in the ledger: %v", got)
	}
	if filler != nil {
		filler(h)
	}
	stop() // still failing: a crash would not write the store either

	h2, _ := start(nil)
	h2.nextN = 5000
	time.Sleep(4 * SyncInterval) // a replica's catch-up polls run meanwhile
	if d := covered(h2); d == "allow" {
		t.Error("after the restart the revoked standing approval covers again")
	}
	for _, s := range h2.g.Approvals.ListStanding() {
		if s.ApprovalID == e.approvalID {
			t.Error("after the restart the revoked standing approval is listed in force")
		}
	}
	if d, c := botMove(h2, 0.1); c != "CIRCUIT_OPEN" {
		t.Errorf("after the restart the bot's circuit is closed: %s %s, want CIRCUIT_OPEN", d, c)
	}
}

// TestRevocationsInLedgerSurviveRestart: single node (bbolt store, file
// ledger).
func TestRevocationsInLedgerSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	revocationsSurviveRestart(t, func(down *atomic.Bool) (*harness, func()) {
		return serveWith(t, dir, ck, res.AdminAPIKey, Options{}, down)
	}, nil)
}

// TestFleetRevocationsInLedgerSurviveRestart: the replicated backend
// (PostgreSQL store and ledger, Redis), the changes older than the
// catch-up's look-back when the fleet restarts.
func TestFleetRevocationsInLedgerSurviveRestart(t *testing.T) {
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	revocationsSurviveRestart(t, func(down *atomic.Bool) (*harness, func()) {
		return serveWith(t, dir, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: redisAddr}, down)
	}, func(h *harness) {
		evs := make([]ledger.Event, 0, ledger.MaxBatch)
		for len(evs) < changeLookback+50 && len(evs) < ledger.MaxBatch {
			evs = append(evs, ledger.Event{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"policyHash": "filler", "source": "test"}})
		}
		if _, _, err := h.g.Ledger.AppendBatch(context.Background(), evs); err != nil {
			t.Fatalf("filler: %v", err)
		}
	})
}

// BenchmarkReconcileScan measures the start-up read of an embedded ledger
// without a reconciliation cursor (the first start after an upgrade, or a
// lost cursor): every entry is read to find the revocation-like ones.
// Reported as ns per ledger entry.
func BenchmarkReconcileScan(b *testing.B) {
	ctx := context.Background()
	signer, _ := ledgertest.Signer(b)
	dir := b.TempDir()
	const n = 100_000
	if _, err := filestore.Generate(ctx, filepath.Join(dir, "ledger"), n, filestore.GenOptions{Signer: signer}); err != nil {
		b.Fatal(err)
	}
	lg, err := filestore.Open(filepath.Join(dir, "ledger"), filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer lg.Close()
	st, err := embedded.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.ResetTimer()
	for range b.N {
		res, err := reconcileStore(ctx, st, lg, 0, time.Now())
		if err != nil || res.Through < n {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
}

// TestReconcileStore: what the start-up reconciliation re-applies from an
// embedded ledger, and its cursor.
func TestReconcileStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lg, err := filestore.Open(filepath.Join(dir, "ledger"), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	st, err := embedded.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	agentA, agentB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	for _, ev := range []ledger.Event{
		{EventType: "token.revoked", AgentID: "operator:x", TokenID: "tok-x", Payload: map[string]any{"tokenId": "tok-x"}},
		// A payload that looks like a revocation is no revocation.
		{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"eventType": "token.revoked", "tokenId": "tok-fake"}},
		{EventType: "agent.circuit.opened", AgentID: agentA, Payload: map[string]any{"agentId": agentA, "cause": "flood"}},
		{EventType: "agent.circuit.closed", AgentID: "operator:x", Payload: map[string]any{"agentId": agentA}},
		{EventType: "agent.circuit.opened", AgentID: agentB, Payload: map[string]any{"agentId": agentB, "cause": "severe"}},
		{EventType: "approval.standing.revoked", AgentID: agentB, Payload: map[string]any{"approvalId": "no-such-approval", "until": time.Now().Add(time.Hour).UnixMilli()}},
	} {
		if _, err := lg.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	res, err := reconcileStore(ctx, st, lg, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Through != 6 || res.Read != 5 || res.Repaired != 2 {
		t.Fatalf("first pass: %+v, want through 6, 5 read, 2 repaired", res)
	}
	revoked, _ := st.RevokedTokens(ctx)
	if !slices.Equal(revoked, []string{"tok-x"}) {
		t.Fatalf("revoked %v, want [tok-x]", revoked)
	}
	if b, err := st.GetAgent(ctx, agentB); err != nil || !b.CircuitOpen || b.CircuitCause != "severe" || b.CircuitSince == 0 {
		t.Fatalf("agent B: %+v %v, want its circuit open", b, err)
	}
	if _, err := st.GetAgent(ctx, agentA); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("agent A (closed last) was written: %v", err)
	}
	if res, err := reconcileStore(ctx, st, lg, 6, time.Now()); err != nil || res.Read != 0 || res.Repaired != 0 {
		t.Fatalf("from the cursor: %+v %v, want nothing read", res, err)
	}
	if res, err := reconcileStore(ctx, st, lg, 1<<40, time.Now()); err != nil || res.Read != 5 || res.Repaired != 0 {
		t.Fatalf("cursor past the end (another ledger): %+v %v, want everything read again, nothing to repair", res, err)
	}
	if err := writeReconciled(ctx, st, lg, 6); err != nil || readReconciled(ctx, st, lg) != 6 {
		t.Fatalf("cursor round trip: %v %d", err, readReconciled(ctx, st, lg))
	}
	if err := st.PutMark(ctx, reconcileMark, []byte("garbage")); err != nil || readReconciled(ctx, st, lg) != 0 {
		t.Fatalf("an unreadable cursor must read as 0 (read everything)")
	}
	if readReconciled(ctx, nil, lg) != 0 {
		t.Fatal("no marks: the cursor must read as 0")
	}
}

// TestReconcileCursorBoundToTheLedger: a cursor recorded against one
// ledger reads as 0 beside another ledger of the same or a greater size (a
// ledger directory replaced or restored), so its revocations are all read.
func TestReconcileCursorBoundToTheLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	open := func(name string) *filestore.Store {
		lg, err := filestore.Open(filepath.Join(dir, name), filestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lg.Close() })
		return lg
	}
	a, b := open("a"), open("b")
	for i := range 4 {
		for _, lg := range []*filestore.Store{a, b} {
			if _, err := lg.Append(ctx, ledger.Event{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"n": i, "ledger": lg == a}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := b.Append(ctx, ledger.Event{EventType: "token.revoked", AgentID: "operator:x", TokenID: "tok-b", Payload: map[string]any{"tokenId": "tok-b"}}); err != nil {
		t.Fatal(err)
	}
	st, err := embedded.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := writeReconciled(ctx, st, a, 4); err != nil {
		t.Fatal(err)
	}
	if got := readReconciled(ctx, st, a); got != 4 {
		t.Fatalf("cursor beside its own ledger: %d, want 4", got)
	}
	if got := readReconciled(ctx, st, b); got != 0 {
		t.Fatalf("cursor of ledger a beside ledger b: %d, want 0 (read everything)", got)
	}
	res, err := reconcileStore(ctx, st, b, readReconciled(ctx, st, b), time.Now())
	if err != nil || res.Repaired != 1 {
		t.Fatalf("reconcile against ledger b: %+v %v, want its revocation re-applied", res, err)
	}
}

// TestReconcileCursorTravelsWithTheStore (a store file restored from a
// backup accepted a token revoked after the backup): the cursor lives in
// the store, so a restored store brings back its own older cursor and the
// revocation recorded in the ledger since is re-applied at start; so are a
// trust root removed and an operator API key deleted after the backup
// (a restore brought back a compromised root and a dismissed operator's
// key).
func TestReconcileCursorTravelsWithTheStore(t *testing.T) {
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	h, stop := serveWith(t, dir, ck, res.AdminAPIKey, Options{}, nil)
	h.trustRoot("root")
	h.trustRoot("root-b")
	tok, mutate := h.allowToken("restore-agent")
	tokB := tokentest.Sign("root-b", tokentest.Root("root-b", "restore-agent-b", h.n(), ck.Now().UnixMilli()))
	h.register(tokB)
	var key struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if st := h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "dismissed", "scopes": []string{"read"}}, &key); st != 201 {
		t.Fatalf("create api key: %d", st)
	}
	move := func(h *harness) (string, string) {
		_, d := h.intercept("restore-agent", h.interceptBody("restore-agent", func(m map[string]any) {
			mutate(m)
			m["params"] = map[string]any{"n": h.n()}
		}))
		return d.Decision, str(d.Code)
	}
	moveB := func(h *harness) (string, string) {
		_, d := h.intercept("restore-agent-b", h.interceptBody("restore-agent-b", func(m map[string]any) {
			m["tokenId"] = tokB.Claims.TokenID
			m["params"] = map[string]any{"n": h.n()}
		}))
		return d.Decision, str(d.Code)
	}
	if d, c := move(h); d != "allow" {
		t.Fatalf("before the revocation: %s %s", d, c)
	}
	if d, c := moveB(h); d != "allow" {
		t.Fatalf("root-b's token before the root's removal: %s %s", d, c)
	}
	if st := h.withKey(key.Key, "GET", "/v1/ledger?limit=1", nil, nil); st != 200 {
		t.Fatalf("the operator key before its deletion: %d", st)
	}
	stop() // clean shutdown: the cursor reaches the ledger's end
	backup, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}

	h2, stop2 := serveWith(t, dir, ck, res.AdminAPIKey, Options{}, nil)
	h2.nextN = 5000
	if st := h2.admin("DELETE", "/v1/tokens/"+tok.Claims.TokenID, nil, nil); st != 200 {
		t.Fatalf("revoke: %d", st)
	}
	if st := h2.admin("DELETE", "/v1/roots/"+tokentest.Pub("root-b"), nil, nil); st != 204 {
		t.Fatalf("remove root-b: %d", st)
	}
	if st := h2.admin("DELETE", "/v1/apikeys/"+key.ID, nil, nil); st != 204 {
		t.Fatalf("delete the api key: %d", st)
	}
	if d, c := move(h2); c != "TOKEN_REVOKED" {
		t.Fatalf("after the revocation: %s %s, want TOKEN_REVOKED", d, c)
	}
	dB, cB := moveB(h2)
	if dB != "deny" {
		t.Fatalf("root-b's token after the root's removal: %s %s, want deny", dB, cB)
	}
	stop2() // the cursor moves past the revocation

	// The operator restores the store file from the backup taken before
	// the revocation; the ledger keeps it.
	if err := os.WriteFile(filepath.Join(dir, stateFile), backup, 0o600); err != nil {
		t.Fatal(err)
	}
	h3, _ := serveWith(t, dir, ck, res.AdminAPIKey, Options{}, nil)
	h3.nextN = 9000
	if d, c := move(h3); c != "TOKEN_REVOKED" {
		t.Errorf("after restoring the store from a backup the revoked token answers %s %s, want TOKEN_REVOKED", d, c)
	}
	if d, c := moveB(h3); d != "deny" || c != cB {
		t.Errorf("after restoring the store from a backup the removed root's token answers %s %s, want deny %s", d, c, cB)
	}
	if st := h3.withKey(key.Key, "GET", "/v1/ledger?limit=1", nil, nil); st != 401 {
		t.Errorf("after restoring the store from a backup the deleted operator key answers %d, want 401", st)
	}
}

// TestReconciledTypesSurviveArchiving: every event type the start-up
// reconciliation reads through a fleet ledger's type index is one the
// PostgreSQL archive keeps, so archiving never hides a revocation from it.
func TestReconciledTypesSurviveArchiving(t *testing.T) {
	for _, typ := range indexedReconcileTypes {
		if !slices.Contains(pgledger.RetainedTypes, typ) {
			t.Errorf("%s is re-applied at start but the archive removes it", typ)
		}
	}
}

// TestReconcileCursorMovesWhileRunning (a crash after a long run re-read
// the whole run before the gateway was ready, since the cursor moved only
// at a clean shutdown): a running embedded gateway moves its cursor to the
// ledger's end while the store holds every revocation-like change, and
// keeps it below a standing revocation whose store write failed, so a
// restart after a crash still re-applies it.
func TestReconcileCursorMovesWhileRunning(t *testing.T) {
	old := reconcileEvery
	reconcileEvery = 20 * time.Millisecond
	t.Cleanup(func() { reconcileEvery = old })
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	down := &atomic.Bool{}
	h, _ := serveWith(t, dir, ck, res.AdminAPIKey, Options{}, down)
	h.trustRoot("root")
	alice := h.operatorKey("alice", "approve", "read")
	tok := h.tokenFor("rc-agent", nil)
	e := h.escalate("rc-agent", tok, 3)
	if st := h.as(alice, "POST", "/v1/approvals/"+e.approvalID+"/approve", map[string]any{"reason": "shift", "standingForMs": 600_000}, nil); st != 200 {
		t.Fatalf("approve standing: %d", st)
	}
	ctx := context.Background()
	cursor := func() uint64 { return readReconciled(ctx, h.g.marks, h.g.Ledger) }
	waitCursor := func(want uint64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for cursor() != want {
			if time.Now().After(deadline) {
				t.Fatalf("cursor %d, want %d", cursor(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	size, err := h.g.Ledger.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitCursor(size) // nothing missing: it follows the ledger while running

	down.Store(true)
	if st := h.as(alice, "DELETE", "/v1/standing-approvals/"+e.approvalID, nil, nil); st == 200 {
		t.Fatalf("revoking with the store failing answered 200")
	}
	revokedAt, err := h.g.Ledger.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.ledgerTypes(e.approvalID); !slices.Contains(got, "approval.standing.revoked") {
		t.Fatalf("the revocation is not in the ledger: %v", got)
	}
	time.Sleep(20 * reconcileEvery)
	if c := cursor(); c >= revokedAt {
		t.Fatalf("the cursor moved to %d, past the revocation the store lacks (ledger size %d at revocation)", c, revokedAt)
	}

	// The store takes writes again: the running pass records the standing
	// revocation itself, so one failed write does not pin the cursor (each
	// later pass would read further back).
	down.Store(false)
	deadline := time.Now().Add(20 * time.Second)
	for cursor() < revokedAt {
		if time.Now().After(deadline) {
			t.Fatalf("cursor %d still below the revocation at %d after the store came back", cursor(), revokedAt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a, err := h.g.Store.GetApproval(ctx, e.approvalID)
	if err != nil || !strings.Contains(string(a.Extra), "standingRevokedAt") {
		t.Fatalf("the store does not hold the revocation: %v %s", err, a.Extra)
	}
}
