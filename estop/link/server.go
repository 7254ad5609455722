package link

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/estop"
)

// Server is the gateway side of the link. It accepts controller connections
// and drives the breaker:
//
//   - the link is a latching source (kind "controller", id ID): it trips when
//     no session is healthy (at start, on heartbeat loss, on disconnect) and
//     clears when a session receives a valid frame again;
//   - the controller's button is a second latching source (id ID+"/button"):
//     a trip frame or a heartbeat saying "pressed" trips it, a heartbeat
//     saying "released" clears it;
//   - every breaker change is sent to the controller at once as a state frame,
//     and every heartbeat carries the breaker state;
//   - reset-request frames are handed to OnResetRequest (ignored if nil).
type Server struct {
	b     *estop.Breaker
	codec *Codec
	cfg   Config
	id    string
	log   *slog.Logger

	// OnResetRequest, if set, is called for a controller's reset request.
	OnResetRequest func(ctx context.Context, reason string)

	mu      sync.Mutex
	healthy int
}

// NewServer returns a gateway-side link server. id names the controller
// (default "controller"); codec must have RoleGateway.
func NewServer(b *estop.Breaker, codec *Codec, cfg Config, id string, log *slog.Logger) *Server {
	if id == "" {
		id = "controller"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{b: b, codec: codec, cfg: cfg.withDefaults(), id: id, log: log}
}

// LinkSource is the breaker source of the link itself.
func (s *Server) LinkSource() estop.Source { return estop.Source{ID: s.id, Kind: estop.KindController} }

// ButtonSource is the breaker source of the controller's button.
func (s *Server) ButtonSource() estop.Source {
	return estop.Source{ID: s.id + "/button", Kind: estop.KindController}
}

// Stats returns the frame counters.
func (s *Server) Stats() *Stats { return &s.codec.Stats }

// Serve accepts connections on ln until ctx ends. It trips the breaker at
// once if no controller is connected yet (fail safe). When ctx ends, the
// sessions end and the breaker trips (the link is gone): stop Serve after
// the intercept path on shutdown, and expect a trip entry for it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	none := s.healthy == 0
	s.mu.Unlock()
	if none {
		s.b.Trip(context.WithoutCancel(ctx), s.LinkSource(), "controller link not established")
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	bg := context.WithoutCancel(ctx)
	status := func() Status {
		st := s.b.Snapshot()
		return Status{State: st.String(), Epoch: st.Epoch, Reason: st.Reason}
	}
	var up atomic.Bool
	sess := NewSession(conn, s.codec, s.cfg, Hooks{
		Status: status,
		Lost: func(err error) {
			// trip at once, before the session is torn down, if no other
			// session is healthy
			s.mu.Lock()
			only := s.healthy <= 1
			s.mu.Unlock()
			if only && up.Load() {
				s.b.Trip(bg, s.LinkSource(), "controller link lost: "+err.Error())
			}
		},
		Healthy: func() {
			up.Store(true)
			s.mu.Lock()
			s.healthy++
			s.mu.Unlock()
			s.b.Clear(s.LinkSource())
			s.log.Info("estop link up", "remote", conn.RemoteAddr().String())
		},
		Frame: func(f Frame, st Status) {
			switch {
			case f.Type == Trip || st.Button == "pressed":
				reason := st.Reason
				if reason == "" {
					reason = "controller e-stop button pressed"
				}
				s.b.Trip(bg, s.ButtonSource(), reason)
			case st.Button == "released":
				s.b.Clear(s.ButtonSource())
			}
			if f.Type == ResetRequest && s.OnResetRequest != nil {
				go s.OnResetRequest(bg, st.Reason)
			}
		},
	})
	ch, unsub := s.b.Subscribe()
	defer unsub()
	fwdCtx, fwdCancel := context.WithCancel(ctx)
	var fwd sync.WaitGroup
	fwd.Add(1)
	go func() {
		defer fwd.Done()
		for {
			select {
			case <-fwdCtx.Done():
				return
			case st := <-ch:
				sess.Send(StateFrame, Status{State: st.String(), Epoch: st.Epoch, Reason: st.Reason})
			}
		}
	}()
	err := sess.Run(ctx)
	fwdCancel()
	fwd.Wait()
	if !up.Load() {
		return // never authenticated: no effect on the breaker
	}
	s.mu.Lock()
	s.healthy--
	last := s.healthy == 0
	s.mu.Unlock()
	s.log.Warn("estop link down", "remote", conn.RemoteAddr().String(), "cause", err)
	if last {
		reason := "controller link lost"
		if err != nil {
			reason += ": " + err.Error()
		}
		s.b.Trip(bg, s.LinkSource(), reason)
	}
}

// ListenAndServe is the gateway's wiring helper: it listens on addr (TCP)
// and serves the controller link for breaker b until ctx ends. key is the
// shared key (≥ MinKeyLen bytes); cfg zero values take the defaults of
// PROTOCOL.md §8; frames more than DefaultMaxSkew off the gateway's clock are
// dropped. The returned *Server is ready (its Stats can be read) once the
// listener is up; Serve's error is delivered on the channel.
func ListenAndServe(ctx context.Context, addr string, key []byte, b *estop.Breaker, cfg Config, log *slog.Logger) (*Server, <-chan error, error) {
	codec, err := NewCodec(key, RoleGateway, uint64(time.Now().UnixNano()), DefaultMaxSkew)
	if err != nil {
		return nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := NewServer(b, codec, cfg, "", log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	return srv, errc, nil
}
