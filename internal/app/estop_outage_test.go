package app

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/link"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// errDiskFull is what the fault-injecting wrappers answer while "down": the
// embedded store and ledger on a full disk (a failed write; the file ledger
// reports ErrFailed).
var errDiskFull = codes.Wrap(codes.LedgerUnavailable, "write failed", syscall.ENOSPC)

// faultLedger fails every append while down (a full disk under the ledger,
// or PostgreSQL gone).
type faultLedger struct {
	ledger.Store
	down *atomic.Bool
}

func (l faultLedger) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	if l.down.Load() {
		return ledger.Entry{}, errDiskFull
	}
	return l.Store.Append(ctx, ev)
}

func (l faultLedger) AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error) {
	if l.down.Load() {
		return nil, nil, errDiskFull
	}
	return l.Store.AppendBatch(ctx, evs)
}

// faultStore fails, while down, every store call a trip path makes.
type faultStore struct {
	store.Store
	down *atomic.Bool
}

// TakeRepetition and RepetitionCount fail like every other write while
// down (the gateway refuses a store without durable repetition counts).
func (s faultStore) TakeRepetition(ctx context.Context, key string, max int64) (bool, error) {
	if s.down.Load() {
		return false, errDiskFull
	}
	return s.Store.(store.Repetitions).TakeRepetition(ctx, key, max)
}

func (s faultStore) RepetitionCount(ctx context.Context, key string) (int64, error) {
	if s.down.Load() {
		return 0, errDiskFull
	}
	return s.Store.(store.Repetitions).RepetitionCount(ctx, key)
}

func (s faultStore) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	if s.down.Load() {
		return store.APIKey{}, errDiskFull
	}
	return s.Store.GetAPIKey(ctx, id)
}

func (s faultStore) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.TokenRecord, error) {
	if s.down.Load() {
		return nil, errDiskFull
	}
	return s.Store.ListTokens(ctx, f)
}

func (s faultStore) PutEstop(ctx context.Context, e store.EstopState) error {
	if s.down.Load() {
		return errDiskFull
	}
	return s.Store.PutEstop(ctx, e)
}

func (s faultStore) ListApprovals(ctx context.Context, state string, limit int) ([]store.Approval, error) {
	if s.down.Load() {
		return nil, errDiskFull
	}
	return s.Store.ListApprovals(ctx, state, limit)
}

func (s faultStore) PutAgent(ctx context.Context, a store.Agent) error {
	if s.down.Load() {
		return errDiskFull
	}
	return s.Store.PutAgent(ctx, a)
}

// outageHarness is a gateway whose store and ledger fail while down is set.
func outageHarness(t *testing.T, policyPath string, hw Hardware) (*harness, *atomic.Bool, context.CancelFunc) {
	t.Helper()
	g, url, key, down, cancel := outageGateway(t, policyPath, hw)
	return &harness{t: t, g: g, url: url, adminKey: key, clock: &clock{t: time.Now().Truncate(time.Millisecond)}, http: defaultClient(), nextN: 7000}, down, cancel
}

// outageGateway builds and serves a gateway whose store and ledger fail
// while down is set, and returns it with its URL and admin key.
func outageGateway(tb testing.TB, policyPath string, hw Hardware) (*Gateway, string, string, *atomic.Bool, context.CancelFunc) {
	tb.Helper()
	dir := tb.TempDir()
	res, _, err := InitDataDir(context.Background(), dir, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	down := &atomic.Bool{}
	g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: policyPath, Clock: time.Now, Hardware: hw,
		wrapBackend: func(be *Backend) {
			be.Store = faultStore{Store: be.Store, down: down}
			be.Ledger = faultLedger{Store: be.Ledger, down: down}
		}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if hw.Configured() {
		if err := startHardware(ctx, hw, g.Breaker, g.Log); err != nil {
			tb.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	tb.Cleanup(func() {
		cancel()
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	return g, "http://" + ln.Addr().String(), res.AdminAPIKey, down, cancel
}

// resetWhenClear resets the breaker once no source is latched.
func resetWhenClear(t *testing.T, h *harness) {
	t.Helper()
	waitUntil(t, "an operator reset to succeed", func() bool {
		return len(h.g.Breaker.Snapshot().Latched()) == 0 && h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "commissioning"}, nil) == 200
	})
}

// tripEntries returns the safety.estop.tripped entries of epoch whose
// source is src.
func tripEntries(t *testing.T, h *harness, epoch uint64, src string) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	var after uint64
	for {
		es, next, err := h.g.Ledger.List(context.Background(), ledger.ListQuery{After: after, Limit: ledger.MaxListLimit, EventType: "safety.estop.tripped"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			var p struct {
				Epoch  uint64 `json:"epoch"`
				Source string `json:"source"`
			}
			_ = json.Unmarshal(e.Payload, &p)
			if p.Epoch == epoch && p.Source == src {
				out = append(out, e)
			}
		}
		if next == nil {
			return out
		}
		after = *next
	}
}

// TestEstopTripsWithStoreDown trips the e-stop by every path while the
// store and the ledger fail every write (a full disk: simulated by wrappers
// that fail, see docs/estop.md): the breaker trips, the requester is
// answered success, GET /v1/estop (what bridges poll) shows tripped, a
// reset is refused while the trip is not in the ledger; once the store is
// back the trip entry is in the ledger exactly once, and the state is
// persisted (issue 17 item 1).
func TestEstopTripsWithStoreDown(t *testing.T) {
	severePolicy := filepath.Join(t.TempDir(), "policy.yaml")
	pb, err := os.ReadFile("testdata/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pb = []byte(replaceOnce(string(pb), "tripOnSevereViolation: false", "tripOnSevereViolation: true"))
	if err := os.WriteFile(severePolicy, pb, 0o600); err != nil {
		t.Fatal(err)
	}
	linkKey := make([]byte, 32)
	for i := range linkKey {
		linkKey[i] = byte(i + 1)
	}
	keyFile := filepath.Join(t.TempDir(), "estop.key")
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(linkKey)), 0o600); err != nil {
		t.Fatal(err)
	}

	type path struct {
		name   string
		policy string
		hw     func() Hardware
		setup  func(t *testing.T, h *harness) func() // prepares while up; returns the trip (run while down)
		source string
	}
	var btn *gpiotest.Pin
	var linkAddr string
	paths := []path{
		{name: "api-key", source: "operator:admin", setup: func(t *testing.T, h *harness) func() {
			return func() {
				var body map[string]any
				if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "store down"}, &body); st != 200 || body["state"] != "tripped" {
					t.Fatalf("operator trip: %d %v", st, body)
				}
			}
		}},
		{name: "agent-signed", setup: func(t *testing.T, h *harness) func() {
			h.trustRoot("root")
			h.register(h.rootToken("tripper", func(c *tokens.Claims) {}))
			return func() {
				ts := time.Now().UnixMilli()
				body, _ := json.Marshal(map[string]any{"agentId": tokentest.Pub("tripper"), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": ts, "reason": "agent saw smoke"})
				var out map[string]any
				if st := h.do("POST", "/v1/estop/trip", signed("tripper", body, ts), body, &out); st != 200 || out["state"] != "tripped" {
					t.Fatalf("agent trip: %d %v", st, out)
				}
			}
		}, source: "agent:" + tokentest.Pub("tripper")},
		{name: "gpio-button", source: "BTN", hw: func() Hardware {
			btn = &gpiotest.Pin{N: "BTN", EdgesChan: make(chan gpio.Level, 16), L: gpio.High}
			return Hardware{ButtonPin: "BTN", Pins: func(string) (gpio.PinIO, error) { return btn, nil }}
		}, setup: func(t *testing.T, h *harness) func() {
			waitUntil(t, "the button input to be configured", func() bool { btn.Lock(); defer btn.Unlock(); return btn.P == gpio.PullUp })
			btn.EdgesChan <- gpio.Low // released
			resetWhenClear(t, h)
			return func() { btn.EdgesChan <- gpio.High } // pressed
		}},
		{name: "controller-link", source: "controller", hw: func() Hardware {
			linkAddr = freeAddr(t)
			return Hardware{LinkAddr: linkAddr, KeyFile: keyFile}
		}, setup: func(t *testing.T, h *harness) func() {
			ctx, cancel := context.WithCancel(context.Background())
			var conn net.Conn
			waitUntil(t, "the link listener", func() bool {
				c, err := net.Dial("tcp", linkAddr)
				conn = c
				return err == nil
			})
			codec, err := link.NewCodec(linkKey, link.RoleController, uint64(time.Now().UnixNano()), 0)
			if err != nil {
				t.Fatal(err)
			}
			sess := link.NewSession(conn, codec, link.Config{Timeout: 2 * time.Second}, link.Hooks{Status: func() link.Status {
				return link.Status{Button: "released", Relay: "energised"}
			}})
			go func() { _ = sess.Run(ctx) }()
			t.Cleanup(cancel)
			resetWhenClear(t, h)
			return cancel // the controller goes away: the link trips
		}},
		{name: "anomaly", policy: severePolicy, source: "severe-violation", setup: func(t *testing.T, h *harness) func() {
			h.trustRoot("root")
			mut := withToken("wild", func(c *tokens.Claims) { v := 1.0; c.Constraints.MaxVelocityMps = &v })(h)
			return func() {
				m := h.interceptBody("wild", mut)
				m["timestamp"] = time.Now().UnixMilli()
				m["params"] = map[string]any{"linear": map[string]any{"x": 5.0, "y": 0, "z": 0}}
				if st, d := h.intercept("wild", m); d.Decision == "allow" {
					t.Fatalf("severe violation allowed: %d", st)
				}
			}
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			var hw Hardware
			if p.hw != nil {
				hw = p.hw()
			}
			pol := p.policy
			if pol == "" {
				pol = "testdata/policy.yaml"
			}
			h, down, _ := outageHarness(t, pol, hw)
			trip := p.setup(t, h)
			before := h.g.Breaker.Snapshot()
			if before.Tripped {
				t.Fatalf("tripped before the outage: %+v", before)
			}
			down.Store(true)
			trip()
			waitUntil(t, "the breaker to trip", h.g.Breaker.Tripped)
			epoch := h.g.Breaker.Snapshot().Epoch
			var view map[string]any
			if st := h.admin("GET", "/v1/estop", nil, &view); st != 200 || view["state"] != "tripped" {
				t.Fatalf("GET /v1/estop during the outage: %d %v", st, view)
			}
			if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "too early"}, nil); st == 200 {
				t.Fatal("reset succeeded while the trip is not in the ledger")
			}
			if n := len(h.g.Journal.Pending()); n == 0 {
				t.Fatal("the trip is not in the journal")
			}
			down.Store(false)
			waitUntil(t, "the journal to drain", func() bool { return len(h.g.Journal.Pending()) == 0 })
			_ = h.g.Journal.Drain(context.Background(), 5*time.Second) // a second drain records nothing new
			src := p.source
			got := tripEntries(t, h, epoch, src)
			if len(got) != 1 {
				t.Fatalf("trip entries of epoch %d from %s: %d, want exactly 1", epoch, src, len(got))
			}
			persisted, err := h.g.Store.GetEstop(context.Background())
			if err != nil || persisted.State != "tripped" || persisted.Epoch != epoch {
				t.Fatalf("persisted %+v %v; want tripped at epoch %d", persisted, err, epoch)
			}
			t.Logf("%s: tripped at epoch %d with the store down; recorded once at #%d when it returned", p.name, epoch, got[0].SequenceNumber)
		})
	}
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	panic(fmt.Sprintf("%q not found", old))
}

// TestApprovalPendingAtOutageTripNeverGranted: an approval pending when the
// e-stop trips while the store is down (so the trip cannot cancel it then)
// is cancelled once the store is back, and is never granted after the
// reset (issue 17 item 2: no pending approval outlives a trip).
func TestApprovalPendingAtOutageTripNeverGranted(t *testing.T) {
	h, down, _ := outageHarness(t, "testdata/policy.yaml", Hardware{})
	h.trustRoot("root")
	mut := withToken("esc", func(c *tokens.Claims) {})(h)
	m := h.interceptBody("esc", mut)
	m["timestamp"] = time.Now().UnixMilli()
	m["resource"] = "ros:///arm/j1"
	st, d := h.intercept("esc", m)
	if st != 202 || d.ApprovalID == nil {
		t.Fatalf("escalation: %d %s", st, str(d.Code))
	}
	down.Store(true)
	if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "outage"}, nil); st != 200 {
		t.Fatalf("trip: %d", st)
	}
	down.Store(false)
	resetWhenClear(t, h)
	var a map[string]any
	st = h.admin("POST", "/v1/approvals/"+*d.ApprovalID+"/approve", map[string]string{"reason": "after reset"}, &a)
	if st == 200 {
		t.Fatalf("an approval pending at the trip was granted after the reset: %v", a)
	}
	waitUntil(t, "the approval to be cancelled", func() bool {
		var got map[string]any
		h.admin("GET", "/v1/approvals/"+*d.ApprovalID, nil, &got)
		return got["state"] == "cancelled"
	})
}

// TestEstopTripSurvivesRestartBeforeRecorded: a trip made while the store
// and ledger fail, by a gateway that stops before they return, is not lost:
// the next gateway on the data dir boots tripped (the persisted state still
// says armed) and records the trip entry exactly once.
func TestEstopTripSurvivesRestartBeforeRecorded(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := InitDataDir(context.Background(), dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	down := &atomic.Bool{}
	build := func() *Gateway {
		g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: "testdata/policy.yaml",
			wrapBackend: func(be *Backend) {
				be.Store = faultStore{Store: be.Store, down: down}
				be.Ledger = faultLedger{Store: be.Ledger, down: down}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := build()
	down.Store(true)
	if s, _ := g.Breaker.Trip(context.Background(), estop.Source{ID: "BTN", Kind: estop.KindGPIO}, "pressed during the outage"); !s.Tripped {
		t.Fatal("not tripped")
	}
	epoch := g.Breaker.Snapshot().Epoch
	_ = g.Close() // stops with the trip only in the journal
	down.Store(false)

	g2 := build()
	defer g2.Close()
	if s := g2.Breaker.Snapshot(); !s.Tripped || s.Epoch != epoch {
		t.Fatalf("restarted %+v; want tripped at epoch %d", s, epoch)
	}
	waitUntil(t, "the journal to drain", func() bool { return len(g2.Journal.Pending()) == 0 })
	h := &harness{t: t, g: g2}
	if got := tripEntries(t, h, epoch, "BTN"); len(got) != 1 {
		t.Fatalf("trip entries after the restart: %d, want 1", len(got))
	}
	st, err := g2.Store.GetEstop(context.Background())
	if err != nil || st.State != "tripped" || st.Epoch != epoch {
		t.Fatalf("persisted %+v %v", st, err)
	}
}

// TestDeletedKeyCannotTripDuringOutage: the trip endpoint's key cache (used
// while the store cannot answer) forgets a key deleted on this replica, so a
// deleted key is refused during an outage as it is with the store up.
func TestDeletedKeyCannotTripDuringOutage(t *testing.T) {
	h, down, _ := outageHarness(t, "testdata/policy.yaml", Hardware{})
	kept := h.operatorKey("kept", "estop:trip")
	gone := h.operatorKey("gone", "estop:trip")
	id := strings.SplitN(strings.TrimPrefix(gone, "sk_"), "_", 2)[0]
	if st := h.admin("DELETE", "/v1/apikeys/"+id, nil, nil); st != 204 {
		t.Fatalf("delete API key: %d", st)
	}
	down.Store(true)
	if st := h.as(gone, "POST", "/v1/estop/trip", map[string]string{"reason": "deleted key"}, nil); st != 401 {
		t.Fatalf("trip with a deleted key while the store is down: %d, want 401", st)
	}
	if h.g.Breaker.Tripped() {
		t.Fatal("a deleted key tripped the breaker")
	}
	var body map[string]any
	if st := h.as(kept, "POST", "/v1/estop/trip", map[string]string{"reason": "kept key"}, &body); st != 200 || body["state"] != "tripped" {
		t.Fatalf("trip with a live key while the store is down: %d %v", st, body)
	}
	down.Store(false)
}

// TestOperatorTripWithSloppyBody: an authenticated operator's trip whose
// body the gateway does not understand (an unknown field, trailing bytes)
// still trips; only the reason is lost, and the entry says so.
func TestOperatorTripWithSloppyBody(t *testing.T) {
	for _, body := range []string{`{"reason":"smoke","force":true}`, `{"reason":"smoke"} junk`, `not json`} {
		t.Run(body, func(t *testing.T) {
			h, _, _ := outageHarness(t, "testdata/policy.yaml", Hardware{})
			var out map[string]any
			st := h.do("POST", "/v1/estop/trip", map[string]string{"Authorization": "Bearer " + h.adminKey}, []byte(body), &out)
			if st != 200 || out["state"] != "tripped" || !h.g.Breaker.Tripped() {
				t.Fatalf("operator trip with body %q: %d %v, breaker tripped %v; want 200 tripped", body, st, out, h.g.Breaker.Tripped())
			}
		})
	}
}
