package app

import (
	"io"
	"net"
	"sync"
	"testing"
)

// blackhole is a loopback TCP proxy in front of a service (PostgreSQL,
// Redis) that can stop answering without refusing: while holed it still
// accepts connections and reads what clients send, but forwards nothing in
// either direction and dials nothing, as a black-holed network would (the
// connection is up, nothing comes back). Held bytes are delivered once it
// is restored, as a healed network would deliver retransmissions. The
// service itself is never touched, so a shared server can stand behind it.
type blackhole struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu     sync.Mutex
	open   chan struct{} // closed while forwarding
	refuse bool          // connections are closed at once
	conns  map[net.Conn]struct{}
}

// newBlackhole starts a forwarding proxy to target; Addr is where clients
// connect. It stops at the test's cleanup.
func newBlackhole(t testing.TB, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{t: t, ln: ln, target: target, open: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(b.open)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

// Addr is the proxy's host:port.
func (b *blackhole) Addr() string { return b.ln.Addr().String() }

// Hole stops forwarding: nothing answers any more, no connection is refused.
func (b *blackhole) Hole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.open:
		b.open = make(chan struct{})
	default:
	}
}

// Refuse acts as a stopped server instead: every open connection is
// closed and new ones are closed as soon as they are accepted.
func (b *blackhole) Refuse() {
	b.mu.Lock()
	b.refuse = true
	var conns []net.Conn
	for c := range b.conns {
		conns = append(conns, c)
		delete(b.conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Restore forwards again, held bytes first.
func (b *blackhole) Restore() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse = false
	select {
	case <-b.open:
	default:
		close(b.open)
	}
}

// wait blocks until the proxy forwards (or is closed).
func (b *blackhole) wait() {
	b.mu.Lock()
	ch := b.open
	b.mu.Unlock()
	<-ch
}

func (b *blackhole) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil || b.refuse {
		_ = c.Close()
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *blackhole) closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns == nil
}

func (b *blackhole) close() {
	_ = b.ln.Close()
	b.mu.Lock()
	conns := b.conns
	b.conns = nil
	select {
	case <-b.open:
	default:
		close(b.open) // release the pumps so that they see closed conns
	}
	b.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
}

func (b *blackhole) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			if b.closed() {
				return
			}
			continue
		}
		go b.serve(c)
	}
}

func (b *blackhole) serve(c net.Conn) {
	b.wait() // a holed network: the connection is up, nothing goes further
	s, err := net.Dial("tcp", b.target)
	if err != nil {
		_ = c.Close()
		return
	}
	if !b.track(s) {
		_ = c.Close()
		return
	}
	go b.pump(s, c)
	b.pump(c, s)
}

// pump copies src to dst, holding each chunk while the proxy is holed.
func (b *blackhole) pump(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			b.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			if err != io.EOF {
				break
			}
			b.wait()
			break
		}
	}
	_ = src.Close()
	_ = dst.Close()
}
