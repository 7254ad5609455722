package estop_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
)

// An intercept runs under a tracked context; a trip cancels it with the trip
// as cause, which the pipeline answers ESTOP_ENGAGED.
func ExampleBreaker_Track() {
	b := estop.NewBreaker()
	ctx, done := b.Track(context.Background())
	defer done()

	b.Trip(context.Background(), estop.Source{ID: "alice", Kind: estop.KindAPI}, "smoke in cell 1")

	<-ctx.Done()
	cause := context.Cause(ctx)
	fmt.Println(errors.Is(cause, estop.ErrTripped), codes.Of(cause))
	fmt.Println(b.Snapshot().Epoch, b.Guard() != nil)
	// Output:
	// true ESTOP_ENGAGED
	// 1 true
}

// A held button (a latching source) blocks the reset until it is released.
func ExampleBreaker_Reset() {
	b := estop.NewBreaker()
	button := estop.Source{ID: "GPIO17", Kind: estop.KindGPIO}
	b.Trip(context.Background(), button, "pressed")

	_, err := b.Reset(context.Background(), "bob", "all clear")
	fmt.Println(err)
	b.Clear(button)
	s, err := b.Reset(context.Background(), "bob", "all clear")
	fmt.Println(s, err)
	// Output:
	// e-stop reset refused: sources still latched: gpio:GPIO17
	// armed <nil>
}
