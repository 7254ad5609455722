package stopsem

import (
	"testing"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/client"
)

// TestFleetTripHeldAgainstHostileAnswers runs an e-stop watch through the
// fault latch, in both reset modes, as a bridge does: replica A of fleet F
// shows a trip, then a buggy or hostile replica or balancer answers. The
// bridge must stay stopped: no answer unlatches while no answering replica
// has shown the trip (A still answers tripped throughout).
func TestFleetTripHeldAgainstHostileAnswers(t *testing.T) {
	armed := func(boot string, epoch uint64, fleet string) client.EstopState {
		return client.EstopState{State: "armed", Epoch: epoch, BootID: boot, FleetID: fleet}
	}
	for _, tc := range []struct {
		name    string
		answers []client.EstopState
	}{
		// B never applied A's trip: its epoch goes back to one it showed
		// before the trip and forth again (a replica restored from a
		// snapshot, or a forged answer); the way forth is no reset.
		{"epoch back and forth", []client.EstopState{armed("b", 3, "F"), armed("b", 5, "F")}},
		{"epoch back, then forth past the old one", []client.EstopState{armed("b", 3, "F"), armed("b", 4, "F"), armed("b", 5, "F")}},
		// One answer without a fleet id (a stale single node behind the
		// balancer), then the fleet again.
		{"fleet id gone and back", []client.EstopState{armed("x", 9, ""), armed("b", 5, "F"), armed("b", 5, "F")}},
		{"fleet id flips to another fleet", []client.EstopState{armed("b", 5, "G"), armed("b", 5, "G")}},
	} {
		for _, mode := range []ResetMode{ResetLatched, ResetAuto} {
			t.Run(tc.name+"/"+string(mode), func(t *testing.T) {
				var w bridges.EstopWatch
				f := Faults{Mode: mode}
				apply := func(st client.EstopState) bridges.PollAction { return f.Estop(w.Read(st, nil)) }
				apply(armed("a", 5, "F"))
				apply(armed("b", 5, "F"))
				if a := apply(client.EstopState{State: "tripped", Epoch: 6, BootID: "a", FleetID: "F", Reason: "x"}); a.Latch == "" {
					t.Fatalf("trip on A did not latch: %+v", a)
				}
				for i, st := range tc.answers {
					if a := apply(st); a.Unlatch {
						t.Fatalf("answer %d (%+v) released the bridge while A is tripped: %+v", i, st, a)
					}
				}
			})
		}
	}
}

// TestSingleTripHeldAcrossFleetAppearing: a single gateway answers
// tripped, then an answer names a fleet (another gateway's state): the
// trip is not released by it, in either reset mode.
func TestSingleTripHeldAcrossFleetAppearing(t *testing.T) {
	for _, mode := range []ResetMode{ResetLatched, ResetAuto} {
		t.Run(string(mode), func(t *testing.T) {
			var w bridges.EstopWatch
			f := Faults{Mode: mode}
			apply := func(st client.EstopState) bridges.PollAction { return f.Estop(w.Read(st, nil)) }
			apply(client.EstopState{State: "armed", Epoch: 1, BootID: "s"})
			apply(client.EstopState{State: "tripped", Epoch: 2, BootID: "s", Reason: "x"})
			for i, st := range []client.EstopState{
				{State: "armed", Epoch: 1, BootID: "b", FleetID: "F"},
				{State: "armed", Epoch: 1, BootID: "b", FleetID: "F"},
			} {
				if a := apply(st); a.Unlatch {
					t.Fatalf("answer %d (%+v) released a tripped single gateway's bridge: %+v", i, st, a)
				}
			}
		})
	}
}

// TestSingleEpochBackAndForthIsNoReset: a single gateway (one boot id)
// whose epoch goes back (a fault) and up again to one it showed before
// has shown no operator reset: the fault holds under --reset latched.
func TestSingleEpochBackAndForthIsNoReset(t *testing.T) {
	var w bridges.EstopWatch
	f := Faults{Mode: ResetLatched}
	apply := func(st client.EstopState) bridges.PollAction { return f.Estop(w.Read(st, nil)) }
	apply(client.EstopState{State: "armed", Epoch: 5, BootID: "s"})
	if a := apply(client.EstopState{State: "armed", Epoch: 3, BootID: "s"}); !a.Fault || a.Unlatch {
		t.Fatalf("epoch went back: %+v, want a fault latch", a)
	}
	for _, e := range []uint64{4, 5} {
		if a := apply(client.EstopState{State: "armed", Epoch: e, BootID: "s"}); a.Unlatch || a.Reset {
			t.Fatalf("epoch back up to %d: %+v released the fault", e, a)
		}
	}
	if a := apply(client.EstopState{State: "armed", Epoch: 6, BootID: "s"}); !a.Unlatch || !a.Reset {
		t.Fatalf("a new epoch (a trip and a reset): %+v, want the fault cleared", a)
	}
}
