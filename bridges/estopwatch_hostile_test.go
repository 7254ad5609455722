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
