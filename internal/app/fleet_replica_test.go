package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/pgstore"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// fleetT is a fleet of sint-gateway processes sharing one PostgreSQL
// database and one Redis, with the same gateway id and keyset.
type fleetT struct {
	t        *testing.T
	bin      string
	pgURL    string
	redis    string
	policy   string
	dirs     []string
	gws      []*gatewayProc
	adminKey string
	hc       *http.Client
}

// newFleet inits n data dirs (the first one's keys.json and config.json
// copied into the others, as docs/deploy.md says) and starts n replicas.
func newFleet(t *testing.T, n int, pgURL, redisAddr string) *fleetT {
	t.Helper()
	f := &fleetT{t: t, bin: gatewayBinary(t), pgURL: pgURL, redis: redisAddr, hc: &http.Client{Timeout: 10 * time.Second}}
	f.policy, _ = filepath.Abs("testdata/policy.yaml")
	for i := range n {
		dir := t.TempDir()
		res, _, err := InitDataDir(context.Background(), dir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.adminKey = res.AdminAPIKey
		} else {
			for _, name := range []string{KeysFile, configFile} {
				b, err := os.ReadFile(filepath.Join(f.dirs[0], name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.dirs = append(f.dirs, dir)
	}
	for i := range n {
		f.gws = append(f.gws, f.start(i))
	}
	t.Cleanup(func() {
		for _, g := range f.gws {
			if g != nil && g.cmd.ProcessState == nil {
				_ = g.cmd.Process.Signal(syscall.SIGTERM)
				_ = g.cmd.Wait()
			}
		}
		if t.Failed() {
			for i, g := range f.gws {
				if g != nil {
					t.Logf("replica %d logs:\n%s", i, g.logs.String())
				}
			}
		}
	})
	return f
}

func (f *fleetT) start(i int) *gatewayProc {
	return startGateway(f.t, f.bin, f.dirs[i], "--policy", f.policy, "--store", f.pgURL, "--redis", f.redis)
}

// call sends an operator request and decodes the JSON answer into out.
func (f *fleetT) call(g *gatewayProc, method, path string, in, out any) int {
	f.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, g.url+path, body)
	req.Header.Set("Authorization", "Bearer "+f.adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.hc.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// intercept sends a signed intercept body; err is a transport error.
func intercept(hc *http.Client, g *gatewayProc, agent string, body []byte) (api.Decision, int, error) {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	ts := int64(m["timestamp"].(float64))
	req, _ := http.NewRequest("POST", g.url+"/v1/intercept", bytes.NewReader(body))
	for k, v := range signed(agent, body, ts) {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return api.Decision{}, 0, err
	}
	defer resp.Body.Close()
	var d api.Decision
	_ = json.NewDecoder(resp.Body).Decode(&d)
	return d, resp.StatusCode, nil
}

func moveBody(agent, tokenID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub(agent),
		"timestamp": time.Now().UnixMilli(), "tokenId": tokenID, "resource": "ros:///cmd_vel", "action": "publish",
		"params": map[string]any{"linear": map[string]any{"x": 0.1, "y": 0, "z": 0}},
	})
	return b
}

func code(d api.Decision) string {
	if d.Code == nil {
		return ""
	}
	return *d.Code
}

// TestFleet runs three replicas (separate processes and data dirs, one
// PostgreSQL database, one Redis) and checks what a fleet promises.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	f := newFleet(t, 3, pgURL, redisAddr)
	a, b := f.gws[0], f.gws[1]

	// Root and tokens are added on A only.
	if st := f.call(a, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 {
		t.Fatalf("add root on A: %d", st)
	}
	now := time.Now().UnixMilli()
	tok := tokentest.Sign("root", tokentest.Root("root", "fleet-agent", 1, now))
	tok2 := tokentest.Sign("root", tokentest.Root("root", "fleet-agent2", 2, now))
	for _, x := range []*tokens.Token{tok, tok2} {
		if st := f.call(a, "POST", "/v1/tokens", map[string]string{"token": x.Raw}, nil); st != 201 {
			t.Fatalf("register token on A: %d", st)
		}
	}

	t.Run("allow/root-and-token-added-on-A-work-on-B", func(t *testing.T) {
		d, st, err := intercept(f.hc, b, "fleet-agent", moveBody("fleet-agent", tok.Claims.TokenID))
		if err != nil || st != 200 || d.Decision != "allow" {
			t.Fatalf("B: %d %s %s %v", st, d.Decision, code(d), err)
		}
	})

	t.Run("deny/requestId-replayed-on-A-then-B", func(t *testing.T) {
		body := moveBody("fleet-agent", tok.Claims.TokenID)
		d, _, err := intercept(f.hc, a, "fleet-agent", body)
		if err != nil || d.Decision != "allow" {
			t.Fatalf("first on A: %s %s %v", d.Decision, code(d), err)
		}
		d, _, err = intercept(f.hc, b, "fleet-agent", body)
		if err != nil || d.Decision != "deny" || code(d) != "REPLAY_DETECTED" {
			t.Fatalf("replay on B: %s %s %v; want deny REPLAY_DETECTED", d.Decision, code(d), err)
		}
	})

	t.Run("attest/A-attestation-verifies-with-B-JWKS", func(t *testing.T) {
		body := moveBody("fleet-agent", tok.Claims.TokenID)
		d, _, err := intercept(f.hc, a, "fleet-agent", body)
		if err != nil || d.Decision != "allow" || d.Attestation == nil {
			t.Fatalf("A: %s %s %v", d.Decision, code(d), err)
		}
		resp, err := f.hc.Get(b.url + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		doc, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v, err := attest.NewVerifierFromJWKS(doc)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Params json.RawMessage `json:"params"`
		}
		_ = json.Unmarshal(body, &m)
		ph, err := attest.ParamsHash(m.Params)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(*d.Attestation, time.Now(), attest.Expect{AgentID: tokentest.Pub("fleet-agent"), Resource: "ros:///cmd_vel", Action: "publish", ParamsHash: ph}); err != nil {
			t.Fatalf("A's attestation against B's JWKS: %v", err)
		}
	})

	t.Run("deny/revoked-on-B-then-next-call-on-A", func(t *testing.T) {
		d, _, _ := intercept(f.hc, a, "fleet-agent2", moveBody("fleet-agent2", tok2.Claims.TokenID))
		if d.Decision != "allow" {
			t.Fatalf("before revocation on A: %s %s", d.Decision, code(d))
		}
		if st := f.call(b, "DELETE", "/v1/tokens/"+tok2.Claims.TokenID, nil, nil); st != 200 {
			t.Fatalf("revoke on B: %d", st)
		}
		d, _, _ = intercept(f.hc, a, "fleet-agent2", moveBody("fleet-agent2", tok2.Claims.TokenID))
		if d.Decision != "deny" || code(d) != "TOKEN_REVOKED" {
			t.Fatalf("next call on A: %s %s; want deny TOKEN_REVOKED", d.Decision, code(d))
		}
	})

	t.Run("estop/trip-on-A-B-denies", func(t *testing.T) {
		var delays []time.Duration
		for i := range 20 {
			start := time.Now()
			if st := f.call(a, "POST", "/v1/estop/trip", map[string]string{"reason": fmt.Sprint("fleet test ", i)}, nil); st != 200 {
				t.Fatalf("trip on A: %d", st)
			}
			for {
				var s struct{ State string }
				f.call(b, "GET", "/v1/estop", nil, &s)
				if s.State == "tripped" {
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatal("B did not trip within 5 s")
				}
			}
			delays = append(delays, time.Since(start))
			d, _, _ := intercept(f.hc, b, "fleet-agent", moveBody("fleet-agent", tok.Claims.TokenID))
			if d.Decision != "deny" {
				t.Fatalf("B while tripped: %s %s", d.Decision, code(d))
			}
			if st := f.call(a, "POST", "/v1/estop/reset", map[string]string{"reason": "test"}, nil); st != 200 {
				t.Fatalf("reset on A: %d", st)
			}
			waitUntil(t, "B to re-arm after the reset on A", func() bool {
				var s struct{ State string }
				f.call(b, "GET", "/v1/estop", nil, &s)
				return s.State == "armed"
			})
		}
		slices.Sort(delays)
		t.Logf("trip on A → B tripped (HTTP trip call + polling B): p50 %v, p95 %v, max %v over %d",
			delays[len(delays)/2], delays[len(delays)*95/100], delays[len(delays)-1], len(delays))
		var s struct{ State string }
		f.call(a, "GET", "/v1/estop", nil, &s)
		if s.State != "armed" {
			t.Fatalf("A after the last reset: %s", s.State)
		}
	})

	t.Run("deny/revocation-delay-measured", func(t *testing.T) {
		var delays []time.Duration
		for i := range 10 {
			agent := fmt.Sprint("rev-agent-", i)
			x := tokentest.Sign("root", tokentest.Root("root", agent, 100+i, time.Now().UnixMilli()))
			if st := f.call(a, "POST", "/v1/tokens", map[string]string{"token": x.Raw}, nil); st != 201 {
				t.Fatalf("register: %d", st)
			}
			start := time.Now()
			if st := f.call(b, "DELETE", "/v1/tokens/"+x.Claims.TokenID, nil, nil); st != 200 {
				t.Fatalf("revoke on B: %d", st)
			}
			for {
				d, _, _ := intercept(f.hc, a, agent, moveBody(agent, x.Claims.TokenID))
				if d.Decision == "deny" && code(d) == "TOKEN_REVOKED" {
					break
				}
				if time.Since(start) > 5*time.Second {
					t.Fatalf("A still answers %s %s 5 s after the revocation", d.Decision, code(d))
				}
			}
			delays = append(delays, time.Since(start))
		}
		slices.Sort(delays)
		t.Logf("revoke on B → A denies (HTTP revoke + intercepts on A): p50 %v, max %v over %d", delays[len(delays)/2], delays[len(delays)-1], len(delays))
	})

	// Changes written to PostgreSQL without a bus message (as if every
	// message were lost) reach every replica through the 100 ms poll.
	t.Run("converge/missed-messages-caught-up-from-postgres", func(t *testing.T) {
		ctx := context.Background()
		pg, err := pgstore.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		// A remote reset is applied only when it acknowledges every trip the
		// receiver has (docs/deploy.md); a replica that missed one stays
		// tripped until reset directly. Start this case from an armed fleet.
		for i, g := range f.gws {
			var s struct{ State string }
			f.call(g, "GET", "/v1/estop", nil, &s)
			if s.State == "tripped" {
				if st := f.call(g, "POST", "/v1/estop/reset", map[string]string{"reason": "arm before the case"}, nil); st != 200 {
					t.Fatalf("arm replica %d: %d", i, st)
				}
			}
		}
		x := tokentest.Sign("root", tokentest.Root("root", "silent-agent", 200, time.Now().UnixMilli()))
		if st := f.call(a, "POST", "/v1/tokens", map[string]string{"token": x.Raw}, nil); st != 201 {
			t.Fatalf("register: %d", st)
		}
		if d, _, _ := intercept(f.hc, b, "silent-agent", moveBody("silent-agent", x.Claims.TokenID)); d.Decision != "allow" {
			t.Fatalf("before: %s %s", d.Decision, code(d))
		}
		start := time.Now()
		if _, err := pg.RevokeToken(ctx, x.Claims.TokenID, time.Now()); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to deny the silently revoked token", i), func() bool {
				d, _, _ := intercept(f.hc, g, "silent-agent", moveBody("silent-agent", x.Claims.TokenID))
				return d.Decision == "deny" && code(d) == "TOKEN_REVOKED"
			})
		}
		t.Logf("silent revocation denied on every replica after %v", time.Since(start))
		// A trip and then a reset written in fleet form by a replica whose
		// bus messages all got lost ("ghost"): every replica trips, then
		// re-arms, from PostgreSQL alone.
		const ghost = "ghost-gw/0000dead/9999"
		start = time.Now()
		if err := pg.PutEstop(ctx, store.EstopState{State: "tripped", Epoch: 9999, Since: time.Now().UnixMilli(), Reason: "written behind the fleet's back",
			Sources: []store.EstopSource{{ID: ghost, Kind: "replica", State: "clear", Since: time.Now().UnixMilli()}}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip from the stored state", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "tripped"
			})
		}
		t.Logf("silent trip seen by every replica after %v", time.Since(start))
		time.Sleep(5 * time.Millisecond) // the reset's time must follow the replicas' trips
		start = time.Now()
		if err := pg.PutEstop(ctx, store.EstopState{State: "armed", Epoch: 9999, Since: time.Now().UnixMilli(), Reason: "reset behind the fleet's back",
			Sources: []store.EstopSource{{ID: ghost, Kind: "replica", State: "clear", Since: time.Now().UnixMilli()}}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to re-arm from the stored reset", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "armed"
			})
		}
		t.Logf("silent reset seen by every replica after %v", time.Since(start))
		// A reset that does not acknowledge a replica's trip leaves it
		// tripped: trip B through the API (its own source), then store a
		// reset acknowledging only the ghost.
		if st := f.call(b, "POST", "/v1/estop/trip", map[string]string{"reason": "B's own trip"}, nil); st != 200 {
			t.Fatalf("trip on B: %d", st)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip from B", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "tripped"
			})
		}
		time.Sleep(5 * time.Millisecond)
		if err := pg.PutEstop(ctx, store.EstopState{State: "armed", Epoch: 9999, Since: time.Now().UnixMilli(), Reason: "reset not acknowledging B",
			Sources: []store.EstopSource{{ID: ghost, Kind: "replica", State: "clear", Since: time.Now().UnixMilli()}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * SyncInterval)
		for i, g := range f.gws {
			var s struct{ State string }
			f.call(g, "GET", "/v1/estop", nil, &s)
			if s.State != "tripped" {
				t.Fatalf("replica %d re-armed by a reset that did not acknowledge B's trip", i)
			}
		}
		if st := f.call(b, "POST", "/v1/estop/reset", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("reset on B: %d", st)
		}
		// A tripped row that names no source at all still trips every
		// replica (fail safe); each is then reset directly.
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to re-arm after B's reset", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "armed"
			})
		}
		time.Sleep(5 * time.Millisecond)
		if err := pg.PutEstop(ctx, store.EstopState{State: "tripped", Epoch: 9999, Since: time.Now().UnixMilli(), Reason: "no sources", Sources: []store.EstopSource{}}); err != nil {
			t.Fatal(err)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip from a row without sources", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "tripped"
			})
		}
		for i, g := range f.gws {
			if st := f.call(g, "POST", "/v1/estop/reset", map[string]string{"reason": "test"}, nil); st != 200 {
				t.Fatalf("reset replica %d: %d", i, st)
			}
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to allow again", i), func() bool {
				d, _, _ := intercept(f.hc, g, "fleet-agent", moveBody("fleet-agent", tok.Claims.TokenID))
				return d.Decision == "allow"
			})
		}
	})

	t.Run("converge/two-silent-trips-both-kept-and-acknowledged", func(t *testing.T) {
		ctx := context.Background()
		pg, err := pgstore.Open(ctx, pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		// Two replicas whose bus messages were lost trip at once: each save
		// merges into the shared row, so both trips stay active there and
		// every replica trips with both.
		ghosts := []string{"ghost-gw/0000beef/1", "ghost-gw/0000cafe/1"}
		var wg sync.WaitGroup
		for i, id := range ghosts {
			wg.Go(func() {
				save := store.EstopState{State: "tripped", Epoch: uint64(100 + i), Since: time.Now().UnixMilli(), Reason: "ghost trip " + id}
				if err := pg.UpdateEstop(ctx, func(cur store.EstopState) store.EstopState {
					return mergeSave(cur, save, rowSave{tripIDs: []string{id}})
				}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		row, err := pg.GetEstop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := activeIDs(row); !slices.Equal(got, ghosts) {
			t.Fatalf("row active %v, want both ghost trips %v", got, ghosts)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip with both ghost trips", i), func() bool {
				var s struct {
					State   string
					Sources []struct{ ID string }
				}
				f.call(g, "GET", "/v1/estop", nil, &s)
				n := 0
				for _, src := range s.Sources {
					if slices.Contains(ghosts, src.ID) {
						n++
					}
				}
				return s.State == "tripped" && n == len(ghosts)
			})
		}
		// A reset on B acknowledges both: the row is armed and every
		// replica re-arms.
		if st := f.call(b, "POST", "/v1/estop/reset", map[string]string{"reason": "both ghosts seen"}, nil); st != 200 {
			t.Fatalf("reset on B: %d", st)
		}
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to re-arm", i), func() bool {
				var s struct{ State string }
				f.call(g, "GET", "/v1/estop", nil, &s)
				return s.State == "armed"
			})
		}
		waitUntil(t, "the row to be armed with both ghost trips acknowledged", func() bool {
			row, err := pg.GetEstop(ctx)
			acked := ackedIDs(row)
			return err == nil && row.State == "armed" && slices.Contains(acked, ghosts[0]) && slices.Contains(acked, ghosts[1])
		})
	})

	t.Run("ledger/one-gap-free-chain-after-concurrent-load", func(t *testing.T) {
		type seen struct {
			seq  uint64
			hash string
		}
		var mu sync.Mutex
		allows := map[string]seen{}
		var wg sync.WaitGroup
		stop := time.Now().Add(2 * time.Second)
		for w := range 9 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := f.gws[w%len(f.gws)]
				for time.Now().Before(stop) {
					d, st, err := intercept(f.hc, g, "fleet-agent", moveBody("fleet-agent", tok.Claims.TokenID))
					if err == nil && st == 200 && d.Decision == "allow" && d.Ledger != nil {
						mu.Lock()
						allows[d.Ledger.EventID] = seen{d.Ledger.Sequence, d.Ledger.Hash}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if len(allows) < 100 {
			t.Fatalf("only %d allows under load", len(allows))
		}
		ctx := context.Background()
		lg, err := pgledger.Open(ctx, pgURL, pgledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		size, err := lg.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vr, err := lg.Verify(ctx, 1, size)
		if err != nil || !vr.Valid || vr.Checked != size {
			t.Fatalf("ledger of %d entries does not verify: %+v %v", size, vr, err)
		}
		for id, s := range allows {
			e, err := lg.GetByEventID(ctx, id)
			if err != nil || e.SequenceNumber != s.seq || e.Hash != s.hash {
				t.Fatalf("allow %s #%d: ledger has %+v, %v", id, s.seq, e.SequenceNumber, err)
			}
		}
		t.Logf("%d allows from %d replicas in one chain of %d entries", len(allows), len(f.gws), size)
	})
}
