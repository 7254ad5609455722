package gateway

import (
	"testing"
	"time"
)

// TestCircuitsApply: a state read from the shared store (another
// replica's change) is applied without persisting, and reports a change
// only when there was one.
func TestCircuitsApply(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000)
	open := Circuit{Open: true, Since: at, Cause: "elsewhere"}
	for _, tc := range []struct {
		name        string
		before      bool
		apply       Circuit
		changed, is bool
	}{
		{"open/closed-here", false, open, true, true},
		{"open/already-open", true, open, false, true},
		{"close/open-here", true, Circuit{}, true, false},
		{"close/already-closed", false, Circuit{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCircuits()
			if tc.before {
				c.Restore("a", Circuit{Open: true, Since: at, Cause: "here"})
			}
			persisted := 0
			c.Persist = func(string, Circuit) { persisted++ }
			if got := c.Apply("a", tc.apply); got != tc.changed {
				t.Fatalf("Apply changed = %v, want %v", got, tc.changed)
			}
			if c.IsOpen("a") != tc.is {
				t.Fatalf("open = %v, want %v", c.IsOpen("a"), tc.is)
			}
			if persisted != 0 {
				t.Fatal("Apply persisted")
			}
		})
	}
}
