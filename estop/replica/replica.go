// Package replica fans e-stop trips and resets out across gateway replicas
// (PROTOCOL.md §8, source kind "replica") over a message bus; RedisBus is the
// Redis pub/sub implementation used by replicated deployments.
//
// # Semantics
//
//   - A trip from any local source (api, gpio, controller, anomaly) is
//     published with a trip id "<replica>/<epoch>". Every other replica trips
//     with the momentary source {ID: trip id, Kind: "replica"}. Trips received
//     from the bus are never re-published (no loops).
//   - A local reset is published with the trip ids the resetting replica had
//     when it reset (its "acks"). A receiving replica resets only if every
//     source of its current trip is acknowledged: replica sources by their
//     trip id, its own local sources by its own trip id. A trip the resetter
//     had not seen keeps the receiver tripped; a latched local source (held
//     button, lost controller) refuses as it would locally.
//   - Pub/sub is at-most-once. When the subscription breaks (a gap in which
//     trips may have been missed), the replica trips itself with GapSource
//     ({ID: "bus", Kind: "replica"}) unless Config.NoTripOnGap. The gap
//     source is latched (Breaker.TripLatched): no reset, local or remote,
//     re-arms the replica while it holds. It is cleared only by the caller
//     (ClearGap) once the subscription is back and the caller has caught up
//     from its source of truth on what the gap may have hidden; the fan-out
//     alone cannot know what it missed. Its trip id is GapID(epoch), which
//     only this replica ever has: a reset from another replica re-arms it only
//     through a store that records which resets acknowledged which gaps
//     (internal/app, "The shared e-stop row").
//
// # Wiring
//
//	f := replica.New(bus, "gw-1", replica.Config{}, log)
//	b := estop.NewBreaker(estop.WithRecorder(f.Recorder(ledgerRecorder)), ...)
//	f.Attach(b)
//	go f.Run(ctx)
package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/sintgate/sintgate/estop"
)

// Message is what goes over the bus (JSON).
type Message struct {
	Type     string   `json:"type"`   // "trip" | "reset"
	Origin   string   `json:"origin"` // replica id of the sender
	TripID   string   `json:"tripId,omitempty"`
	Reason   string   `json:"reason"`
	Operator string   `json:"operator,omitempty"`
	Acks     []string `json:"acks,omitempty"` // reset: trip ids acknowledged
}

// Delivery is one event from the bus: a message, or a gap (the subscription
// broke and messages may have been lost).
type Delivery struct {
	Msg []byte
	Gap bool
	// Resumed: the subscription is back after a gap (messages sent during
	// the gap are lost).
	Resumed bool
}

// Bus is a broadcast channel between replicas.
type Bus interface {
	Publish(ctx context.Context, msg []byte) error
	// Subscribe delivers messages (including this replica's own) until ctx
	// ends; the channel is closed then.
	Subscribe(ctx context.Context) (<-chan Delivery, error)
}

// Config tunes a Fanout.
type Config struct {
	NoTripOnGap bool // do not trip when the bus subscription breaks
	QueueLen    int  // outgoing queue length; default 256
}

// OperatorPrefix marks resets applied from the fleet (the bus, or a
// replica catching up from the shared store): a reset whose operator starts
// with it is never re-published.
const OperatorPrefix = "replica:"

// operatorPrefix is the package's own name for OperatorPrefix.
const operatorPrefix = OperatorPrefix

// Fanout connects one breaker to the bus.
type Fanout struct {
	bus Bus
	id  string
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	b  *estop.Breaker

	out   chan Message
	ready chan struct{}

	gapMu  sync.Mutex // serialises gap trips with ClearGap
	busUp  bool       // subscribed, and no gap since (guarded by gapMu)
	gapGen uint64     // gaps so far (guarded by gapMu)
}

// GapSource is the e-stop source of a broken bus subscription.
var GapSource = estop.Source{ID: "bus", Kind: estop.KindReplica}

// New returns a fanout for replica id. Call Attach before Run.
func New(bus Bus, id string, cfg Config, log *slog.Logger) *Fanout {
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 256
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fanout{bus: bus, id: id, cfg: cfg, log: log, out: make(chan Message, cfg.QueueLen), ready: make(chan struct{})}
}

// Attach sets the breaker (built with Recorder(...) as its recorder).
func (f *Fanout) Attach(b *estop.Breaker) {
	f.mu.Lock()
	f.b = b
	f.mu.Unlock()
}

func (f *Fanout) breaker() *estop.Breaker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.b
}

// TripID is the id this replica gives its trip of the given epoch.
func (f *Fanout) TripID(epoch uint64) string { return fmt.Sprintf("%s/%d", f.id, epoch) }

// GapID is the id of this replica's bus gap (GapSource) in its trip of the
// given epoch: "<replica>/bus/<epoch>". It is no fleet trip: no other replica
// trips on it.
func (f *Fanout) GapID(epoch uint64) string { return fmt.Sprintf("%s/bus/%d", f.id, epoch) }

// IsGapID reports whether id is one of this replica's GapIDs.
func (f *Fanout) IsGapID(id string) bool {
	rest, ok := strings.CutPrefix(id, f.id+"/bus/")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// BusState reports whether the subscription is up with no gap since, and
// the number of gaps so far (for ClearGap).
func (f *Fanout) BusState() (up bool, gen uint64) {
	f.gapMu.Lock()
	defer f.gapMu.Unlock()
	return f.busUp, f.gapGen
}

// ClearGap clears the latched GapSource if the subscription is up and no
// gap happened since BusState returned gen. Call it after catching up, from
// the source of truth, on every trip published before BusState was read as
// up. It reports whether the bus is up with no newer gap.
func (f *Fanout) ClearGap(gen uint64) bool {
	f.gapMu.Lock()
	defer f.gapMu.Unlock()
	if !f.busUp || f.gapGen != gen {
		return false
	}
	if b := f.breaker(); b != nil {
		b.Clear(GapSource)
	}
	return true
}

// TripGap trips the breaker with the latched GapSource (the subscription
// broke, or could not be made): trips from other replicas may have been
// missed.
func (f *Fanout) TripGap(ctx context.Context, reason string) {
	f.gapMu.Lock()
	defer f.gapMu.Unlock()
	f.busUp = false
	f.gapGen++
	if f.cfg.NoTripOnGap {
		return
	}
	if b := f.breaker(); b != nil {
		_, _ = b.TripLatched(ctx, GapSource, reason)
	}
}

func (f *Fanout) setBusUp() {
	f.gapMu.Lock()
	f.busUp = true
	f.gapMu.Unlock()
}

// Recorder wraps the ledger recorder: it records first, then queues the
// publication of local trips and resets. next may be nil.
func (f *Fanout) Recorder(next estop.Recorder) estop.Recorder { return &recorder{f: f, next: next} }

type recorder struct {
	f    *Fanout
	next estop.Recorder
}

func (r *recorder) RecordTrip(ctx context.Context, s estop.State, src estop.Source, reason string) error {
	var err error
	if r.next != nil {
		err = r.next.RecordTrip(ctx, s, src, reason)
	}
	if src.Kind != estop.KindReplica {
		r.f.enqueue(Message{Type: "trip", Origin: r.f.id, TripID: r.f.TripID(s.Epoch), Reason: reason})
	}
	return err
}

func (r *recorder) RecordReset(ctx context.Context, s estop.State, operator, reason string) error {
	if r.next != nil {
		if err := r.next.RecordReset(ctx, s, operator, reason); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(operator, operatorPrefix) {
		// Reset records before it re-arms: the snapshot is still the trip.
		var acks []string
		if b := r.f.breaker(); b != nil {
			acks = r.f.tripIDs(b.Snapshot())
		}
		r.f.enqueue(Message{Type: "reset", Origin: r.f.id, Reason: reason, Operator: operator, Acks: acks})
	}
	return nil
}

func (f *Fanout) enqueue(m Message) {
	select {
	case f.out <- m:
	default:
		f.log.Error("e-stop fan-out queue full; message dropped", "type", m.Type)
	}
}

// TripIDs lists the trip ids behind a tripped state's sources: a source
// received from another replica is its trip id, GapSource this replica's
// GapID of the state's epoch, a local source this replica's TripID of the
// state's epoch. A reset acknowledges these.
func (f *Fanout) TripIDs(s estop.State) []string { return f.tripIDs(s) }

// tripIDs lists the trip ids behind a tripped state's sources.
func (f *Fanout) tripIDs(s estop.State) []string {
	var ids []string
	for _, src := range s.Sources {
		id := src.ID
		switch {
		case src.ID == GapSource.ID && src.Kind == GapSource.Kind:
			id = f.GapID(s.Epoch)
		case src.Kind != estop.KindReplica:
			id = f.TripID(s.Epoch)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// Ready is closed once Run has subscribed to the bus.
func (f *Fanout) Ready() <-chan struct{} { return f.ready }

// Run publishes queued messages and applies messages from other replicas
// until ctx ends.
func (f *Fanout) Run(ctx context.Context) error {
	b := f.breaker()
	if b == nil {
		return fmt.Errorf("replica: Run before Attach")
	}
	in, err := f.bus.Subscribe(ctx)
	if err != nil {
		return err
	}
	f.setBusUp()
	select {
	case <-f.ready: // Run again after a failed subscribe
	default:
		close(f.ready)
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case m := <-f.out:
			raw, _ := json.Marshal(m)
			if err := f.bus.Publish(ctx, raw); err != nil {
				f.log.Error("e-stop fan-out publish failed", "type", m.Type, "err", err)
			}
		case d, ok := <-in:
			if !ok {
				return context.Cause(ctx)
			}
			f.apply(ctx, b, d)
		}
	}
}

func (f *Fanout) apply(ctx context.Context, b *estop.Breaker, d Delivery) {
	bg := context.WithoutCancel(ctx)
	if d.Gap {
		f.TripGap(bg, "replica bus subscription broke: trips from other replicas may have been missed")
		return
	}
	if d.Resumed {
		f.setBusUp()
		return
	}
	var m Message
	if err := json.Unmarshal(d.Msg, &m); err != nil || m.Origin == f.id {
		return
	}
	switch m.Type {
	case "trip":
		if m.TripID == "" {
			return
		}
		b.Trip(bg, estop.Source{ID: m.TripID, Kind: estop.KindReplica}, "replica "+m.Origin+": "+m.Reason)
	case "reset":
		s := b.Snapshot()
		if !s.Tripped {
			return
		}
		for _, id := range f.tripIDs(s) {
			if !slices.Contains(m.Acks, id) {
				f.log.Warn("remote e-stop reset not applied: trip not acknowledged", "from", m.Origin, "trip", id)
				return
			}
		}
		if _, err := b.Reset(bg, operatorPrefix+m.Origin, m.Reason); err != nil {
			f.log.Warn("remote e-stop reset not applied", "from", m.Origin, "err", err)
		}
	}
}
