package app

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
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
