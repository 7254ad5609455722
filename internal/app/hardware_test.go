package app

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/tokens"
)

// waitUntil polls cond with a generous deadline that only keeps a broken
// build from hanging; it asserts no duration.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestHardwareEstop runs a gateway with a GPIO button and relay (periph.io
// fake pins): it boots tripped with the relay open, a released button lets
// an operator reset, a press trips (the relay opens, intercepts are denied),
// a held button blocks the reset with 409 naming it.
func TestHardwareEstop(t *testing.T) {
	btn := &gpiotest.Pin{N: "BTN", EdgesChan: make(chan gpio.Level, 16), L: gpio.High}
	relay := &gpiotest.Pin{N: "RLY"}
	pins := map[string]gpio.PinIO{"BTN": btn, "RLY": relay}
	var mu sync.Mutex
	level := func(p *gpiotest.Pin) gpio.Level { p.Lock(); defer p.Unlock(); return p.L }
	hw := Hardware{ButtonPin: "BTN", RelayPin: "RLY", Pins: func(n string) (gpio.PinIO, error) { mu.Lock(); defer mu.Unlock(); return pins[n], nil }}

	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", Clock: ck.Now, Hardware: hw})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := startHardware(ctx, hw, g.Breaker, g.Log); err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = g.Server.Serve(ln) }()
	h := &harness{t: t, g: g, url: "http://" + ln.Addr().String(), adminKey: res.AdminAPIKey, clock: ck, http: defaultClient(), nextN: 5000}
	t.Cleanup(func() {
		cancel()
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})

	if !g.Breaker.Tripped() {
		t.Fatal("a gateway with hardware must boot tripped")
	}
	if level(relay) != gpio.Low {
		t.Fatal("relay energised while tripped")
	}
	var body map[string]any
	// Configuring the input flushes buffered edges: wait for it first.
	waitUntil(t, "the button input to be configured", func() bool { btn.Lock(); defer btn.Unlock(); return btn.P == gpio.PullUp })
	btn.EdgesChan <- gpio.Low // contact closed: released
	waitUntil(t, "the released button to clear", func() bool { return len(g.Breaker.Snapshot().Latched()) == 0 })
	if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "commissioning"}, &body); st != 200 {
		t.Fatalf("reset: %d %v", st, body)
	}
	waitUntil(t, "the relay to energise", func() bool { return level(relay) == gpio.High })

	h.trustRoot("root")
	mut := withToken("hw1", func(c *tokens.Claims) {})(h)
	if st, d := h.intercept("hw1", h.interceptBody("hw1", mut)); st != 200 {
		t.Fatalf("armed intercept: %d %s", st, str(d.Code))
	}
	btn.EdgesChan <- gpio.High // pressed: the NC contact opens
	waitUntil(t, "the press to trip", func() bool { return g.Breaker.Tripped() })
	waitUntil(t, "the relay to open", func() bool { return level(relay) == gpio.Low })
	if st, d := h.intercept("hw1", h.interceptBody("hw1", mut)); st != 403 || str(d.Code) != "ESTOP_ENGAGED" {
		t.Fatalf("intercept while pressed: %d %s", st, str(d.Code))
	}
	var conflict struct {
		Error struct {
			Code    string   `json:"code"`
			Sources []string `json:"sources"`
		} `json:"error"`
	}
	if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "too early"}, &conflict); st != 409 || len(conflict.Error.Sources) != 1 || conflict.Error.Sources[0] != "gpio:BTN" {
		t.Fatalf("reset with the button held: %d %+v", st, conflict)
	}
}
