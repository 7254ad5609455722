package firmware

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/link"
)

// Config configures a Controller. Zero durations take the defaults.
type Config struct {
	Gateway    string        // host:port of the gateway's e-stop link listener
	Key        []byte        // shared HMAC key (≥ 16 bytes)
	Link       link.Config   // heartbeat interval and watchdog timeout
	MaxSkew    time.Duration // frame timestamp tolerance (0: link.DefaultMaxSkew; <0: off)
	Debounce   time.Duration // button debounce
	ReadBack   time.Duration // button read-back period
	BackoffMin time.Duration // first reconnect delay (default 50 ms)
	BackoffMax time.Duration // reconnect delay cap (default 2 s)
	Logger     *slog.Logger
}

// Controller is the e-stop controller. The relay is energised only while all
// of these hold: the button's contact is closed (not pressed, circuit
// intact), a link session with the gateway is healthy, and the gateway's
// breaker is armed. Anything else opens it at once. The controller keeps no
// latch of its own: the gateway's breaker latches, so a reconnect or a
// released button never re-energises the relay before an operator's reset.
type Controller struct {
	cfg    Config
	button gpio.PinIn
	relay  *estop.Relay
	codec  *link.Codec
	log    *slog.Logger

	mu       sync.Mutex
	pressed  bool
	linkUp   bool
	armed    bool
	epoch    uint64
	session  *link.Session
	onChange func(Snapshot)
}

// Snapshot is the controller's view, for logs and tests.
type Snapshot struct {
	Pressed, LinkUp, GatewayArmed, Energised bool
	Epoch                                    uint64
}

// New returns a controller over the given pins. The relay starts
// de-energised; only cmd/ opens and closes the hardware.
func New(cfg Config, button gpio.PinIn, relay gpio.PinOut) (*Controller, error) {
	skew := cfg.MaxSkew
	if skew == 0 {
		skew = link.DefaultMaxSkew
	} else if skew < 0 {
		skew = 0
	}
	codec, err := link.NewCodec(cfg.Key, link.RoleController, uint64(time.Now().UnixNano()), skew)
	if err != nil {
		return nil, err
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 50 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 2 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, button: button, relay: estop.NewRelay(relay), codec: codec, log: log,
		pressed: true}, nil
}

// OnChange registers a callback for every change of the controller's view
// (called with the controller's lock held: do not call back into it).
func (c *Controller) OnChange(f func(Snapshot)) {
	c.mu.Lock()
	c.onChange = f
	c.mu.Unlock()
}

// Stats returns the link's frame counters.
func (c *Controller) Stats() *link.Stats { return &c.codec.Stats }

// Snapshot returns the controller's current view.
func (c *Controller) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *Controller) snapshotLocked() Snapshot {
	return Snapshot{Pressed: c.pressed, LinkUp: c.linkUp, GatewayArmed: c.armed, Energised: c.relay.Energised(), Epoch: c.epoch}
}

// update applies f under the lock and drives the relay from the result.
func (c *Controller) update(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.snapshotLocked()
	f()
	run := !c.pressed && c.linkUp && c.armed
	if err := c.relay.Set(run); err != nil {
		c.log.Error("relay write failed", "err", err)
	}
	after := c.snapshotLocked()
	if after != before {
		c.log.Info("controller state", "pressed", after.Pressed, "link", after.LinkUp,
			"gatewayArmed", after.GatewayArmed, "relay", relayWord(after.Energised), "epoch", after.Epoch)
		if c.onChange != nil {
			c.onChange(after)
		}
	}
}

func relayWord(on bool) string {
	if on {
		return "energised"
	}
	return "open"
}

func buttonWord(pressed bool) string {
	if pressed {
		return "pressed"
	}
	return "released"
}

// RequestReset asks the gateway to reset (a reset key on the controller).
// The gateway decides; nothing changes here until it reports armed.
func (c *Controller) RequestReset(reason string) error {
	c.mu.Lock()
	s := c.session
	c.mu.Unlock()
	if s == nil {
		return errors.New("firmware: link down")
	}
	return s.Send(link.ResetRequest, link.Status{Reason: reason})
}

// Run runs the button watcher and the link until ctx ends, then halts the
// relay (shutdown is a stop) and returns ctx's cause.
func (c *Controller) Run(ctx context.Context) error {
	defer c.relay.Halt()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		err := estop.WatchNC(ctx, c.button, c.cfg.Debounce, c.cfg.ReadBack, func(pressed bool) {
			c.update(func() { c.pressed = pressed })
			c.mu.Lock()
			s := c.session
			c.mu.Unlock()
			if s != nil {
				if pressed {
					s.Send(link.Trip, link.Status{Button: "pressed", Relay: "open", Reason: "controller e-stop button pressed"})
				} else {
					s.Send(link.StateFrame, link.Status{Button: "released"})
				}
			}
		})
		if err != nil && ctx.Err() == nil {
			c.log.Error("button input failed; holding the relay open", "err", err)
			c.update(func() { c.pressed = true })
		}
	}()
	go func() {
		defer wg.Done()
		c.runLink(ctx)
	}()
	wg.Wait()
	return context.Cause(ctx)
}

// runLink dials the gateway and runs sessions, reconnecting with exponential
// backoff and jitter.
func (c *Controller) runLink(ctx context.Context) {
	backoff := c.cfg.BackoffMin
	var d net.Dialer
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", c.cfg.Gateway)
		cancel()
		if err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			healthy := false
			sess := link.NewSession(conn, c.codec, c.cfg.Link, link.Hooks{
				Status: func() link.Status {
					s := c.Snapshot()
					return link.Status{Button: buttonWord(s.Pressed), Relay: relayWord(s.Energised)}
				},
				Healthy: func() {
					healthy = true
					c.update(func() { c.linkUp = true })
				},
				Lost: func(error) { c.update(func() { c.linkUp = false; c.armed = false }) },
				Frame: func(f link.Frame, st link.Status) {
					if st.State == "" {
						return
					}
					c.update(func() { c.armed = st.State == "armed"; c.epoch = st.Epoch })
				},
			})
			c.mu.Lock()
			c.session = sess
			c.mu.Unlock()
			err = sess.Run(ctx)
			c.mu.Lock()
			c.session = nil
			c.mu.Unlock()
			c.update(func() { c.linkUp = false; c.armed = false })
			c.log.Warn("link down", "cause", err)
			if healthy {
				backoff = c.cfg.BackoffMin
			}
		} else {
			c.log.Debug("dial failed", "err", err)
		}
		// jitter in [backoff/2, backoff)
		wait := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.cfg.BackoffMax)
	}
}
