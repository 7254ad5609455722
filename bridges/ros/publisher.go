package ros

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
)

// Publisher publishes messages of one type on one topic. It is safe for
// concurrent use.
type Publisher struct {
	node  *Node
	topic string
	typ   msgs.Type
	latch bool

	bytes   atomic.Int64 // payload bytes sent, all connections
	dropped atomic.Int64 // frames dropped because a connection's queue was full

	mu      sync.Mutex
	conns   map[*pubConn]struct{}
	latched []byte // last frame, when latching
	closed  bool
	wake    chan struct{} // closed and replaced when a subscriber connects
}

type pubConn struct {
	id     int64
	peer   string // subscriber's callerid
	remote string
	c      net.Conn
	queue  chan []byte
	bytes  atomic.Int64
	msgs   atomic.Int64
	once   sync.Once
	done   chan struct{} // closed by close
}

func (pc *pubConn) close() { pc.once.Do(func() { close(pc.done); pc.c.Close() }) }

// Publisher registers the node as a publisher of topic with message type
// msgType and returns the Publisher. With latch, the last message is sent to
// every subscriber that connects later. A node has at most one Publisher per
// topic.
func (n *Node) Publisher(ctx context.Context, topic string, msgType msgs.Type, latch bool) (*Publisher, error) {
	topic, err := resolveName(topic)
	if err != nil {
		return nil, err
	}
	if msgType.New == nil || msgType.MD5 == "" {
		return nil, errors.New("ros: Publisher: incomplete message type")
	}
	p := &Publisher{node: n, topic: topic, typ: msgType, latch: latch,
		conns: map[*pubConn]struct{}{}, wake: make(chan struct{})}
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return nil, ErrClosed
	case n.pubs[topic] != nil:
		n.mu.Unlock()
		return nil, fmt.Errorf("ros: node already publishes %s", topic)
	}
	n.pubs[topic] = p
	n.mu.Unlock()
	if _, err := n.master.RegisterPublisher(ctx, topic, msgType.Name, n.uri); err != nil {
		n.mu.Lock()
		delete(n.pubs, topic)
		n.mu.Unlock()
		return nil, fmt.Errorf("ros: register publisher of %s: %w", topic, err)
	}
	return p, nil
}

// Topic returns the resolved topic name.
func (p *Publisher) Topic() string { return p.topic }

// Type returns the message type.
func (p *Publisher) Type() msgs.Type { return p.typ }

// NumSubscribers returns the number of connected subscribers.
func (p *Publisher) NumSubscribers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Dropped returns the number of frames dropped because a subscriber's queue
// was full.
func (p *Publisher) Dropped() int64 { return p.dropped.Load() }

// WaitForSubscribers blocks until at least n subscribers are connected or
// ctx ends.
func (p *Publisher) WaitForSubscribers(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		have, wake, closed := len(p.conns), p.wake, p.closed
		p.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if have >= n {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (p *Publisher) connections() []*pubConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*pubConn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

// Publish serializes m once and queues it to every connected subscriber. It
// does not wait for the network: a subscriber whose queue is full loses its
// oldest queued message (counted in Dropped). m must be of the publisher's
// type.
func (p *Publisher) Publish(ctx context.Context, m msgs.Message) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if t := m.Type(); t.Name != p.typ.Name || t.MD5 != p.typ.MD5 {
		return fmt.Errorf("ros: publish %s on %s, which carries %s", t.Name, p.topic, p.typ.Name)
	}
	w := msgs.NewWriter(make([]byte, 4, 64))
	m.Marshal(w)
	frame := w.Bytes()
	putFrameLen(frame)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.latch {
		p.latched = frame
	} else {
		p.latched = nil // a kept message (PublishLatched) no longer holds
	}
	for c := range p.conns {
		p.enqueue(c, frame)
	}
	return nil
}

// PublishLatched publishes m like Publish and keeps it for every subscriber
// that connects later (whose connection header then says latching=1), on a
// publisher created with or without latch, until ClearLatched or, on a
// publisher created without latch, the next Publish. A bridge keeps a safe
// stop this way while a route is stopped, and never keeps a motion command.
func (p *Publisher) PublishLatched(ctx context.Context, m msgs.Message) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if t := m.Type(); t.Name != p.typ.Name || t.MD5 != p.typ.MD5 {
		return fmt.Errorf("ros: publish %s on %s, which carries %s", t.Name, p.topic, p.typ.Name)
	}
	w := msgs.NewWriter(make([]byte, 4, 64))
	m.Marshal(w)
	frame := w.Bytes()
	putFrameLen(frame)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.latched = frame
	for c := range p.conns {
		p.enqueue(c, frame)
	}
	return nil
}

// ClearLatched forgets the kept message: later subscribers receive nothing
// until the next message.
func (p *Publisher) ClearLatched() {
	p.mu.Lock()
	p.latched = nil
	p.mu.Unlock()
}

// latching reports whether a subscriber connecting now receives a kept
// message (the latching field of its connection header).
func (p *Publisher) latching() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.latch || p.latched != nil
}

func putFrameLen(frame []byte) {
	n := uint32(len(frame) - 4)
	frame[0], frame[1], frame[2], frame[3] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
}

// enqueue queues frame on c, dropping the oldest queued frame if full.
// Called with p.mu held, so only one goroutine enqueues at a time.
func (p *Publisher) enqueue(c *pubConn, frame []byte) {
	for {
		select {
		case c.queue <- frame:
			return
		default:
		}
		select {
		case <-c.queue:
			p.dropped.Add(1)
		default:
		}
	}
}

// addConn takes over a subscriber connection whose handshake succeeded.
func (p *Publisher) addConn(c net.Conn, peer string) {
	n := p.node
	pc := &pubConn{id: n.nextConn.Add(1), peer: peer, remote: c.RemoteAddr().String(), c: c,
		queue: make(chan []byte, n.cfg.QueueSize), done: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[pc] = struct{}{}
	if p.latched != nil {
		pc.queue <- p.latched
	}
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
	n.log.Debug("ros subscriber connected", "topic", p.topic, "subscriber", peer, "remote", pc.remote)
	stop := context.AfterFunc(n.ctx, pc.close)
	defer stop()
	// The subscriber sends nothing after its header: a read returning is
	// the connection closing.
	if !n.goroutine(func() {
		var b [256]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				pc.close()
				return
			}
		}
	}) {
		pc.close()
	}
	for {
		var frame []byte
		select {
		case frame = <-pc.queue:
		case <-pc.done:
		}
		if frame == nil {
			break
		}
		_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.Write(frame); err != nil {
			break
		}
		pc.bytes.Add(int64(len(frame) - 4))
		pc.msgs.Add(1)
		p.bytes.Add(int64(len(frame) - 4))
	}
	pc.close()
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
	n.log.Debug("ros subscriber disconnected", "topic", p.topic, "subscriber", peer)
}

// Close unregisters the publisher from the master (bounded by ctx) and
// disconnects its subscribers. It is idempotent.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	conns := make([]*pubConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	close(p.wake)
	p.mu.Unlock()
	n := p.node
	n.mu.Lock()
	if n.pubs[p.topic] == p {
		delete(n.pubs, p.topic)
	}
	n.mu.Unlock()
	_, err := n.master.UnregisterPublisher(ctx, p.topic, n.uri)
	for _, c := range conns {
		c.close()
	}
	if err != nil {
		return fmt.Errorf("ros: unregister publisher of %s: %w", p.topic, err)
	}
	return nil
}
