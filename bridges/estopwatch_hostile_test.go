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
