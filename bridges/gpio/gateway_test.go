package gpio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/gpio"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestRealGateway drives fake pins through a real in-process gateway
// (internal/app, the harness pattern of internal/app/harness_test.go):
// intercept → attestation verified against the served JWKS → pin.
func TestRealGateway(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	res, _, err := app.InitDataDir(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(ctx, app.Options{DataDir: dir, PolicyPath: "testdata/policy.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Heartbeats every 100 ms: a stream writer notices its client is gone
	// at the next one, so shutting the gateway down does not wait 15 s.
	g.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() { _ = g.Server.App.ShutdownWithTimeout(5 * time.Second); _ = g.Close() })
	url := "http://" + ln.Addr().String()
	admin := func(method, path string, in, out any) int {
		t.Helper()
		body, _ := json.Marshal(in)
		req, _ := http.NewRequest(method, url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+res.AdminAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(b, out)
		}
		return resp.StatusCode
	}
	if st := admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		t.Fatalf("root: %d", st)
	}
	c := tokentest.Root("root", "gpioagent", 4242, time.Now().UnixMilli())
	c.Resource, c.Actions = gripper, []string{"set"}
	tok := tokentest.Sign("root", c)
	if st := admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		t.Fatalf("token: %d", st)
	}
	var key struct{ Key string }
	if st := admin("POST", "/v1/apikeys", map[string]any{"operatorId": "gpio", "scopes": []string{"read"}}, &key); st != 201 {
		t.Fatalf("apikey: %d", st)
	}
	agent := &client.Agent{BaseURL: url, Key: tokentest.Key("gpioagent")}
	grip, fanPin := &gpiotest.Pin{N: "GPIO17"}, &gpiotest.Pin{N: "GPIO18"}
	b, err := gpio.New(gpio.Config{AgentID: agent.AgentID(), Verifier: attest.NewJWKSCache(nil, url+"/.well-known/jwks.json"),
		Actuators: []gpio.Actuator{{Resource: gripper, Pin: grip}, {Resource: fan, Pin: fanPin, PWM: true}}})
	if err != nil {
		t.Fatal(err)
	}
	on := json.RawMessage(`{"value":true}`)

	t.Run("allow/gripper-on", func(t *testing.T) {
		if err := b.Set(ctx, agent, c.TokenID, gripper, on); err != nil {
			t.Fatal(err)
		}
		if grip.Read() != pgpio.High {
			t.Fatal("pin not driven")
		}
	})
	t.Run("deny/resource-outside-token", func(t *testing.T) {
		err := b.Set(ctx, agent, c.TokenID, fan, json.RawMessage(`{"duty":1}`))
		if codes.Of(err) != codes.InsufficientPermissions || fanPin.D != 0 {
			t.Fatalf("err %v, duty %v", err, fanPin.D)
		}
	})
	t.Run("estop/watch-halts-and-resumes", func(t *testing.T) {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- b.WatchEstop(wctx, rosbridge.OperatorEstop{Op: &client.Operator{BaseURL: url, APIKey: key.Key}}, 10*time.Millisecond)
		}()
		defer func() { cancel(); <-done }()
		if st := admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		waitFor(t, func() bool { return b.Halted() && grip.Read() == pgpio.Low })
		if err := b.Set(ctx, agent, c.TokenID, gripper, on); codes.Of(err) != codes.EstopEngaged || grip.Read() != pgpio.Low {
			t.Fatalf("while tripped: %v", err)
		}
		if st := admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		waitFor(t, func() bool { return !b.Halted() })
		time.Sleep(1100 * time.Millisecond) // attestations are in whole seconds; the one after the halt must be newer
		if err := b.Set(ctx, agent, c.TokenID, gripper, on); err != nil || grip.Read() != pgpio.High {
			t.Fatalf("after reset: %v", err)
		}
	})
	t.Run("estop/pushed-trip-halts-before-the-next-poll", func(t *testing.T) {
		streams := func() int { subs, _ := g.Approvals.Events().Stats(); return subs }
		waitFor(t, func() bool { return streams() == 0 }) // the previous watch's stream is gone
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		// One poll at start, the next in an hour: only the pushed trip can
		// halt the bridge within the test.
		go func() {
			done <- b.WatchEstop(wctx, bridges.OperatorEstop{Op: &client.Operator{BaseURL: url, APIKey: key.Key}}, time.Hour)
		}()
		defer func() { cancel(); <-done }()
		waitFor(t, func() bool { return streams() == 1 })
		if st := admin("POST", "/v1/estop/trip", map[string]string{"reason": "pushed"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		waitFor(t, func() bool { return b.Halted() && grip.Read() == pgpio.Low })
		if st := admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
