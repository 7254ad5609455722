package approvals

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/sintgate/sintgate/ledger"
)

// Stream event names (PROTOCOL.md §7).
const (
	EventRequested    = "approval.requested"
	EventResolved     = "approval.resolved"
	EventEstopTripped = "estop.tripped"
	EventEstopReset   = "estop.reset"
)

// Event is one stream event: the ledger sequence is its id.
type Event struct {
	Seq  uint64
	Name string
	Data json.RawMessage // a JSON object
}

// EventOf maps a ledger entry to a stream event; ok is false for entries
// the streams do not carry.
func EventOf(e *ledger.Entry) (Event, bool) {
	var name, state string
	switch e.EventType {
	case "approval.requested":
		name = EventRequested
	case "approval.granted", "approval.denied", "approval.expired", "approval.cancelled":
		name, state = EventResolved, strings.TrimPrefix(e.EventType, "approval.")
		if state == "granted" {
			state = Approved
		}
	case "safety.estop.tripped":
		name = EventEstopTripped
	case "safety.estop.reset":
		name = EventEstopReset
	default:
		return Event{}, false
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(e.Payload, &m); err != nil || m == nil {
		m = map[string]json.RawMessage{}
	}
	seq, _ := json.Marshal(e.SequenceNumber)
	m["sequence"] = seq
	m["ledgerEventType"], _ = json.Marshal(e.EventType)
	m["timestamp"], _ = json.Marshal(e.Timestamp)
	if state != "" {
		m["state"], _ = json.Marshal(state)
	}
	if e.EventType != "approval.requested" && !strings.HasPrefix(e.EventType, "approval.") {
		m["actor"], _ = json.Marshal(e.AgentID)
	}
	data, _ := json.Marshal(m)
	return Event{Seq: e.SequenceNumber, Name: name, Data: data}, true
}

// Reader is the read side of the ledger the hub tails.
type Reader interface {
	Size(ctx context.Context) (uint64, error)
	List(ctx context.Context, q ledger.ListQuery) ([]ledger.Entry, *uint64, error)
}

// idleRefresh bounds how often an idle hub (no subscribers) looks up the
// ledger size on wake-ups, and so how far behind the head a new
// subscriber's From can be.
const idleRefresh = 50 * time.Millisecond

// DefaultBuffer is the per-subscriber buffer: a subscriber that falls this
// many events behind is disconnected (it resumes with Last-Event-ID).
const DefaultBuffer = 1024

// Hub tails the ledger in sequence order and fans the stream events out to
// subscribers. One tailer serves every subscriber, so delivery is ordered,
// gap-free and never blocks an appender: a subscriber whose buffer is full
// is dropped (its channel closed) and must resume from its last id.
type Hub struct {
	Ledger Reader
	// Poll is how often the tailer looks at the ledger without a wake-up
	// (appends made around the wrapper); 0 = 1 s.
	Poll time.Duration
	Log  *slog.Logger

	wake   chan struct{}
	once   sync.Once
	idleAt time.Time // last idle position refresh (tailer goroutine only)

	mu      sync.Mutex
	pos     uint64 // last sequence fanned out
	started bool
	closed  bool
	subs    map[*Sub]struct{}
	drops   uint64
	limits  Limits
}

// Limits are the per-subscriber stream settings.
type Limits struct {
	Buffer       int           // events buffered per subscriber; 0 = DefaultBuffer
	Heartbeat    time.Duration // heartbeat interval; 0 = DefaultHeartbeat
	WriteTimeout time.Duration // bound on one write to a client; 0 = DefaultWriteTimeout
}

// Defaults of Limits.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 5 * time.Second
)

// SetLimits changes the settings of later subscribers.
func (h *Hub) SetLimits(l Limits) {
	h.mu.Lock()
	h.limits = l
	h.mu.Unlock()
}

// Sub is one subscriber. C is closed when the subscriber is dropped (too
// slow), unsubscribed, or the hub stops.
type Sub struct {
	C <-chan Event
	// From is the hub position at subscription: C carries exactly the
	// events with sequence > From; earlier ones come from Backlog.
	From uint64
	// Heartbeat and WriteTimeout are the hub's limits at subscription.
	Heartbeat, WriteTimeout time.Duration
	c                       chan Event
	dropped                 bool
}

// Dropped reports whether the hub dropped the subscriber for being slow
// (valid once C is closed).
func (s *Sub) Dropped() bool { return s.dropped }

func (h *Hub) init() {
	h.once.Do(func() {
		h.wake = make(chan struct{}, 1)
		h.subs = map[*Sub]struct{}{}
	})
}

// Wake tells the tailer that the ledger grew. It never blocks.
func (h *Hub) Wake() {
	h.init()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Start positions the hub at the ledger's head and tails it until ctx ends;
// then every subscriber's channel is closed.
func (h *Hub) Start(ctx context.Context) error {
	h.init()
	size, err := h.Ledger.Size(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.pos, h.started = size, true
	h.mu.Unlock()
	go h.run(ctx)
	return nil
}

func (h *Hub) run(ctx context.Context) {
	poll := h.Poll
	if poll <= 0 {
		poll = time.Second
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	defer h.closeAll()
	for {
		tick := false
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		case <-t.C:
			tick = true
		}
		h.catchUp(ctx, tick)
	}
}

// catchUp fans out every entry after the current position.
func (h *Hub) catchUp(ctx context.Context, tick bool) {
	// With nobody subscribed there is nothing to fan out: move the position
	// to the ledger's end without reading entries (a subscriber that comes
	// later reads everything up to its From from the ledger backlog, and the
	// few entries after From from the tailer). While idle, wake-ups move it
	// at most every idleRefresh: a size query per append would cost the
	// ledger store a round trip per decision for no reader.
	h.mu.Lock()
	idle := len(h.subs) == 0
	h.mu.Unlock()
	if idle && !tick && time.Since(h.idleAt) < idleRefresh {
		return
	}
	if idle {
		h.idleAt = time.Now()
		size, err := h.Ledger.Size(ctx)
		if err == nil {
			h.mu.Lock()
			if len(h.subs) == 0 && size > h.pos {
				h.pos = size
			}
			idle = len(h.subs) == 0
			h.mu.Unlock()
		}
		if idle {
			return
		}
	}
	for ctx.Err() == nil {
		h.mu.Lock()
		after := h.pos
		h.mu.Unlock()
		es, _, err := h.Ledger.List(ctx, ledger.ListQuery{After: after, Limit: ledger.MaxListLimit})
		if err != nil {
			if h.Log != nil && !errors.Is(err, context.Canceled) {
				h.Log.Error("approvals hub: read ledger", "err", err)
			}
			return
		}
		if len(es) == 0 {
			return
		}
		h.mu.Lock()
		for i := range es {
			e := &es[i]
			if e.SequenceNumber != h.pos+1 {
				break // a concurrent reader? never skip a sequence
			}
			h.pos = e.SequenceNumber
			if ev, ok := EventOf(e); ok {
				h.fanout(ev)
			}
		}
		h.mu.Unlock()
	}
}

// fanout delivers ev to every subscriber without blocking; the caller holds mu.
func (h *Hub) fanout(ev Event) {
	for s := range h.subs {
		select {
		case s.c <- ev:
		default:
			s.dropped = true
			close(s.c)
			delete(h.subs, s)
			h.drops++
		}
	}
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		close(s.c)
		delete(h.subs, s)
	}
}

// ErrStopped is returned by Subscribe after the hub stopped.
var ErrStopped = errors.New("approvals hub: stopped")

// Subscribe registers a subscriber for live events.
func (h *Hub) Subscribe() (*Sub, error) {
	h.init()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || !h.started {
		return nil, ErrStopped
	}
	l := h.limits
	if l.Buffer <= 0 {
		l.Buffer = DefaultBuffer
	}
	if l.Heartbeat <= 0 {
		l.Heartbeat = DefaultHeartbeat
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	c := make(chan Event, l.Buffer)
	s := &Sub{C: c, c: c, From: h.pos, Heartbeat: l.Heartbeat, WriteTimeout: l.WriteTimeout}
	h.subs[s] = struct{}{}
	return s, nil
}

// Unsubscribe removes s (idempotent).
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.c)
	}
}

// Stats reports the number of subscribers and how many were dropped.
func (h *Hub) Stats() (subscribers int, dropped uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs), h.drops
}

// Backlog calls f for every stream event with after < sequence ≤ upto, in
// order, reading the ledger page by page (constant memory).
func (h *Hub) Backlog(ctx context.Context, after, upto uint64, f func(Event) error) error {
	for after < upto {
		es, _, err := h.Ledger.List(ctx, ledger.ListQuery{After: after, Limit: ledger.MaxListLimit})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for i := range es {
			e := &es[i]
			if e.SequenceNumber > upto {
				return nil
			}
			after = e.SequenceNumber
			if ev, ok := EventOf(e); ok {
				if err := f(ev); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Wrap returns l with every successful append waking the hub.
func (h *Hub) Wrap(l ledger.Store) ledger.Store {
	h.init()
	return &publishing{Store: l, h: h}
}

type publishing struct {
	ledger.Store
	h *Hub
}

func (p *publishing) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	e, err := p.Store.Append(ctx, ev)
	if err == nil {
		p.h.Wake()
	}
	return e, err
}

func (p *publishing) AppendBatch(ctx context.Context, evs []ledger.Event) ([]ledger.Entry, []error, error) {
	es, errs, err := p.Store.AppendBatch(ctx, evs)
	p.h.Wake()
	return es, errs, err
}
