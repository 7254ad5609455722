package bridges

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/sintgate/sintgate/client"
)

// EstopWatch turns what a bridge learns of the gateway's e-stop — its polls
// of GET /v1/estop and the pushed estop.tripped events — into what the
// bridge must do, failing closed. Safe for concurrent use; the zero value
// is ready.
//
// The poll is the backstop and is correct on its own: an error, a tripped
// breaker and any state other than "armed" latch; an "armed" answer
// unlatches, after a latch when the breaker epoch differs from the previous
// poll's (a trip and a reset both happened between two polls). The first
// poll only records the epoch, whatever it is (0 included: a gateway that
// never tripped). A pushed trip latches at once; only a poll that started
// after it can unlatch.
//
// Behind a replicated fleet (answers naming a fleetId, PROTOCOL §9) each
// replica numbers its own epochs and has its own boot id, and a load
// balancer sends polls to any of them. Then the watch keeps the epoch per
// boot id: a boot id it has not seen is another replica, or one restarted
// on the fleet's shared state — no fault, its first poll only records its
// epoch. A fleet id that changes, appears after single-node answers or
// disappears is lost state: a fault. And a trip, seen on one replica or
// pushed, is unlatched only by an "armed" answer from a replica that has
// shown that trip (tripped, or its epoch changed): a replica that has not
// applied it yet answers "armed" too.
type EstopWatch struct {
	mu         sync.Mutex // guards the fields and orders every apply
	seen       bool       // a poll recorded lastEpoch
	lastEpoch  uint64
	maxEpoch   uint64 // the highest epoch this boot id showed (a single gateway)
	armedAt    bool   // the poll that recorded lastEpoch answered "armed"
	armedSince int64  // and the gateway's "since" of that armed state (unix ms)
	pushes     uint64 // pushed trips so far
	boot       string // the gateway's boot id at the last poll that named one

	// A replicated fleet (answers naming a fleet id).
	fleet    string                  // the fleet id of the last poll
	replicas map[string]*replicaView // by boot id
	polls    uint64                  // fleet polls so far (replicaView.seen)
	gen      uint64                  // trips observed: one more each time tripped goes true
	tripped  bool                    // a trip observed that no replica showing it has unlatched
	pushGen  uint64                  // the gen a pushed trip opened (0: none)
	pushAt   int64                   // and that push's trippedAt (unix ms; 0: not named)

	smu       sync.Mutex // guards the stream state (never held while taking mu)
	streaming bool
	reopen    context.CancelFunc // ends the current stream (Follow)
}

// PollAction is what one e-stop poll or pushed event asks of a bridge:
// latch with Latch as the reason when it is not empty, then clear the latch
// when Unlatch is set. Fault says the latch is a fault (the gateway
// unreachable, restarted or in an unknown state), not a trip; Reset says
// the poll proves an operator reset since the previous poll (the breaker
// epoch grew: a trip and a reset both happened in between). The stop
// semantics (package stopsem) latch a fault until a deliberate reset.
type PollAction struct {
	Latch   string
	Unlatch bool
	Fault   bool
	Reset   bool
}

// replicaView is what the watch knows of one replica of a fleet.
type replicaView struct {
	epoch uint64 // its breaker epoch at its last poll
	max   uint64 // the highest epoch it has shown (only a higher one shows a new trip)
	gen   uint64 // the watch's gen when it last showed a trip (tripped, or its epoch changed)
	seen  uint64 // the watch's polls count at its last poll (to forget the oldest)
	since int64  // its last answer's armed "since" (its own clock, unix ms); 0: that answer was not armed
}

// maxReplicas bounds the replicas a watch remembers; the one polled least
// recently is forgotten first (a replica that restarted has a new boot id).
const maxReplicas = 64

// replicaStalePolls is how many fleet polls a replica may go unanswered
// before the judgement of pushed trips leaves it out (fleetArmedSince):
// behind a balancer spreading polls over up to 16 replicas, each live one
// answers well within it.
const replicaStalePolls = 64

// Read interprets one poll (st and the error of reading it) as the type
// doc says. It does not know when the poll was sent: Poll, which does,
// keeps a poll sent before a pushed trip from unlatching.
func (w *EstopWatch) Read(st client.EstopState, err error) PollAction {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.read(st, err)
}

func (w *EstopWatch) read(st client.EstopState, err error) PollAction {
	if err != nil {
		return PollAction{Latch: "gateway unreachable: " + err.Error(), Fault: true}
	}
	outstanding := w.tripped
	replaced := w.noteFleet(st.FleetID)
	var a PollAction
	if st.FleetID != "" {
		a = w.readReplica(st)
	} else {
		a = w.readSingle(st)
	}
	if replaced {
		a.Latch, a.Fault, a.Reset = "gateway state replaced (fleet id changed)", true, false
		if outstanding {
			// Lost state is no proof that the trip was reset: this answer
			// does not unlatch it, and it stays outstanding until the new
			// state shows a trip (a single node: until its next armed
			// answer).
			a.Unlatch, w.tripped = false, true
		}
	}
	return a
}

// noteFleet records the fleet id of an answer ("" from a single node) and
// reports whether it replaces one the watch relied on: another fleet id,
// none after a fleet's, or one after a single node's answers. What the
// watch knew of the former gateway is forgotten.
func (w *EstopWatch) noteFleet(id string) bool {
	if id == w.fleet {
		return false
	}
	replaced := w.fleet != "" || w.seen
	w.fleet, w.replicas = id, nil
	w.seen, w.boot = false, ""
	return replaced
}

// tripObserved notes a trip (polled, pushed, or an epoch change): a new
// generation unless one is outstanding already.
func (w *EstopWatch) tripObserved() {
	if !w.tripped {
		w.gen++
		w.tripped = true
	}
}

// readReplica interprets one answer of a fleet replica (type doc).
func (w *EstopWatch) readReplica(st client.EstopState) PollAction {
	w.polls++
	r := w.replicas[st.BootID]
	known := r != nil
	if !known {
		r = &replicaView{epoch: st.Epoch, max: st.Epoch}
		if !w.tripped {
			r.gen = w.gen // nothing outstanding that it could have missed
		}
		w.addReplica(st.BootID, r)
	}
	r.seen = w.polls
	switch {
	case st.State == "tripped":
		w.tripObserved()
		r.epoch, r.gen = st.Epoch, w.gen
		r.max = max(r.max, st.Epoch)
		r.since, w.armedAt = 0, false
		return PollAction{Latch: "e-stop tripped: " + st.Reason}
	case st.State != "armed":
		r.since, w.armedAt = 0, false
		return PollAction{Latch: fmt.Sprintf("e-stop state %q is not armed", st.State), Fault: true}
	}
	var a PollAction
	if known && st.Epoch != r.epoch {
		w.tripObserved()
		if st.Epoch > r.max {
			// This replica tripped and re-armed between two of its polls.
			r.gen = w.gen
			a.Latch, a.Reset = "e-stop tripped and reset between polls", true
		} else {
			// An epoch this replica already showed, or a smaller one: a
			// replica that lost its state (or a hostile answer). It shows
			// no trip, so it unlatches none.
			a.Latch, a.Fault = "e-stop epoch went back on a replica", true
		}
	}
	r.epoch = st.Epoch
	r.max = max(r.max, st.Epoch)
	if !w.tripped || r.gen == w.gen {
		a.Unlatch, w.tripped = true, false
	}
	r.since = st.Since
	w.armedAt, w.armedSince = w.fleetArmedSince()
	if w.tripped && w.gen == w.pushGen && w.pushAt != 0 && w.armedAt && w.armedSince >= w.pushAt {
		// The trip outstanding is one only a push showed, and every
		// replica answering has been armed since before it: the push was
		// a late delivery, judged now as Pushed judges one when it knows
		// as much (it did not yet when a replica that died during the
		// trip still counted as answering).
		a.Unlatch, w.tripped = true, false
	}
	return a
}

// fleetArmedSince is what a pushed trip is judged against behind a fleet:
// the earliest armed "since" among the replicas answering (polled within
// the last replicaStalePolls polls), each on its own clock, and whether
// every one of them answered armed last. One replica whose clock is ahead
// (or jumped forward) would otherwise make every trip of the others look
// older than the reset, and the pushes would be dropped until the next
// poll.
//
// A replica that stopped answering (killed, restarted under a new boot id,
// taken out of the balancer) is left out: its last answer, tripped during
// a trip, would otherwise keep the fleet "not armed" for good, so a trip
// delivered late after the operator's reset (a stream reopened on another
// replica) latched again, and no replica could ever show that trip to
// unlatch it — the bridge stayed halted on an armed fleet. Leaving it out
// loses nothing the poll does not give: a replica that is alive but not
// polled (a sticky balancer) shows a fleet trip on the next poll of the
// one that is.
func (w *EstopWatch) fleetArmedSince() (bool, int64) {
	var earliest int64
	for _, r := range w.replicas {
		if w.polls-r.seen > replicaStalePolls {
			continue
		}
		if r.since == 0 {
			return false, 0
		}
		if earliest == 0 || r.since < earliest {
			earliest = r.since
		}
	}
	return earliest != 0, earliest
}

// addReplica remembers r under boot, forgetting the replica polled least
// recently beyond maxReplicas.
func (w *EstopWatch) addReplica(boot string, r *replicaView) {
	if w.replicas == nil {
		w.replicas = map[string]*replicaView{}
	}
	if len(w.replicas) >= maxReplicas {
		oldest, at := "", uint64(0)
		for id, v := range w.replicas {
			if oldest == "" || v.seen < at {
				oldest, at = id, v.seen
			}
		}
		delete(w.replicas, oldest)
	}
	w.replicas[boot] = r
}

// readSingle interprets one answer of a single gateway (type doc).
func (w *EstopWatch) readSingle(st client.EstopState) PollAction {
	restarted := w.noteBoot(st.BootID)
	if restarted {
		w.maxEpoch = 0
	}
	top := w.maxEpoch
	w.maxEpoch = max(w.maxEpoch, st.Epoch)
	switch {
	case st.State == "tripped":
		w.noteEpoch(st.Epoch)
		w.tripObserved() // outstanding should a fleet's answer come next
		w.armedAt = false
		return PollAction{Latch: "e-stop tripped: " + st.Reason}
	case st.State != "armed":
		// A 200 with {} or a state this bridge does not know is not armed.
		w.armedAt = false
		return PollAction{Latch: fmt.Sprintf("e-stop state %q is not armed", st.State), Fault: true}
	}
	a := PollAction{Unlatch: true}
	seen := w.seen
	if w.noteEpoch(st.Epoch) {
		a.Latch = "e-stop tripped and reset between polls"
		// Only an epoch above every one shown before proves a reset: a
		// smaller one is a gateway that lost its state, and one that comes
		// back up to an epoch it showed before proves nothing either.
		a.Reset = seen && st.Epoch > top
		a.Fault = !a.Reset
	}
	if restarted {
		a.Latch, a.Fault, a.Reset = "gateway restarted (boot id changed)", true, false
	}
	w.armedAt, w.armedSince = true, st.Since
	w.tripped = false // (an armed single node has no trip outstanding)
	return a
}

// noteBoot records the gateway's boot id and reports whether it differs
// from the last one recorded (a gateway restart, even one between two
// polls). A gateway that names none changes nothing.
func (w *EstopWatch) noteBoot(id string) bool {
	if id == "" {
		return false
	}
	changed := w.boot != "" && id != w.boot
	w.boot = id
	return changed
}

// noteEpoch records the breaker epoch and reports whether it differs from
// the one the previous poll recorded (any change: a trip bumps it; a
// smaller one is a gateway that lost its state, which is no proof of
// safety either).
func (w *EstopWatch) noteEpoch(e uint64) bool {
	changed := w.seen && e != w.lastEpoch
	w.seen, w.lastEpoch = true, e
	return changed
}

// Poll reads the e-stop state once through r (bounded by timeout) and calls
// apply with the action, unless ctx ended meanwhile. apply runs under the
// watch's lock, so it is ordered with the pushed trips' applies; a poll
// sent before a pushed trip cannot unlatch (its "armed" may predate the
// trip).
func (w *EstopWatch) Poll(ctx context.Context, r EstopReader, timeout time.Duration, apply func(PollAction)) {
	w.mu.Lock()
	pushes := w.pushes
	w.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	st, err := r.ReadEstop(cctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		// The stream may hang on the same dead or half-shut gateway:
		// open it afresh.
		w.endStream()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.read(st, err)
	if w.pushes != pushes {
		a.Unlatch = false
	}
	apply(a)
}

// Pushed applies one pushed e-stop event: a trip latches at once; a reset
// does nothing (only a poll unlatches: it also proves the gateway is
// reachable and reads the epoch).
func (w *EstopWatch) Pushed(ev EstopEvent, apply func(PollAction)) {
	if !ev.Tripped {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ev.TrippedAt != 0 && w.armedAt && w.armedSince >= ev.TrippedAt {
		// A trip that happened before the reset the last poll saw armed: a
		// late delivery (the stream carries a trip once the ledger has it,
		// which can follow the reset when the trip was journaled during an
		// outage). Latching on it would stop the robot again after the
		// operator's reset with nothing tripped. Judged by time, not epoch:
		// the stream carries every replica's trips and each replica numbers
		// its own epochs (behind a fleet: by the earliest reset among the
		// replicas, all armed, fleetArmedSince). A trip after that reset,
		// or one naming no time, latches.
		return
	}
	w.pushes++
	if !w.tripped {
		w.tripObserved()
		w.pushGen, w.pushAt = w.gen, ev.TrippedAt
	}
	reason := ev.Reason
	if reason == "" {
		reason = "(no reason given)"
	}
	apply(PollAction{Latch: "e-stop tripped (pushed): " + reason})
}
