package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestOperatorFleetEconomy runs two replicas on one PostgreSQL database and
// checks that retries of one charge spread over both replicas charge once,
// and that concurrent priced intercepts on both never overdraw.
func TestOperatorFleetEconomy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	f := newFleet(t, 2, pgURL, redisAddr)
	g0, g1 := f.gws[0], f.gws[1]
	agent := "fleet-eco"
	if st := f.call(g0, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		t.Fatalf("root: %d", st)
	}
	tok := tokentest.Sign("root", tokentest.Root("root", agent, 77, time.Now().UnixMilli()))
	if st := f.call(g0, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	if st := f.call(g0, "PUT", "/v1/economy/prices", map[string]any{"tiers": map[string]int{"2": 1}}, nil); st != 200 {
		t.Fatalf("prices: %d", st)
	}
	for _, g := range f.gws { // GET reloads each replica's cached price list
		if st := f.call(g, "GET", "/v1/economy/prices", nil, nil); st != 200 {
			t.Fatalf("prices get: %d", st)
		}
	}
	if st := f.call(g1, "PUT", "/v1/economy/budgets/"+tokentest.Pub(agent), map[string]any{"balance": 5}, nil); st != 200 {
		t.Fatalf("budget: %d", st)
	}
	signedPost := func(g *gatewayProc, path string, fields map[string]any) (int, map[string]any) {
		m := map[string]any{"agentId": tokentest.Pub(agent), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": time.Now().UnixMilli()}
		for k, v := range fields {
			m[k] = v
		}
		body, _ := json.Marshal(m)
		req, _ := http.NewRequest("POST", g.url+path, bytes.NewReader(body))
		for k, v := range signed(agent, body, m["timestamp"].(int64)) {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := f.hc.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	balance := func() float64 {
		var acc map[string]any
		f.call(g0, "GET", "/v1/economy/balance?agentId="+tokentest.Pub(agent), nil, &acc)
		b, _ := acc["balance"].(float64)
		return b
	}

	t.Run("charge/retries-across-replicas-charge-once", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for i := range 10 {
			wg.Go(func() {
				st, out := signedPost(f.gws[i%2], "/v1/economy/charge", map[string]any{"amount": 1, "idempotencyKey": "fleet-svc-1"})
				if st != 200 {
					t.Errorf("charge: %d %v", st, out)
					return
				}
				if out["replayed"] == false {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 || balance() != 4 {
			t.Fatalf("fresh charges %d, balance %v", fresh, balance())
		}
	})
	t.Run("intercept/concurrent-never-overdraws", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		counts := map[string]int{}
		for i := range 10 {
			wg.Go(func() {
				d, _, err := intercept(f.hc, f.gws[i%2], agent, moveBody(agent, tok.Claims.TokenID))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				counts[d.Decision+"/"+code(d)]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if counts["allow/"] != 4 || counts["deny/INSUFFICIENT_BALANCE"] != 6 || balance() != 0 {
			t.Fatalf("decisions %v, balance %v", counts, balance())
		}
	})
}
