// Command sint-estopd is the e-stop controller: it watches a normally-closed
// e-stop button, drives the safety relay, and keeps an HMAC-authenticated
// heartbeat link with the gateway (PROTOCOL.md §8). The relay is energised
// only while the button is released, the link is healthy and the gateway's
// breaker is armed.
//
// On a Linux board the pins are resolved by name through periph.io/x/host
// (--button-pin, --relay-pin). With --simulate it runs on fake pins and
// reads commands from stdin: "press", "release", "reset [reason]", "status".
//
// The shared key is read from --key-file (hex, or raw bytes if not hex) or
// from SINT_ESTOP_KEY (hex). Logs are JSON lines on stderr; every state
// change is logged with msg "controller state" and a "relay" attribute.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3"

	"github.com/sintgate/sintgate/estop/link"
	"github.com/sintgate/sintgate/firmware"
)

func main() {
	if err := run(); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "sint-estopd:", err)
		os.Exit(1)
	}
}

// simButton is a simulated normally-closed contact: it reads Low (closed,
// released) unless held by a "press" command, also across (re)configuration.
type simButton struct {
	*gpiotest.Pin
	held *atomic.Bool
}

func (p simButton) In(pull gpio.Pull, edge gpio.Edge) error {
	if err := p.Pin.In(pull, edge); err != nil {
		return err
	}
	return p.Pin.Out(gpio.Level(p.held.Load()))
}

// set changes the contact and signals an edge (if the edge is lost, the
// read-back still sees the level).
func (p simButton) set(pressed bool) {
	p.held.Store(pressed)
	p.Pin.Out(gpio.Level(pressed))
	select {
	case p.EdgesChan <- gpio.Level(pressed):
	default:
	}
}

func run() error {
	var (
		gateway   = flag.String("gateway", envOr("SINT_ESTOP_GATEWAY", "127.0.0.1:7455"), "gateway e-stop link address host:port (env SINT_ESTOP_GATEWAY)")
		keyFile   = flag.String("key-file", "", "file holding the shared HMAC key (hex); env SINT_ESTOP_KEY (hex) otherwise")
		simulate  = flag.Bool("simulate", false, "use simulated pins; commands on stdin: press, release, reset [reason], status")
		buttonPin = flag.String("button-pin", "GPIO17", "e-stop button input pin name (normally closed to ground, pulled up)")
		relayPin  = flag.String("relay-pin", "GPIO27", "safety relay output pin name (high = energised = run)")
		interval  = flag.Duration("interval", link.DefaultInterval, "heartbeat interval")
		timeout   = flag.Duration("timeout", link.DefaultTimeout, "heartbeat loss timeout: the relay opens after this long without a valid frame")
		debounce  = flag.Duration("debounce", 0, "button debounce (0: 10ms)")
		readBack  = flag.Duration("readback", 0, "button read-back period (0: 50ms)")
		maxSkew   = flag.Duration("max-skew", 0, "accepted frame timestamp skew (0: 5s; negative: no check)")
		verbose   = flag.Bool("v", false, "debug logs")
	)
	flag.Parse()
	lvl := slog.LevelInfo
	if *verbose {
		lvl = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))

	key, err := loadKey(*keyFile)
	if err != nil {
		return err
	}
	var button gpio.PinIn
	var relay gpio.PinOut
	var sim *simButton
	if *simulate {
		sim = &simButton{Pin: &gpiotest.Pin{N: *buttonPin, EdgesChan: make(chan gpio.Level, 16)}, held: new(atomic.Bool)}
		button = *sim
		relay = &gpiotest.Pin{N: *relayPin}
	} else {
		if _, err := host.Init(); err != nil {
			return fmt.Errorf("periph host init: %w", err)
		}
		bp, rp := gpioreg.ByName(*buttonPin), gpioreg.ByName(*relayPin)
		if bp == nil || rp == nil {
			return fmt.Errorf("unknown pin %q or %q", *buttonPin, *relayPin)
		}
		button, relay = bp, rp
		defer rp.Out(gpio.Low)
	}
	ctl, err := firmware.New(firmware.Config{
		Gateway: *gateway, Key: key, MaxSkew: *maxSkew,
		Link:     link.Config{Interval: *interval, Timeout: *timeout},
		Debounce: *debounce, ReadBack: *readBack, Logger: log,
	}, button, relay)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log.Info("sint-estopd starting", "gateway", *gateway, "simulate", *simulate,
		"interval", interval.String(), "timeout", timeout.String())
	if sim != nil {
		go commands(ctx, ctl, *sim, log)
	}
	err = ctl.Run(ctx)
	st := ctl.Stats()
	log.Info("sint-estopd stopped", "relay", "open", "sent", st.Sent.Load(), "received", st.Received.Load(),
		"badMac", st.BadMAC.Load(), "replayed", st.Replayed.Load(), "malformed", st.Malformed.Load(), "stale", st.Stale.Load())
	return err
}

func commands(ctx context.Context, ctl *firmware.Controller, pin simButton, log *slog.Logger) {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() && ctx.Err() == nil {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "press":
			pin.set(true)
		case "release":
			pin.set(false)
		case "reset":
			if err := ctl.RequestReset(strings.Join(f[1:], " ")); err != nil {
				log.Warn("reset request not sent", "err", err)
			}
		case "status":
			s := ctl.Snapshot()
			log.Info("status", "pressed", s.Pressed, "link", s.LinkUp, "gatewayArmed", s.GatewayArmed,
				"relay", map[bool]string{true: "energised", false: "open"}[s.Energised], "epoch", s.Epoch)
		default:
			log.Warn("unknown command", "cmd", f[0])
		}
	}
}

func loadKey(file string) ([]byte, error) {
	var raw string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		raw = strings.TrimSpace(string(b))
		if k, err := hex.DecodeString(raw); err == nil {
			return k, nil
		}
		return []byte(raw), nil
	}
	raw = os.Getenv("SINT_ESTOP_KEY")
	if raw == "" {
		return nil, errors.New("no key: set --key-file or SINT_ESTOP_KEY")
	}
	k, err := hex.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("SINT_ESTOP_KEY: %w", err)
	}
	return k, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
