package server

import (
	"io"
	"net"
	"sync"
	"time"
)

// Lingering close. When the server answers before it has read the whole
// request (a body over the limit is refused from its Content-Length, and
// the connection is then closed), the client may still be writing. Closing
// a socket with unread bytes makes the kernel send a reset, and a reset
// arriving at the client discards the answer it had not read yet: the agent
// sees "connection reset" instead of its 413 MALFORMED_REQUEST decision.
//
// A lingering close sends FIN first, then reads and discards what the peer
// still sends, for a bounded time and byte count, before the descriptor is
// closed. net/http does the same for the same reason.
const (
	lingerTimeout = 500 * time.Millisecond
	lingerBytes   = 1 << 20
)

// LingerListener wraps ln so that every accepted connection closes with a
// lingering close. Close returns at once; the drain runs in its own
// goroutine, bounded by lingerTimeout.
func LingerListener(ln net.Listener) net.Listener { return lingerListener{ln} }

type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tc}, nil
	}
	return c, nil
}

type lingerConn struct {
	*net.TCPConn
	once sync.Once
}

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		if c.TCPConn.CloseWrite() != nil {
			_ = c.TCPConn.Close()
			return
		}
		go func() {
			_ = c.TCPConn.SetReadDeadline(time.Now().Add(lingerTimeout))
			_, _ = io.CopyN(io.Discard, c.TCPConn, lingerBytes)
			_ = c.TCPConn.Close()
		}()
	})
	return nil
}
