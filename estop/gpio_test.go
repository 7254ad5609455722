package estop

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// waitFor polls cond with a generous deadline (no timing assertion: the
// deadline only keeps a broken build from hanging).
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

func latched(b *Breaker, src Source) bool {
	for _, s := range b.Snapshot().Latched() {
		if s.ID == src.ID && s.Kind == src.Kind {
			return true
		}
	}
	return false
}

// startButton runs a button on a fresh fake pin and waits until the contact
// reads closed (released) and the latch has cleared.
func startButton(t *testing.T, b *Breaker) (*gpiotest.Pin, *Button) {
	t.Helper()
	pin := &gpiotest.Pin{N: "GPIO17", Num: 17, EdgesChan: make(chan gpio.Level, 16)}
	btn := NewButton(pin, 2*time.Millisecond, 20*time.Millisecond, b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- btn.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
	// pull-up with the contact not yet closed reads High: the button trips
	waitFor(t, "open contact at start to trip", func() bool { return latched(b, btn.Source()) })
	pin.EdgesChan <- gpio.Low // contact closes
	waitFor(t, "released button to clear", func() bool { return !latched(b, btn.Source()) })
	if _, err := b.Reset(context.Background(), "bob", "start"); err != nil {
		t.Fatal(err)
	}
	return pin, btn
}

func TestButton(t *testing.T) {
	t.Run("trip/press", func(t *testing.T) {
		b := NewBreaker()
		pin, btn := startButton(t, b)
		pin.EdgesChan <- gpio.High // pressed: the NC contact opens
		waitFor(t, "press to trip", func() bool { return b.Tripped() && latched(b, btn.Source()) })
		if b.Snapshot().Epoch != 2 {
			t.Fatalf("epoch %d, want 2 (boot trip + press)", b.Snapshot().Epoch)
		}
	})
	t.Run("deny/held-button-blocks-reset", func(t *testing.T) {
		b := NewBreaker()
		pin, btn := startButton(t, b)
		pin.EdgesChan <- gpio.High
		waitFor(t, "press to trip", func() bool { return latched(b, btn.Source()) })
		_, err := b.Reset(context.Background(), "bob", "try")
		var le *LatchedError
		if !errors.As(err, &le) || len(le.Sources) != 1 || le.Sources[0].ID != "GPIO17" {
			t.Fatalf("Reset while held: %v, want LatchedError naming GPIO17", err)
		}
		pin.EdgesChan <- gpio.Low
		waitFor(t, "release to clear", func() bool { return !latched(b, btn.Source()) })
		if !b.Tripped() {
			t.Fatal("release re-armed the breaker without a reset")
		}
		if _, err := b.Reset(context.Background(), "bob", "released"); err != nil {
			t.Fatalf("Reset after release: %v", err)
		}
	})
	t.Run("trip/missed-edge-caught-by-read-back", func(t *testing.T) {
		b := NewBreaker()
		pin, btn := startButton(t, b)
		pin.Lock()
		pin.L = gpio.High // the level changes but no edge is ever delivered
		pin.Unlock()
		waitFor(t, "read-back to trip", func() bool { return latched(b, btn.Source()) })
	})
	t.Run("allow/bounce-does-not-clear", func(t *testing.T) {
		b := NewBreaker()
		pin, btn := startButton(t, b)
		pin.EdgesChan <- gpio.High
		waitFor(t, "press to trip", func() bool { return latched(b, btn.Source()) })
		// a bounce that ends pressed must leave the source latched
		for _, l := range []gpio.Level{gpio.Low, gpio.High, gpio.Low, gpio.High} {
			pin.EdgesChan <- l
		}
		time.Sleep(50 * time.Millisecond)
		if !latched(b, btn.Source()) {
			t.Fatal("a bounce ending pressed cleared the latch")
		}
	})
}

func TestRelay(t *testing.T) {
	level := func(p *gpiotest.Pin) gpio.Level { p.Lock(); defer p.Unlock(); return p.L }
	t.Run("relay/de-energises-on-trip", func(t *testing.T) {
		b := NewBreaker()
		pin := &gpiotest.Pin{N: "GPIO27", L: gpio.High}
		r := NewRelay(pin)
		if level(pin) != gpio.Low {
			t.Fatal("a new relay must start de-energised")
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go r.Run(ctx, b)
		waitFor(t, "armed breaker to energise", func() bool { return level(pin) == gpio.High && r.Energised() })
		b.Trip(context.Background(), srcAPI, "stop")
		waitFor(t, "trip to de-energise", func() bool { return level(pin) == gpio.Low && !r.Energised() })
		b.Reset(context.Background(), "bob", "go")
		waitFor(t, "reset to re-energise", func() bool { return level(pin) == gpio.High })
	})
	t.Run("relay/de-energises-on-shutdown", func(t *testing.T) {
		b := NewBreaker()
		pin := &gpiotest.Pin{N: "GPIO27"}
		r := NewRelay(pin)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx, b) }()
		waitFor(t, "energise", func() bool { return level(pin) == gpio.High })
		cancel()
		<-done
		if level(pin) != gpio.Low {
			t.Fatal("relay still energised after shutdown")
		}
	})
	t.Run("relay/halt-is-final", func(t *testing.T) {
		pin := &gpiotest.Pin{N: "GPIO27"}
		r := NewRelay(pin)
		r.Set(true)
		r.Halt()
		r.Set(true)
		if level(pin) != gpio.Low || r.Energised() {
			t.Fatal("relay energised after Halt")
		}
	})
}

type brokenPin struct{ *gpiotest.Pin }

func (brokenPin) In(gpio.Pull, gpio.Edge) error { return errors.New("pin busy") }

func TestButtonFailSafe(t *testing.T) {
	t.Run("trip/unconfigurable-input", func(t *testing.T) {
		b := NewBreaker()
		btn := NewButton(brokenPin{&gpiotest.Pin{N: "GPIO5"}}, 0, 0, b)
		if err := btn.Run(context.Background()); err == nil {
			t.Fatal("Run succeeded on a pin that cannot be configured")
		}
		if !latched(b, btn.Source()) {
			t.Fatal("an input that cannot be read did not trip")
		}
	})
	t.Run("trip/chattering-input", func(t *testing.T) {
		b := NewBreaker()
		pin := &gpiotest.Pin{N: "GPIO6", EdgesChan: make(chan gpio.Level, 1)}
		btn := NewButton(pin, 5*time.Millisecond, 20*time.Millisecond, b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stop := make(chan struct{})
		defer close(stop)
		go func() { // a line that never settles Low
			for {
				select {
				case <-stop:
					return
				case pin.EdgesChan <- gpio.Low:
				}
			}
		}()
		go btn.Run(ctx)
		waitFor(t, "a chattering input to count as pressed", func() bool { return latched(b, btn.Source()) })
	})
}
