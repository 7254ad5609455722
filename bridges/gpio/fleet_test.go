package gpio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/gpio"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// roundRobin is a load balancer in front of a fleet's replicas: each
// request goes to the next replica; a replica that refuses the connection
// (or, for a GET, fails before answering) is passed over for the next one,
// as nginx's proxy_next_upstream does by default. Answers are streamed
// (the approvals stream is SSE).
type roundRobin struct {
	backends []string
	next     atomic.Uint64
	mu       sync.Mutex
	boots    map[string]int // GET /v1/estop answers by bootId
	hc       *http.Client
}

func newRoundRobin(t *testing.T, backends ...string) (*roundRobin, string) {
	lb := &roundRobin{backends: backends, boots: map[string]int{}, hc: &http.Client{}}
	srv := httptest.NewServer(lb)
	t.Cleanup(srv.Close)
	return lb, srv.URL
}

func (lb *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	start := lb.next.Add(1)
	var lastErr error
	for i := range len(lb.backends) {
		be := lb.backends[(int(start)+i)%len(lb.backends)]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, be+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := lb.hc.Do(req)
		if err != nil {
			lastErr = err
			var op *net.OpError
			if r.Method == http.MethodGet || (errors.As(err, &op) && op.Op == "dial") {
				continue
			}
			break
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		if r.URL.Path == "/v1/estop" && resp.StatusCode == 200 {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var st client.EstopState
			_ = json.Unmarshal(b, &st)
			lb.mu.Lock()
			lb.boots[st.BootID]++
			lb.mu.Unlock()
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(b)
			return
		}
		w.WriteHeader(resp.StatusCode)
		fl, _ := w.(http.Flusher)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				fl.Flush()
			}
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		return
	}
	http.Error(w, "no replica answered: "+lastErr.Error(), http.StatusBadGateway)
}

// polls returns how many e-stop polls each boot id answered so far.
func (lb *roundRobin) polls() map[string]int {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	out := make(map[string]int, len(lb.boots))
	for k, v := range lb.boots {
		out[k] = v
	}
	return out
}

// waitPolls waits until every boot id in ids (all of them seen so far when
// ids is empty, at least two) answered n more polls than in before.
func (lb *roundRobin) waitPolls(t *testing.T, n int, ids ...string) {
	t.Helper()
	before := lb.polls()
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := lb.polls()
		check := ids
		if len(check) == 0 {
			for id := range now {
				check = append(check, id)
			}
		}
		done := len(check) >= 1
		for _, id := range check {
			if now[id]-before[id] < n {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("polls by boot id %v (before %v): not %d more each for %v in 30 s", now, before, n, ids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// estopBoot returns the boot id GET /v1/estop of one replica names, and its
// fleet id.
func estopBoot(t *testing.T, url, key string) (string, string) {
	t.Helper()
	st, err := bridges.OperatorEstop{Op: &client.Operator{BaseURL: url, APIKey: key}}.ReadEstop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.BootID, st.FleetID
}

// TestFleetReplicas: GPIO bridges behind a replicated fleet of two real
// sint-gateway processes (one fresh PostgreSQL database, one Redis): one
// bridge through a round-robin load balancer in front of both, one
// watching replica B only.
func TestFleetReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a fleet of gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	ps := apptest.StartFleet(t, "testdata/policy.yaml", 2, pgURL, redisAddr)
	a, b := ps[0], ps[1]
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range ps {
				p.Kill()
				t.Logf("replica %s:\n%s", p.URL, p.Logs())
			}
		}
	})
	if st := a.Admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		t.Fatalf("root: %d", st)
	}
	c := tokentest.Root("root", "gpioagent", 4343, time.Now().UnixMilli())
	c.Resource, c.Actions = gripper, []string{"set"}
	if st := a.Admin("POST", "/v1/tokens", map[string]string{"token": tokentest.Sign("root", c).Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	var key struct{ Key string }
	if st := a.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "gpio", "scopes": []string{"read"}}, &key); st != 201 {
		t.Fatalf("apikey: %d", st)
	}
	bootA, fleetA := estopBoot(t, a.URL, key.Key)
	bootB, fleetB := estopBoot(t, b.URL, key.Key)
	if fleetA == "" || fleetA != fleetB || bootA == bootB {
		t.Fatalf("replicas name fleet %q and %q, boot %q and %q: want one fleet id, two boot ids", fleetA, fleetB, bootA, bootB)
	}

	lb, lbURL := newRoundRobin(t, a.URL, b.URL)
	agent := &client.Agent{BaseURL: lbURL, Key: tokentest.Key("gpioagent")}
	newBridge := func(url string) (*gpio.Bridge, *gpiotest.Pin) {
		pin := &gpiotest.Pin{N: "GPIO17"}
		br, err := gpio.New(gpio.Config{AgentID: agent.AgentID(), Verifier: attest.NewJWKSCache(nil, lbURL+"/.well-known/jwks.json"),
			Actuators: []gpio.Actuator{{Resource: gripper, Pin: pin}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- br.WatchEstop(ctx, bridges.OperatorEstop{Op: &client.Operator{BaseURL: url, APIKey: key.Key}}, 20*time.Millisecond)
		}()
		t.Cleanup(func() { cancel(); <-done })
		return br, pin
	}
	viaLB, pinLB := newBridge(lbURL) // polls alternate between A and B
	onB, pinB := newBridge(b.URL)
	on := json.RawMessage(`{"value":true}`)
	set := func(br *gpio.Bridge) {
		t.Helper()
		if err := br.Set(context.Background(), agent, c.TokenID, gripper, on); err != nil {
			t.Fatalf("set through the load balancer: %v", err)
		}
	}
	set(viaLB)
	set(onB)
	// A halt drives the pin inert and nothing but the next command drives
	// it again: a pin still high proves no halt happened since the command.
	running := func(br *gpio.Bridge, pin *gpiotest.Pin) bool { return !br.Halted() && pin.Read() == pgpio.High }

	t.Run("alternation/no-latch", func(t *testing.T) {
		lb.waitPolls(t, 40, bootA, bootB)
		if !running(viaLB, pinLB) {
			t.Fatalf("bridge behind the load balancer halted=%v pin=%v after polls alternating between replicas %v: want running", viaLB.Halted(), pinLB.Read(), lb.polls())
		}
	})

	t.Run("restart/one-replica-is-no-fault", func(t *testing.T) {
		a.Kill()
		lb.waitPolls(t, 10, bootB) // A refuses: every poll goes to B
		a.Start()                  // on the same data directory and address: a new boot id
		newA, fleet := estopBoot(t, a.URL, key.Key)
		if newA == bootA || fleet != fleetA {
			t.Fatalf("restarted A: boot %q (was %q), fleet %q (was %q)", newA, bootA, fleet, fleetA)
		}
		lb.waitPolls(t, 20, newA, bootB)
		if !running(viaLB, pinLB) || !running(onB, pinB) {
			t.Fatalf("after replica A restarted: bridge via the load balancer halted=%v pin=%v, bridge on B halted=%v pin=%v; want both running",
				viaLB.Halted(), pinLB.Read(), onB.Halted(), pinB.Read())
		}
		if viaLB.Reset() {
			t.Fatal("a fault was latched by the replica's restart")
		}
		bootA = newA
	})

	// The claim the decision rests on: the fleet's e-stop state is in
	// PostgreSQL, so a replica restarted during a trip boots tripped.
	t.Run("restart/replica-restarted-during-a-trip-boots-tripped", func(t *testing.T) {
		if st := b.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "trip on B"}, nil); st != 200 {
			t.Fatalf("trip on B: %d", st)
		}
		waitFor(t, func() bool { return viaLB.Halted() && onB.Halted() })
		a.Kill()
		a.Start()
		var st client.EstopState
		if code := a.Admin("GET", "/v1/estop", nil, &st); code != 200 || st.State != "tripped" {
			t.Fatalf("restarted A: %d %q; want tripped (from the fleet's shared state)", code, st.State)
		}
		bootA = st.BootID
		lb.waitPolls(t, 10, bootA, bootB)
		if !viaLB.Halted() || !onB.Halted() {
			t.Fatal("a bridge resumed while the fleet is tripped")
		}
		if st := b.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset on B: %d", st)
		}
		waitResumed(t, lb, onB, viaLB)
		if viaLB.Reset() || onB.Reset() {
			t.Fatal("a fault was latched")
		}
		time.Sleep(1100 * time.Millisecond) // attestations are in whole seconds; the one after the halt must be newer
		set(viaLB)
		set(onB)
	})

	t.Run("estop/trip-on-A-stops-the-bridge-watching-B", func(t *testing.T) {
		if st := a.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "fleet test"}, nil); st != 200 {
			t.Fatalf("trip on A: %d", st)
		}
		waitFor(t, func() bool { return onB.Halted() && pinB.Read() == pgpio.Low })
		waitFor(t, func() bool { return viaLB.Halted() && pinLB.Read() == pgpio.Low })
		if st := a.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset on A: %d", st)
		}
		waitResumed(t, lb, onB, viaLB)
		if pinB.Read() != pgpio.Low || pinLB.Read() != pgpio.Low {
			t.Fatal("the reset moved a pin")
		}
		time.Sleep(1100 * time.Millisecond) // attestations are in whole seconds; the one after the halt must be newer
		set(viaLB)
		set(onB)
	})

	t.Run("unreachable/all-replicas-killed-safe-stop", func(t *testing.T) {
		a.Kill()
		b.Kill()
		waitFor(t, func() bool { return viaLB.Halted() && pinLB.Read() == pgpio.Low })
		waitFor(t, func() bool { return onB.Halted() && pinB.Read() == pgpio.Low })
		a.Start()
		b.Start()
		newA, _ := estopBoot(t, a.URL, key.Key)
		newB, _ := estopBoot(t, b.URL, key.Key)
		lb.waitPolls(t, 10, newA, newB)
		if !viaLB.Halted() || !onB.Halted() {
			t.Fatalf("the fleet is back: halted %v and %v; want both still halted (a lost gateway is a fault, latched until a reset)", viaLB.Halted(), onB.Halted())
		}
		if !viaLB.Reset() || !onB.Reset() {
			t.Fatal("no fault latched")
		}
		waitResumed(t, lb, onB, viaLB)
	})
}

// waitResumed waits, up to 30 s (a loaded CI machine once needed more than
// the 5 s of waitFor here), for both bridges to resume after a reset, and
// says which did not and how the balancer's polls went if they do not.
func waitResumed(t *testing.T, lb *roundRobin, onB, viaLB *gpio.Bridge) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for onB.Halted() || viaLB.Halted() {
		if time.Now().After(deadline) {
			t.Fatalf("after the reset, in 30 s: bridge on B halted=%v, bridge behind the balancer halted=%v; polls by boot id %v",
				onB.Halted(), viaLB.Halted(), lb.polls())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
