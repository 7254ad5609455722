package estop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Defaults for the hardware input.
const (
	DefaultDebounce = 10 * time.Millisecond
	DefaultReadBack = 50 * time.Millisecond
	// maxBounce bounds how long an input may keep bouncing before it is taken
	// as pressed (a chattering contact or a noisy line is not "healthy").
	maxBounce = 20
)

// WatchNC watches a normally-closed e-stop contact on pin and calls onChange
// with pressed=true when the contact opens (button pressed, or the circuit is
// broken) and pressed=false when it closes again. Wiring: the contact runs
// from the pin to ground and the pin is pulled up, so Low = closed = run and
// High = open = stop. An open circuit therefore reads as pressed.
//
// Both edges are watched; a level change is accepted once the line has been
// quiet for debounce, and the level is also read back every readBack so that
// a missed edge is still caught. onChange is called once at start with the
// initial level. WatchNC returns ctx's cause when ctx ends, or the error of
// configuring the pin (the caller must treat that as pressed).
func WatchNC(ctx context.Context, pin gpio.PinIn, debounce, readBack time.Duration, onChange func(pressed bool)) error {
	if debounce <= 0 {
		debounce = DefaultDebounce
	}
	if readBack <= 0 {
		readBack = DefaultReadBack
	}
	if err := pin.In(gpio.PullUp, gpio.BothEdges); err != nil {
		return fmt.Errorf("estop: configure %s: %w", pin, err)
	}
	settle := func() gpio.Level {
		for i := 0; i < maxBounce; i++ {
			if ctx.Err() != nil || !pin.WaitForEdge(debounce) {
				return pin.Read()
			}
		}
		return gpio.High // never settled: fail safe
	}
	stable := settle()
	onChange(stable == gpio.High)
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		pin.WaitForEdge(readBack) // an edge, or the read-back period
		if pin.Read() == stable {
			continue
		}
		if lvl := settle(); lvl != stable {
			stable = lvl
			onChange(stable == gpio.High)
		}
	}
}

// Button is a normally-closed e-stop button on a GPIO input that trips the
// breaker while pressed (latching source of kind "gpio", id = the pin name)
// and clears that source when released. See WatchNC for wiring and timing.
type Button struct {
	pin                gpio.PinIn
	debounce, readBack time.Duration
	b                  *Breaker
	src                Source
}

// NewButton returns a button on pin. Zero durations take DefaultDebounce and
// DefaultReadBack. Call Run to start watching.
func NewButton(pin gpio.PinIn, debounce, readBack time.Duration, b *Breaker) *Button {
	return &Button{pin: pin, debounce: debounce, readBack: readBack, b: b,
		src: Source{ID: pin.Name(), Kind: KindGPIO}}
}

// Source is the breaker source this button trips.
func (bt *Button) Source() Source { return bt.src }

// Run watches the button until ctx ends. If the pin cannot be configured, the
// breaker is tripped (fail safe) and the error returned.
func (bt *Button) Run(ctx context.Context) error {
	err := WatchNC(ctx, bt.pin, bt.debounce, bt.readBack, func(pressed bool) {
		if pressed {
			bt.b.Trip(context.WithoutCancel(ctx), bt.src, "e-stop button pressed or circuit open")
		} else {
			bt.b.Clear(bt.src)
		}
	})
	if err != nil && ctx.Err() == nil {
		bt.b.Trip(context.WithoutCancel(ctx), bt.src, "e-stop input failed: "+err.Error())
	}
	return err
}

// Relay is a safety relay on a GPIO output: High = energised = the machine may
// run; Low = de-energised = power cut. It starts de-energised.
type Relay struct {
	pin gpio.PinOut

	mu        sync.Mutex
	energised bool
	halted    bool
}

// NewRelay returns a relay on pin and drives it Low (de-energised).
func NewRelay(pin gpio.PinOut) *Relay {
	r := &Relay{pin: pin}
	_ = pin.Out(gpio.Low)
	return r
}

// Set energises or de-energises the relay. After Halt it only de-energises.
// If the pin write fails while energising, the relay is driven Low.
func (r *Relay) Set(energise bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.halted {
		energise = false
	}
	if err := r.pin.Out(gpio.Level(energise)); err != nil {
		r.energised = false
		return errors.Join(fmt.Errorf("estop: relay %s: %w", r.pin, err), r.pin.Out(gpio.Low))
	}
	r.energised = energise
	return nil
}

// Energised reports what the relay was last driven to.
func (r *Relay) Energised() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.energised
}

// Halt de-energises the relay for good (conn.Resource semantics: stop, go
// inert). Later Set(true) calls keep it de-energised.
func (r *Relay) Halt() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.halted = true
	r.energised = false
	return r.pin.Out(gpio.Low)
}

// Run drives the relay from the breaker: energised only while armed. When ctx
// ends the relay is de-energised (shutdown is a stop) and ctx's cause returned.
func (r *Relay) Run(ctx context.Context, b *Breaker) error {
	ch, unsub := b.Subscribe()
	defer unsub()
	defer r.Set(false)
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case s := <-ch:
			if err := r.Set(!s.Tripped); err != nil {
				// A relay we cannot drive means we cannot run: trip.
				b.Trip(context.WithoutCancel(ctx), Source{ID: "relay", Kind: KindGPIO}, err.Error())
			}
		}
	}
}
