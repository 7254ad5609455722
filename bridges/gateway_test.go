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
