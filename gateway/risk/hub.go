package risk

import (
	"sync"
	"sync/atomic"
)

// DefaultBuffer is a subscriber's buffer when Subscribe is given 0.
const DefaultBuffer = 256

// MaxSubscribers bounds the live subscribers of one hub.
const MaxSubscribers = 1024

// Hub fans scored decisions out to subscribers. Publish never blocks: a
// subscriber whose buffer is full is removed and its channel closed (a
// slow client is disconnected). It is safe for concurrent use; the zero
// Hub is ready.
type Hub struct {
	mu      sync.RWMutex
	subs    map[*Sub]struct{}
	seq     atomic.Uint64
	dropped atomic.Uint64
}

// Sub is one subscriber. Read events from C until it is closed; then
// Dropped tells whether the hub dropped it for being slow.
type Sub struct {
	C       <-chan Event
	c       chan Event
	filter  atomic.Pointer[Filter]
	dropped atomic.Bool
	closed  bool // guarded by Hub.mu
}

// SetFilter replaces the subscriber's filter (nil matches everything).
func (s *Sub) SetFilter(f *Filter) { s.filter.Store(f) }

// Dropped reports whether the hub removed the subscriber for being slow.
func (s *Sub) Dropped() bool { return s.dropped.Load() }

// ErrTooMany is returned by Subscribe when MaxSubscribers are connected.
type tooMany struct{}

func (tooMany) Error() string { return "risk: too many stream subscribers" }

// ErrTooMany is returned by Subscribe when the hub is full.
var ErrTooMany error = tooMany{}

// Subscribe adds a subscriber with a buffer of buf events (0 = DefaultBuffer).
func (h *Hub) Subscribe(f *Filter, buf int) (*Sub, error) {
	if buf <= 0 {
		buf = DefaultBuffer
	}
	c := make(chan Event, buf)
	s := &Sub{C: c, c: c}
	s.filter.Store(f)
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= MaxSubscribers {
		return nil, ErrTooMany
	}
	if h.subs == nil {
		h.subs = make(map[*Sub]struct{})
	}
	h.subs[s] = struct{}{}
	return s, nil
}

// Unsubscribe removes s and closes its channel (idempotent).
func (h *Hub) Unsubscribe(s *Sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remove(s)
}

func (h *Hub) remove(s *Sub) {
	if s.closed {
		return
	}
	s.closed = true
	delete(h.subs, s)
	close(s.c)
}

// Publish stamps e with the next sequence number and offers it to every
// matching subscriber without blocking. It returns the stamped event.
func (h *Hub) Publish(e Event) Event {
	e.Seq = h.seq.Add(1)
	var slow []*Sub
	h.mu.RLock()
	for s := range h.subs {
		if f := s.filter.Load(); f != nil && !f.Match(&e) {
			continue
		}
		select {
		case s.c <- e:
		default:
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	if len(slow) > 0 {
		h.mu.Lock()
		for _, s := range slow {
			if !s.closed {
				s.dropped.Store(true)
				h.dropped.Add(1)
				h.remove(s)
			}
		}
		h.mu.Unlock()
	}
	return e
}

// Stats returns the number of subscribers and how many were dropped.
func (h *Hub) Stats() (subscribers int, dropped uint64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs), h.dropped.Load()
}
