package bridges

import (
	"fmt"
	"testing"

	"github.com/sintgate/sintgate/client"
)

// TestEstopWatchForgetsOldReplicas: a watch behind a fleet whose replicas
// keep restarting remembers at most maxReplicas of them.
func TestEstopWatchForgetsOldReplicas(t *testing.T) {
	var w EstopWatch
	for i := range 3 * maxReplicas {
		if a := w.Read(client.EstopState{State: "armed", Epoch: 1, BootID: fmt.Sprint(i), FleetID: "F"}, nil); a != (PollAction{Unlatch: true}) {
			t.Fatalf("poll %d: %+v", i, a)
		}
	}
	if n := len(w.replicas); n != maxReplicas {
		t.Fatalf("%d replicas remembered, want %d", n, maxReplicas)
	}
}
