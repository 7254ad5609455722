package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/sintgate/sintgate/gateway/ratelimit"
)

func ExampleCounter_Take() {
	c := ratelimit.NewCounter()
	now := time.UnixMilli(1763928000000)
	for i := 0; i < 3; i++ {
		fmt.Println(c.Take("agent-1", 2, time.Second, now.Add(time.Duration(i)*100*time.Millisecond)))
	}
	fmt.Println(c.Take("agent-1", 2, time.Second, now.Add(time.Second))) // the first call left the window
	// Output:
	// true
	// true
	// false
	// true
}
