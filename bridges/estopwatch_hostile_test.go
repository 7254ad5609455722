package bridges

import (
	"fmt"
	"testing"

	"github.com/sintgate/sintgate/client"
)

// TestEstopWatchFleetHostileAnswers feeds a watch behind a fleet answers a
// malicious or buggy gateway (or balancer) could give while a trip seen on
// replica A is outstanding (A answers tripped), and checks that none of
// them unlatches: only a replica that showed the trip may, and going back
// to an epoch it already showed, or a fleet id that flips away and back,
// shows nothing.
func TestEstopWatchFleetHostileAnswers(t *testing.T) {
	armed := func(boot string, epoch uint64) client.EstopState {
		return client.EstopState{State: "armed", Epoch: epoch, BootID: boot, FleetID: "F"}
	}
	for _, tc := range []struct {
		name    string
		answers []client.EstopState
	}{
		{"epoch back and forth on a replica that never showed the trip", []client.EstopState{
			armed("b", 3), armed("b", 5),
		}},
		{"epoch backwards then an unseen replica", []client.EstopState{
			armed("b", 3), armed("c", 1), armed("c", 1),
		}},
		{"fleet id gone for one answer and back", []client.EstopState{
			{State: "armed", Epoch: 5, BootID: "b"}, armed("b", 5), armed("b", 5),
		}},
		{"fleet id flips to another fleet and back", []client.EstopState{
			{State: "armed", Epoch: 5, BootID: "b", FleetID: "G"}, armed("b", 5), armed("b", 5),
		}},
		{"65 unseen boot ids, then A armed on its tripped epoch", append(func() (s []client.EstopState) {
			for i := range maxReplicas + 1 {
				s = append(s, armed(fmt.Sprint("flood", i), 1))
			}
			return s
		}(), armed("a", 6), armed("b", 5))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w EstopWatch
			w.Read(armed("a", 5), nil)
			w.Read(armed("b", 5), nil)
			if a := w.Read(client.EstopState{State: "tripped", Epoch: 6, BootID: "a", FleetID: "F", Reason: "x"}, nil); a.Latch == "" || a.Unlatch {
				t.Fatalf("trip on A: %+v", a)
			}
			for i, st := range tc.answers {
				if a := w.Read(st, nil); a.Unlatch {
					t.Fatalf("answer %d (%+v) unlatched a trip no answering replica showed: %+v", i, st, a)
				}
			}
		})
	}
}

// TestEstopWatchFleetPushJudgedByEarliestReset: behind a fleet the last
// armed answer's "since" is on the answering replica's clock. Replica B's
// clock is an hour ahead (or jumped forward): a trip pushed from A after
// A's reset used to be taken for a late delivery of an older trip and
// dropped, and the bridge kept moving until its next poll. A push is
// judged against the earliest reset among the replicas, all armed.
func TestEstopWatchFleetPushJudgedByEarliestReset(t *testing.T) {
	const hour = 3_600_000
	for _, tc := range []struct {
		name      string
		answers   []client.EstopState
		trippedAt int64
		latch     bool
	}{
		{"B's clock an hour ahead, trip after A's reset", []client.EstopState{
			{State: "armed", Epoch: 2, Since: 1000, BootID: "a", FleetID: "F"},
			{State: "armed", Epoch: 2, Since: 1000 + hour, BootID: "b", FleetID: "F"},
		}, 2000, true},
		{"late delivery: before every replica's reset", []client.EstopState{
			{State: "armed", Epoch: 2, Since: 1000, BootID: "a", FleetID: "F"},
			{State: "armed", Epoch: 2, Since: 1000 + hour, BootID: "b", FleetID: "F"},
		}, 900, false},
		{"a replica not armed at its last answer", []client.EstopState{
			{State: "tripped", Epoch: 2, Since: 500, BootID: "a", FleetID: "F", Reason: "x"},
			{State: "armed", Epoch: 2, Since: 1000 + hour, BootID: "b", FleetID: "F"},
		}, 900, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w EstopWatch
			for _, st := range tc.answers {
				w.Read(st, nil)
			}
			var got PollAction
			w.Pushed(EstopEvent{Tripped: true, Reason: "x", TrippedAt: tc.trippedAt}, func(a PollAction) { got = a })
			if (got.Latch != "") != tc.latch {
				t.Fatalf("push at %d: %+v, want latch %v", tc.trippedAt, got, tc.latch)
			}
		})
	}
}

// TestEstopWatchFleetDeadReplicaDoesNotHoldTrips (a bridge behind a
// balancer stayed halted on an armed fleet after the operator's reset,
// gpio.TestFleetReplicas): a replica killed while it answered "tripped" and
// restarted under a new boot id kept the fleet "not armed" in the judgement
// of pushed trips, so the trip delivered again after the reset (the stream
// reopened on another replica) latched, and no live replica could show it
// to unlatch. A replica that stopped answering is left out of that
// judgement; a trip after the reset still latches, and while the dead
// replica is recent a late push still does (nothing is assumed early).
func TestEstopWatchFleetDeadReplicaDoesNotHoldTrips(t *testing.T) {
	st := func(state, boot string, epoch uint64, since int64) client.EstopState {
		return client.EstopState{State: state, Epoch: epoch, Since: since, BootID: boot, FleetID: "F", Reason: "trip on B"}
	}
	setup := func(t *testing.T, pollsAfterReset int) *EstopWatch {
		var w EstopWatch
		w.Read(st("armed", "a2", 1, 100), nil)
		w.Read(st("armed", "b", 1, 100), nil)
		// The trip on B (at 1000, B's clock): both show it.
		w.Read(st("tripped", "b", 2, 0), nil)
		w.Read(st("tripped", "a2", 2, 0), nil)
		// A2 is killed; A3 boots tripped from the fleet's shared state.
		w.Read(st("tripped", "a3", 1, 0), nil)
		w.Read(st("tripped", "b", 2, 0), nil)
		// The operator resets on B at 2000; A3 converges.
		w.Read(st("armed", "b", 2, 2000), nil)
		a := w.Read(st("armed", "a3", 1, 2001), nil)
		if !a.Unlatch {
			t.Fatalf("the reset did not unlatch: %+v", a)
		}
		for i := range pollsAfterReset {
			boot := []string{"b", "a3"}[i%2]
			w.Read(st("armed", boot, map[string]uint64{"b": 2, "a3": 1}[boot], 2000+int64(boot[0]-'a')), nil)
		}
		return &w
	}
	for _, tc := range []struct {
		name      string
		polls     int
		trippedAt int64
		latch     bool
	}{
		{"late push after the dead replica went stale", replicaStalePolls + 2, 1000, false},
		{"new trip after the reset", replicaStalePolls + 2, 3000, true},
		{"late push while the dead replica is recent", 2, 1000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := setup(t, tc.polls)
			var got PollAction
			w.Pushed(EstopEvent{Tripped: true, Reason: "trip on B", TrippedAt: tc.trippedAt}, func(a PollAction) { got = a })
			if (got.Latch != "") != tc.latch {
				t.Fatalf("push at %d after %d polls: %+v, want latch %v", tc.trippedAt, tc.polls, got, tc.latch)
			}
			if !tc.latch {
				return
			}
			// Polls go on: a late push is released once the dead replica
			// has gone stale; a trip after the reset is not released by
			// replicas that never showed it.
			unlatched := false
			for i := range replicaStalePolls + 2 {
				boot := []string{"b", "a3"}[i%2]
				if w.Read(st("armed", boot, map[string]uint64{"b": 2, "a3": 1}[boot], 2000+int64(boot[0]-'a')), nil).Unlatch {
					unlatched = true
				}
			}
			if want := tc.trippedAt < 2000; unlatched != want || w.tripped == want {
				t.Fatalf("push at %d: unlatched %v (outstanding %v), want unlatched %v", tc.trippedAt, unlatched, w.tripped, want)
			}
		})
	}
}
