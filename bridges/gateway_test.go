package bridges

import (
	"errors"
	"testing"

	"github.com/sintgate/sintgate/client"
)

// TestEstopWatchRead: every poll answer other than an explicit "armed"
// latches; an epoch that changed since the previous poll (from 0 too: a
// gateway that never tripped) latches before unlatching; the first poll
// only records the epoch. Unreachable, unknown states, a smaller epoch and a
// changed boot id are faults; a grown epoch is a reset.
func TestEstopWatchRead(t *testing.T) {
	type poll struct {
		st   client.EstopState
		err  error
		want PollAction
	}
	for _, tc := range []struct {
		name  string
		polls []poll
	}{
		{"error-latches", []poll{{err: errors.New("dial"), want: PollAction{Latch: "gateway unreachable: dial", Fault: true}}}},
		{"tripped-latches", []poll{{st: client.EstopState{State: "tripped", Reason: "button", Epoch: 2}, want: PollAction{Latch: "e-stop tripped: button"}}}},
		{"empty-state-latches", []poll{{st: client.EstopState{}, want: PollAction{Latch: `e-stop state "" is not armed`, Fault: true}}}},
		{"unknown-state-latches", []poll{{st: client.EstopState{State: "resetting", Epoch: 1}, want: PollAction{Latch: `e-stop state "resetting" is not armed`, Fault: true}}}},
		{"first-armed-only-records", []poll{{st: client.EstopState{State: "armed", Epoch: 5}, want: PollAction{Unlatch: true}}}},
		{"epoch-grew-between-polls", []poll{
			{st: client.EstopState{State: "armed", Epoch: 5}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 6}, want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
			{st: client.EstopState{State: "armed", Epoch: 6}, want: PollAction{Unlatch: true}},
		}},
		// A gateway that never tripped has epoch 0: a trip and a reset
		// between the first two polls must still latch.
		{"never-tripped-trip-reset-between-polls", []poll{
			{st: client.EstopState{State: "armed", Epoch: 0}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 1}, want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
			{st: client.EstopState{State: "armed", Epoch: 1}, want: PollAction{Unlatch: true}},
		}},
		{"never-tripped-two-trips-between-polls", []poll{
			{st: client.EstopState{State: "armed", Epoch: 0}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 2}, want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
		}},
		{"epoch-went-back-latches", []poll{
			{st: client.EstopState{State: "armed", Epoch: 7}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 0}, want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Fault: true}},
		}},
		{"error-keeps-the-epoch", []poll{
			{st: client.EstopState{State: "armed", Epoch: 0}, want: PollAction{Unlatch: true}},
			{err: errors.New("dial"), want: PollAction{Latch: "gateway unreachable: dial", Fault: true}},
			{st: client.EstopState{State: "armed", Epoch: 1}, want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
		}},
		// A changed boot id is a gateway restart: a fault, even with the
		// epoch it had (a restart on the same data directory).
		{"boot-id-changed-is-a-restart", []poll{
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "a"}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "a"}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "b"}, want: PollAction{Latch: "gateway restarted (boot id changed)", Unlatch: true, Fault: true}},
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "b"}, want: PollAction{Unlatch: true}},
		}},
		{"trip-seen-then-reset-no-second-latch", []poll{
			{st: client.EstopState{State: "armed", Epoch: 1}, want: PollAction{Unlatch: true}},
			{st: client.EstopState{State: "tripped", Reason: "r", Epoch: 2}, want: PollAction{Latch: "e-stop tripped: r"}},
			{st: client.EstopState{State: "armed", Epoch: 2}, want: PollAction{Unlatch: true}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w EstopWatch
			for i, p := range tc.polls {
				if got := w.Read(p.st, p.err); got != p.want {
					t.Fatalf("poll %d: %+v, want %+v", i, got, p.want)
				}
			}
		})
	}
}

// TestEstopWatchFleet: answers naming a fleet id come from replicas, each
// with its own boot id and epochs. Alternating replicas is no restart and
// no trip; a replica restarted on the fleet's state (a new boot id) is no
// fault; a changed, appearing or vanishing fleet id is lost state (a
// fault); and a trip is unlatched only by a replica that has shown it.
func TestEstopWatchFleet(t *testing.T) {
	armed := func(boot string, epoch uint64) client.EstopState {
		return client.EstopState{State: "armed", Epoch: epoch, BootID: boot, FleetID: "F"}
	}
	tripped := func(boot string, epoch uint64) client.EstopState {
		return client.EstopState{State: "tripped", Reason: "r", Epoch: epoch, BootID: boot, FleetID: "F"}
	}
	ok := PollAction{Unlatch: true}
	hold := PollAction{}
	type step struct {
		st     client.EstopState
		pushed bool // a pushed estop.tripped instead of a poll
		want   PollAction
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"alternating-replicas-no-latch", []step{
			{st: armed("a", 3), want: ok}, {st: armed("b", 7), want: ok}, {st: armed("a", 3), want: ok},
			{st: armed("b", 7), want: ok}, {st: armed("c", 0), want: ok}, {st: armed("a", 3), want: ok},
		}},
		{"replica-restarted-on-the-fleet-state-no-fault", []step{
			{st: armed("a", 3), want: ok}, {st: armed("b", 7), want: ok},
			{st: armed("a2", 4), want: ok}, {st: armed("b", 7), want: ok}, {st: armed("a2", 4), want: ok},
		}},
		{"fleet-id-changed-is-a-fault", []step{
			{st: armed("a", 3), want: ok},
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "a", FleetID: "G"}, want: PollAction{Latch: "gateway state replaced (fleet id changed)", Unlatch: true, Fault: true}},
		}},
		{"fleet-id-vanished-is-a-fault", []step{
			{st: armed("a", 3), want: ok},
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "a"}, want: PollAction{Latch: "gateway state replaced (fleet id changed)", Unlatch: true, Fault: true}},
		}},
		{"fleet-after-single-node-is-a-fault", []step{
			{st: client.EstopState{State: "armed", Epoch: 3, BootID: "s"}, want: ok},
			{st: armed("a", 3), want: PollAction{Latch: "gateway state replaced (fleet id changed)", Unlatch: true, Fault: true}},
		}},
		{"per-replica-epoch-change-latches", []step{
			{st: armed("a", 3), want: ok}, {st: armed("b", 7), want: ok},
			{st: armed("a", 4), want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
			{st: armed("b", 8), want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
			{st: armed("b", 8), want: ok},
		}},
		// A trips; B has not applied it yet and still answers armed: no
		// unlatch until a replica that showed the trip answers armed.
		{"trip-on-A-not-unlatched-by-B-behind", []step{
			{st: armed("a", 3), want: ok}, {st: armed("b", 7), want: ok},
			{st: tripped("a", 4), want: PollAction{Latch: "e-stop tripped: r"}},
			{st: armed("b", 7), want: hold},
			{st: tripped("b", 8), want: PollAction{Latch: "e-stop tripped: r"}},
			{st: armed("a", 4), want: ok},
			{st: armed("b", 8), want: ok},
		}},
		{"pushed-trip-needs-a-replica-that-showed-it", []step{
			{st: armed("a", 3), want: ok},
			{pushed: true, want: PollAction{Latch: "e-stop tripped (pushed): r"}},
			{st: armed("a", 3), want: hold},
			{st: armed("n", 0), want: hold}, // a replica first seen while the trip is outstanding
			{st: armed("a", 4), want: PollAction{Latch: "e-stop tripped and reset between polls", Unlatch: true, Reset: true}},
			{st: armed("n", 0), want: ok}, // nothing outstanding any more
		}},
		{"error-is-still-a-fault", []step{
			{st: armed("a", 3), want: ok},
			{st: client.EstopState{State: "resetting", BootID: "a", FleetID: "F"}, want: PollAction{Latch: `e-stop state "resetting" is not armed`, Fault: true}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w EstopWatch
			for i, s := range tc.steps {
				var got PollAction
				if s.pushed {
					w.Pushed(EstopEvent{Tripped: true, Reason: "r"}, func(a PollAction) { got = a })
				} else {
					got = w.Read(s.st, nil)
				}
				if got != s.want {
					t.Fatalf("step %d: %+v, want %+v", i, got, s.want)
				}
			}
		})
	}
}
