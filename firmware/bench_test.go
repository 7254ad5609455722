package firmware

import (
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/link"
)

// holeProxy forwards TCP between controller and gateway and can silently
// black-hole the current connection (nothing is closed: only the heartbeat
// watchdog can notice).
type holeProxy struct {
	ln  net.Listener
	dst string

	mu  sync.Mutex
	cur *holeConn
}

type holeConn struct {
	hole     atomic.Bool
	lastG2C  atomic.Int64 // unix ns of the last gateway→controller bytes forwarded
	c1, c2   net.Conn
	closeOne sync.Once
}

func newHoleProxy(t testing.TB, dst string) *holeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holeProxy{ln: ln, dst: dst}
	go p.accept()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *holeProxy) accept() {
	for {
		c1, err := p.ln.Accept()
		if err != nil {
			return
		}
		c2, err := net.Dial("tcp", p.dst)
		if err != nil {
			c1.Close()
			continue
		}
		hc := &holeConn{c1: c1, c2: c2}
		p.mu.Lock()
		p.cur = hc
		p.mu.Unlock()
		go hc.pipe(c2, c1, true)
		go hc.pipe(c1, c2, false)
	}
}

func (hc *holeConn) pipe(dst, src net.Conn, g2c bool) {
	defer func() {
		if !hc.hole.Load() { // a black hole never tells the other side
			hc.closeOne.Do(func() { hc.c1.Close(); hc.c2.Close() })
		}
	}()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if hc.hole.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
		if g2c {
			hc.lastG2C.Store(time.Now().UnixNano())
		}
	}
}

func (p *holeProxy) current() *holeConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// BenchmarkHeartbeatLossToRelayOpen measures the time from the last frame
// the controller received to its relay opening, with the link silently
// black-holed (default 20 ms heartbeats, 100 ms timeout). Target: ≤ timeout
// + 5 ms. Run with -benchtime=30x or so: each iteration reconnects.
func BenchmarkHeartbeatLossToRelayOpen(b *testing.B) {
	br := estop.NewBreaker()
	codec, _ := link.NewCodec(key, link.RoleGateway, uint64(time.Now().UnixNano()), link.DefaultMaxSkew)
	srv := link.NewServer(br, codec, link.Config{}, "ctl", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx, ln)
	proxy := newHoleProxy(b, ln.Addr().String())

	button := &gpiotest.Pin{N: "BTN", EdgesChan: make(chan gpio.Level, 4)}
	nc := ncButton{Pin: button, configured: make(chan struct{})}
	relay := &gpiotest.Pin{N: "RELAY"}
	ctl, err := New(Config{Gateway: proxy.ln.Addr().String(), Key: key, BackoffMin: 5 * time.Millisecond}, nc, relay)
	if err != nil {
		b.Fatal(err)
	}
	opened := make(chan int64, 1)
	ctl.OnChange(func(s Snapshot) {
		if !s.Energised {
			select {
			case opened <- time.Now().UnixNano():
			default:
			}
		}
	})
	go ctl.Run(ctx)

	energise := func() {
		deadline := time.Now().Add(10 * time.Second)
		for !ctl.Snapshot().Energised {
			if s := br.Snapshot(); s.Tripped && len(s.Latched()) == 0 {
				br.Reset(ctx, "bench", "re-arm")
			}
			if time.Now().After(deadline) {
				b.Fatal("relay never energised")
			}
			time.Sleep(time.Millisecond)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		energise()
		select { // drop stale open events
		case <-opened:
		default:
		}
		hc := proxy.current()
		b.StartTimer()
		hc.hole.Store(true)
		at := <-opened
		b.StopTimer()
		lat = append(lat, time.Duration(at-hc.lastG2C.Load()))
		b.StartTimer()
	}
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
		b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(lat[0].Microseconds())/1000, "min-ms")
	}
}
