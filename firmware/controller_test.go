package firmware

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/link"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ncButton is a fake normally-closed contact that is closed (Low) once
// configured, and signals when that happened.
type ncButton struct {
	*gpiotest.Pin
	configured chan struct{}
}

func (p ncButton) In(pull gpio.Pull, edge gpio.Edge) error {
	err := p.Pin.In(pull, edge)
	p.Pin.Out(gpio.Low)
	close(p.configured)
	return err
}

type rig struct {
	b      *estop.Breaker
	srv    *link.Server
	ctl    *Controller
	button *gpiotest.Pin
	relay  *gpiotest.Pin
	stop   func() error
	resets chan string
}

func level(p *gpiotest.Pin) gpio.Level { p.Lock(); defer p.Unlock(); return p.L }

// newRig runs a gateway-side server and a controller on fake pins, and
// brings the system to armed with the relay energised.
func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{b: estop.NewBreaker(), resets: make(chan string, 4)}
	codec, _ := link.NewCodec(key, link.RoleGateway, uint64(time.Now().UnixNano()), link.DefaultMaxSkew)
	r.srv = link.NewServer(r.b, codec, link.Config{}, "ctl1", nil)
	r.srv.OnResetRequest = func(ctx context.Context, reason string) { r.resets <- reason }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sdone := make(chan struct{})
	go func() { r.srv.Serve(sctx, ln); close(sdone) }()

	r.button = &gpiotest.Pin{N: "BTN", EdgesChan: make(chan gpio.Level, 16)}
	r.relay = &gpiotest.Pin{N: "RELAY", L: gpio.High}
	nc := ncButton{Pin: r.button, configured: make(chan struct{})}
	r.ctl, err = New(Config{Gateway: ln.Addr().String(), Key: key, Debounce: time.Millisecond, ReadBack: 10 * time.Millisecond}, nc, r.relay)
	if err != nil {
		t.Fatal(err)
	}
	if level(r.relay) != gpio.Low {
		t.Fatal("relay energised before the controller runs")
	}
	cctx, ccancel := context.WithCancel(context.Background())
	cdone := make(chan error, 1)
	go func() { cdone <- r.ctl.Run(cctx) }()
	var stopped bool
	var stopErr error
	r.stop = func() error {
		if !stopped {
			stopped = true
			ccancel()
			stopErr = <-cdone
		}
		return stopErr
	}
	t.Cleanup(func() { r.stop(); scancel(); <-sdone })

	<-nc.configured
	waitFor(t, "link up", func() bool { return r.ctl.Snapshot().LinkUp })
	waitFor(t, "button released at the gateway", func() bool { return len(r.b.Snapshot().Latched()) == 0 })
	if _, err := r.b.Reset(context.Background(), "bob", "start"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "relay energised", func() bool { return level(r.relay) == gpio.High })
	return r
}

func TestController(t *testing.T) {
	t.Run("trip/press-opens-relay-and-trips-gateway", func(t *testing.T) {
		r := newRig(t)
		r.button.EdgesChan <- gpio.High
		waitFor(t, "relay open", func() bool { return level(r.relay) == gpio.Low })
		waitFor(t, "gateway trip", func() bool { return r.b.Tripped() })
		waitFor(t, "button latched at the gateway", func() bool {
			for _, l := range r.b.Snapshot().Latched() {
				if l.ID == "ctl1/button" {
					return true
				}
			}
			return false
		})
		r.button.EdgesChan <- gpio.Low
		waitFor(t, "button clear at gateway", func() bool { return len(r.b.Snapshot().Latched()) == 0 })
		time.Sleep(30 * time.Millisecond)
		if level(r.relay) != gpio.Low {
			t.Fatal("relay re-energised without a reset at the gateway")
		}
		r.b.Reset(context.Background(), "bob", "ok")
		waitFor(t, "relay energised after reset", func() bool { return level(r.relay) == gpio.High })
	})
	t.Run("trip/gateway-trip-opens-relay", func(t *testing.T) {
		r := newRig(t)
		r.b.Trip(context.Background(), estop.Source{ID: "op", Kind: estop.KindAPI}, "api")
		waitFor(t, "relay open", func() bool { return level(r.relay) == gpio.Low })
	})
	t.Run("relay/de-energises-on-shutdown", func(t *testing.T) {
		r := newRig(t)
		if err := r.stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		if level(r.relay) != gpio.Low {
			t.Fatal("relay energised after shutdown")
		}
	})
	t.Run("reset/request-reaches-gateway", func(t *testing.T) {
		r := newRig(t)
		// The request is a single frame; on a loaded machine the first one
		// may go out before the gateway side's session is up, so it is sent
		// again (as an operator would turn the key again) until it arrives.
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := r.ctl.RequestReset("key switch"); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-r.resets:
				if got != "key switch" {
					t.Fatalf("reason %q", got)
				}
				return
			case <-tick.C:
			case <-deadline:
				t.Fatal("reset request never arrived")
			}
		}
	})
}
