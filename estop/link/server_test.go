package link

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/sintgate/sintgate/estop"
)

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func latched(b *estop.Breaker, src estop.Source) bool {
	for _, s := range b.Snapshot().Latched() {
		if s == (estop.SourceState{ID: src.ID, Kind: src.Kind, State: estop.SourceTripped, Since: s.Since}) {
			return true
		}
	}
	return false
}

// startServer runs a gateway-side server on loopback.
func startServer(t testing.TB, cfg Config) (*estop.Breaker, *Server, string) {
	t.Helper()
	b := estop.NewBreaker()
	codec, err := NewCodec(testKey, RoleGateway, uint64(time.Now().UnixNano()), DefaultMaxSkew)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(b, codec, cfg, "", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return b, srv, ln.Addr().String()
}

// rawController is a hand-driven controller: the test writes each frame.
type rawController struct {
	conn  net.Conn
	codec *Codec
}

func dialRaw(t *testing.T, addr string) *rawController {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	codec, _ := NewCodec(testKey, RoleController, uint64(time.Now().UnixNano()), 0)
	return &rawController{conn: c, codec: codec}
}

func (r *rawController) frame(t *testing.T, typ Type, st Status) []byte {
	p, _ := json.Marshal(st)
	b, err := r.codec.Seal(typ, time.Now(), p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *rawController) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := r.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestServerDropsForgedAndReplayed(t *testing.T) {
	// a long timeout: this test drives heartbeats by hand
	b, srv, addr := startServer(t, Config{Timeout: 5 * time.Second})
	waitFor(t, "boot trip", func() bool { return latched(b, srv.LinkSource()) })
	rc := dialRaw(t, addr)

	hb := rc.frame(t, Heartbeat, Status{Button: "released"})
	rc.write(t, hb)
	waitFor(t, "link latch to clear", func() bool { return !latched(b, srv.LinkSource()) })
	if _, err := b.Reset(context.Background(), "bob", "link up"); err != nil {
		t.Fatal(err)
	}

	t.Run("deny/forged-trip-dropped", func(t *testing.T) {
		f := rc.frame(t, Heartbeat, Status{Button: "released"})
		f[4+1] = byte(Trip) // tamper: turn a heartbeat into a trip
		rc.write(t, f)
		waitFor(t, "bad MAC counted", func() bool { return srv.Stats().BadMAC.Load() == 1 })
		if b.Tripped() {
			t.Fatal("a forged trip frame tripped the breaker")
		}
	})
	t.Run("deny/replayed-pressed-dropped", func(t *testing.T) {
		// a genuine "pressed" heartbeat captured earlier is replayed later
		pressed := rc.frame(t, Heartbeat, Status{Button: "pressed"})
		newer := rc.frame(t, Heartbeat, Status{Button: "released"})
		rc.write(t, newer)
		rc.write(t, pressed) // older sequence number
		rc.write(t, hb)      // the very first frame again
		waitFor(t, "replays counted", func() bool { return srv.Stats().Replayed.Load() == 2 })
		if b.Tripped() {
			t.Fatal("a replayed frame changed the breaker")
		}
	})
	t.Run("trip/genuine-trip-frame", func(t *testing.T) {
		rc.write(t, rc.frame(t, Trip, Status{Button: "pressed", Reason: "button"}))
		waitFor(t, "trip", func() bool { return b.Tripped() && latched(b, srv.ButtonSource()) })
		rc.write(t, rc.frame(t, Heartbeat, Status{Button: "released"}))
		waitFor(t, "button latch to clear", func() bool { return !latched(b, srv.ButtonSource()) })
	})
	if got := srv.Stats().Dropped(); got != 3 {
		t.Fatalf("dropped %d frames, want 3", got)
	}
}

func TestServerHeartbeatLossTrips(t *testing.T) {
	b, srv, addr := startServer(t, Config{Interval: 5 * time.Millisecond, Timeout: 50 * time.Millisecond})
	rc := dialRaw(t, addr)
	rc.write(t, rc.frame(t, Heartbeat, Status{Button: "released"}))
	waitFor(t, "link up", func() bool { return !latched(b, srv.LinkSource()) })
	b.Reset(context.Background(), "bob", "up")
	// then silence, with the connection still open
	waitFor(t, "watchdog trip", func() bool { return b.Tripped() && latched(b, srv.LinkSource()) })
}

func TestServerSendsState(t *testing.T) {
	b, _, addr := startServer(t, Config{Timeout: 5 * time.Second})
	rc := dialRaw(t, addr)
	rc.write(t, rc.frame(t, Heartbeat, Status{Button: "released"}))
	// read frames until one says armed after a reset, then trip and expect tripped
	seen := make(chan Status, 64)
	go func() {
		buf := make([]byte, MaxFrame)
		for {
			body, err := ReadFrame(rc.conn, buf)
			if err != nil {
				close(seen)
				return
			}
			f, err := rc.codec.Open(body, time.Now())
			if err != nil {
				continue
			}
			var st Status
			json.Unmarshal(f.Payload, &st)
			select {
			case seen <- st:
			default:
			}
		}
	}()
	want := func(state string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case st, ok := <-seen:
				if !ok {
					t.Fatal("connection closed")
				}
				if st.State == state {
					return
				}
			case <-deadline:
				t.Fatalf("never saw state %q", state)
			}
		}
	}
	waitFor(t, "link up", func() bool { return len(b.Snapshot().Latched()) == 0 })
	b.Reset(context.Background(), "bob", "up")
	want("armed")
	b.Trip(context.Background(), estop.Source{ID: "op", Kind: estop.KindAPI}, "stop")
	want("tripped")
}

func TestListenAndServe(t *testing.T) {
	b := estop.NewBreaker()
	ctx, cancel := context.WithCancel(context.Background())
	srv, errc, err := ListenAndServe(ctx, "127.0.0.1:0", testKey, b, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "boot trip without a controller", func() bool { return latched(b, srv.LinkSource()) })
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("Serve returned %v", err)
	}
	if _, _, err := ListenAndServe(context.Background(), "127.0.0.1:0", []byte("short"), b, Config{}, nil); err == nil {
		t.Fatal("short key accepted")
	}
}
