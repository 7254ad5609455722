package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Defaults of PROTOCOL.md §8.
const (
	DefaultInterval = 20 * time.Millisecond
	DefaultTimeout  = 100 * time.Millisecond
	DefaultMaxSkew  = 5 * time.Second
)

// ErrHeartbeatLost ends a session when no valid frame arrived for Timeout.
var ErrHeartbeatLost = errors.New("link: heartbeat lost")

// Status is the JSON payload of every frame. The gateway fills State and
// Epoch; the controller fills Button and Relay; Reason goes with trip and
// reset-request frames.
type Status struct {
	State  string `json:"state,omitempty"`  // "armed" | "tripped" (gateway)
	Epoch  uint64 `json:"epoch,omitempty"`  // gateway breaker epoch
	Button string `json:"button,omitempty"` // "pressed" | "released" (controller)
	Relay  string `json:"relay,omitempty"`  // "energised" | "open" (controller)
	Reason string `json:"reason,omitempty"`
}

// Config holds the link timing. Zero values take the defaults.
type Config struct {
	Interval time.Duration    // heartbeat period
	Timeout  time.Duration    // watchdog: no valid frame for this long ends the session
	Now      func() time.Time // clock for frame timestamps
}

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Hooks are the session's callbacks. They run on the session's reader
// goroutine (Frame, Healthy) or writer goroutine (Status) and must not block.
type Hooks struct {
	Status  func() Status            // payload of each heartbeat
	Frame   func(f Frame, st Status) // every valid frame from the peer
	Healthy func()                   // the first valid frame of the session
	// Lost, if set, is called from the watchdog the moment heartbeats are
	// lost, before the session is torn down (so a relay opens without
	// waiting for goroutines to finish).
	Lost func(cause error)
}

// Session is one authenticated connection.
type Session struct {
	conn  net.Conn
	codec *Codec
	cfg   Config
	hooks Hooks
	out   chan []byte
}

// NewSession prepares a session on conn; Run drives it.
func NewSession(conn net.Conn, codec *Codec, cfg Config, hooks Hooks) *Session {
	return &Session{conn: conn, codec: codec, cfg: cfg.withDefaults(), hooks: hooks, out: make(chan []byte, 16)}
}

// Send queues a frame of type t. It never blocks: if the queue is full the
// frame is dropped (heartbeats carry the same state a moment later).
func (s *Session) Send(t Type, st Status) error {
	b, err := s.seal(t, st)
	if err != nil {
		return err
	}
	select {
	case s.out <- b:
		return nil
	default:
		return errors.New("link: send queue full")
	}
}

func (s *Session) seal(t Type, st Status) ([]byte, error) {
	p, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	return s.codec.Seal(t, s.cfg.Now(), p)
}

// Run sends heartbeats and reads frames until ctx ends, the connection fails
// or the watchdog fires; it closes the connection and returns the cause
// (ErrHeartbeatLost, a read/write error, or ctx's cause).
func (s *Session) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { s.conn.Close() })
	defer stop()
	defer s.conn.Close()
	wd := time.AfterFunc(s.cfg.Timeout, func() {
		if s.hooks.Lost != nil && ctx.Err() == nil {
			s.hooks.Lost(ErrHeartbeatLost)
		}
		cancel(ErrHeartbeatLost)
	})
	defer wd.Stop()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.read(ctx, cancel, wd)
	}()
	defer wg.Wait()

	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	write := func(b []byte) bool {
		s.conn.SetWriteDeadline(s.cfg.Now().Add(s.cfg.Timeout))
		if _, err := s.conn.Write(b); err != nil {
			cancel(fmt.Errorf("link: write: %w", err))
			return false
		}
		s.codec.Stats.Sent.Add(1)
		return true
	}
	heartbeat := func() bool {
		var st Status
		if s.hooks.Status != nil {
			st = s.hooks.Status()
		}
		b, err := s.seal(Heartbeat, st)
		if err != nil {
			cancel(err)
			return false
		}
		return write(b)
	}
	if !heartbeat() {
		return context.Cause(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case b := <-s.out:
			if !write(b) {
				return context.Cause(ctx)
			}
		case <-tick.C:
			if !heartbeat() {
				return context.Cause(ctx)
			}
		}
	}
}

func (s *Session) read(ctx context.Context, cancel context.CancelCauseFunc, wd *time.Timer) {
	buf := make([]byte, MaxFrame)
	healthy := false
	for {
		body, err := ReadFrame(s.conn, buf)
		if err != nil {
			if errors.Is(err, ErrMalformed) {
				s.codec.Stats.Malformed.Add(1)
			}
			cancel(fmt.Errorf("link: read: %w", err))
			return
		}
		f, err := s.codec.Open(body, s.cfg.Now())
		if err != nil {
			continue // dropped and counted by Open
		}
		if ctx.Err() != nil {
			return
		}
		wd.Reset(s.cfg.Timeout)
		var st Status
		if len(f.Payload) > 0 {
			// an authenticated but unparsable payload is the peer's bug:
			// keep the heartbeat (the link is alive) and ignore the payload
			_ = json.Unmarshal(f.Payload, &st)
		}
		if !healthy {
			healthy = true
			if s.hooks.Healthy != nil {
				s.hooks.Healthy()
			}
		}
		if s.hooks.Frame != nil {
			s.hooks.Frame(f, st)
		}
	}
}
