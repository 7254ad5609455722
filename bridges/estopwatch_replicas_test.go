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

// FuzzEstopWatchFleet drives a watch with any sequence of answers from
// three replicas of one fleet (armed, armed after a trip and a reset
// between polls, tripped, restarted with a new boot id) and pushed trips,
// and checks it against a model of the rule: no answer of one fleet is a
// fault; an armed answer with an unchanged epoch never latches; a trip
// (tripped, pushed, or an epoch that grew) is unlatched by an armed answer
// exactly when the answering replica has shown that trip, and by any armed
// answer when no trip is outstanding.
func FuzzEstopWatchFleet(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x02, 0x08, 0x01, 0x00, 0x09, 0x03, 0x00, 0x0d})
	f.Add([]byte{0x03, 0x00, 0x01, 0x04, 0x05, 0x06, 0x00, 0x0c, 0x08, 0x00})
	f.Add([]byte{0x00, 0x03, 0x00, 0x04})       // pushed trip: the same replica armed, then its epoch grew
	f.Add([]byte{0x00, 0x01, 0x08, 0x01, 0x09}) // trip on replica 0; replica 1 behind, then tripped
	f.Fuzz(func(t *testing.T, events []byte) {
		type rep struct {
			boot    int
			epoch   uint64
			tripped bool
			shown   bool // showed the outstanding trip since it began
		}
		var w EstopWatch
		reps := [3]*rep{{boot: 0}, {boot: 1}, {boot: 2}}
		nextBoot := 3
		seen := map[int]bool{}
		outstanding := false
		for i, ev := range events {
			r := int(ev & 3)
			if r == 3 { // a pushed trip
				var got PollAction
				w.Pushed(EstopEvent{Tripped: true, Reason: "x"}, func(a PollAction) { got = a })
				if got.Latch == "" || got.Unlatch || got.Fault {
					t.Fatalf("event %d push: %+v", i, got)
				}
				if !outstanding {
					for _, p := range reps {
						p.shown = false
					}
				}
				outstanding = true
				continue
			}
			p := reps[r]
			kind := (ev >> 2) & 3
			changed := false
			switch kind {
			case 1: // a trip and a reset since its last answer
				p.epoch++
				p.tripped = false
				changed = seen[p.boot]
			case 2:
				if !p.tripped {
					p.epoch++
				}
				p.tripped = true
			case 3: // restarted on the fleet's state
				p.boot, p.tripped, p.shown = nextBoot, false, false
				nextBoot++
			default:
				p.tripped = false
			}
			st := client.EstopState{State: "armed", Epoch: p.epoch, BootID: fmt.Sprint(p.boot), FleetID: "F"}
			if p.tripped {
				st.State, st.Reason = "tripped", "x"
			}
			seen[p.boot] = true
			got := w.Read(st, nil)
			if got.Fault {
				t.Fatalf("event %d (%+v): a fault %+v among answers of one fleet", i, st, got)
			}
			if p.tripped {
				if got.Latch == "" || got.Unlatch {
					t.Fatalf("event %d: tripped answer gave %+v", i, got)
				}
				if !outstanding {
					for _, q := range reps {
						q.shown = false
					}
				}
				outstanding, p.shown = true, true
				continue
			}
			if changed {
				if got.Latch == "" || !got.Reset {
					t.Fatalf("event %d: epoch grew, got %+v", i, got)
				}
				if !outstanding {
					for _, q := range reps {
						q.shown = false
					}
				}
				outstanding, p.shown = true, true
			} else if got.Latch != "" {
				t.Fatalf("event %d: armed with its epoch unchanged latched: %+v", i, got)
			}
			if want := !outstanding || p.shown; got.Unlatch != want {
				t.Fatalf("event %d (replica %d %+v, outstanding %v, shown %v): unlatch %v, want %v", i, r, st, outstanding, p.shown, got.Unlatch, want)
			}
			if got.Unlatch {
				outstanding = false
			}
		}
	})
}
