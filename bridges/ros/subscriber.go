package ros

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/tcpros"
	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
)

// Reconnect backoff of a subscriber link.
const (
	reconnectMin = 100 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// Subscriber receives the messages of one topic from every publisher the
// master names. It is safe for concurrent use.
type Subscriber struct {
	node    *Node
	topic   string
	typ     msgs.Type
	handler func(msgs.Message)

	ctx    context.Context // cancelled by Close
	cancel context.CancelCauseFunc
	inbox  chan msgs.Message
	wg     sync.WaitGroup

	received atomic.Int64 // messages delivered to the handler
	invalid  atomic.Int64 // frames dropped because they did not decode

	mu      sync.Mutex
	pubs    map[string]*subLink // by publisher slave URI
	closed  bool
	updated bool // a publisherUpdate arrived; it is newer than the registration's list
}

// subLink is the connection to one publisher.
type subLink struct {
	id        int64
	uri       string
	cancel    context.CancelFunc
	connected atomic.Bool
	bytes     atomic.Int64
	dropped   atomic.Int64
}

// Subscribe registers the node as a subscriber of topic and connects to its
// publishers. handler is called with each decoded message, one at a time on
// one goroutine, in arrival order per publisher; it owns the message it is
// given. A slow handler applies back-pressure up to QueueSize messages and
// then to the TCP connections. The handler must not call Close on the
// Subscriber or its Node (Close waits for the handler to return). A node
// has at most one Subscriber per topic.
func (n *Node) Subscribe(ctx context.Context, topic string, msgType msgs.Type, handler func(msgs.Message)) (*Subscriber, error) {
	topic, err := resolveName(topic)
	if err != nil {
		return nil, err
	}
	if msgType.New == nil || msgType.MD5 == "" || handler == nil {
		return nil, errors.New("ros: Subscribe: incomplete message type or nil handler")
	}
	s := &Subscriber{node: n, topic: topic, typ: msgType, handler: handler,
		inbox: make(chan msgs.Message, n.cfg.QueueSize), pubs: map[string]*subLink{}}
	s.ctx, s.cancel = context.WithCancelCause(n.ctx)
	n.mu.Lock()
	switch {
	case n.closed:
		n.mu.Unlock()
		return nil, ErrClosed
	case n.subs[topic] != nil:
		n.mu.Unlock()
		return nil, fmt.Errorf("ros: node already subscribes to %s", topic)
	}
	n.subs[topic] = s
	n.mu.Unlock()
	s.wg.Add(1)
	if !n.goroutine(func() { defer s.wg.Done(); s.dispatch() }) {
		s.wg.Done()
	}
	pubs, err := n.master.RegisterSubscriber(ctx, topic, msgType.Name, n.uri)
	if err != nil {
		s.cancel(ErrClosed)
		n.mu.Lock()
		delete(n.subs, topic)
		n.mu.Unlock()
		return nil, fmt.Errorf("ros: register subscriber of %s: %w", topic, err)
	}
	s.setPublishers(pubs, false)
	return s, nil
}

// Topic returns the resolved topic name.
func (s *Subscriber) Topic() string { return s.topic }

// Received returns the number of messages handed to the handler.
func (s *Subscriber) Received() int64 { return s.received.Load() }

// Invalid returns the number of frames dropped because they did not decode.
func (s *Subscriber) Invalid() int64 { return s.invalid.Load() }

// NumPublishers returns the number of publishers currently connected.
func (s *Subscriber) NumPublishers() int {
	n := 0
	for _, l := range s.links() {
		if l.connected.Load() {
			n++
		}
	}
	return n
}

func (s *Subscriber) links() []*subLink {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*subLink, 0, len(s.pubs))
	for _, l := range s.pubs {
		out = append(out, l)
	}
	return out
}

func (s *Subscriber) dispatch() {
	for {
		select {
		case m := <-s.inbox:
			s.received.Add(1)
			s.handler(m)
		case <-s.ctx.Done():
			return
		}
	}
}

// setPublishers makes the set of publisher links equal to uris: new
// publishers get a link, links to publishers no longer listed are closed.
// The list registerSubscriber returned (fromUpdate false) is ignored when a
// publisherUpdate raced ahead of it, since the update is the newer list.
func (s *Subscriber) setPublishers(uris []string, fromUpdate bool) {
	want := make(map[string]bool, len(uris))
	for _, u := range uris {
		want[u] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || (!fromUpdate && s.updated) {
		return
	}
	s.updated = s.updated || fromUpdate
	for u, l := range s.pubs {
		if !want[u] {
			l.cancel()
			delete(s.pubs, u)
		}
	}
	for u := range want {
		if s.pubs[u] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(s.ctx)
		l := &subLink{id: s.node.nextConn.Add(1), uri: u, cancel: cancel}
		s.pubs[u] = l
		s.wg.Add(1)
		if !s.node.goroutine(func() { defer s.wg.Done(); s.run(ctx, l) }) {
			s.wg.Done()
			cancel()
		}
	}
}

// run keeps a link to one publisher connected until ctx ends.
func (s *Subscriber) run(ctx context.Context, l *subLink) {
	log := s.node.log.With("topic", s.topic, "publisher", l.uri)
	backoff := reconnectMin
	for ctx.Err() == nil {
		start := time.Now()
		err := s.connect(ctx, l)
		l.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		log.Info("ros subscriber link down; reconnecting", "err", err, "in", backoff)
		if time.Since(start) > reconnectMax {
			backoff = reconnectMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, reconnectMax)
	}
}

// connect negotiates a TCPROS connection with the publisher and reads
// messages until the connection fails or ctx ends.
func (s *Subscriber) connect(ctx context.Context, l *subLink) error {
	n := s.node
	cctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
	proto, err := callAPI(cctx, &xmlrpc.Client{}, l.uri, "requestTopic", n.name, s.topic, []any{[]any{"TCPROS"}})
	cancel()
	if err != nil {
		return err
	}
	p, ok := proto.([]any)
	if !ok || len(p) < 3 || p[0] != "TCPROS" {
		return fmt.Errorf("ros: requestTopic answered %#v", proto)
	}
	host, _ := p[1].(string)
	port, _ := p[2].(int)
	if host == "" || port <= 0 || port > 65535 {
		return fmt.Errorf("ros: requestTopic answered address %#v", proto)
	}
	d := net.Dialer{Timeout: peerCallTimeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	err = tcpros.WriteHeader(c, tcpros.Header{
		tcpros.KeyCallerID: n.name, tcpros.KeyTopic: s.topic, tcpros.KeyType: s.typ.Name,
		tcpros.KeyMD5: s.typ.MD5, tcpros.KeyMessageDefinition: s.typ.Definition, tcpros.KeyTCPNoDelay: "1",
	})
	if err != nil {
		return err
	}
	h, err := tcpros.ReadHeader(c)
	if err != nil {
		return fmt.Errorf("ros: publisher header: %w", err)
	}
	if e := h[tcpros.KeyError]; e != "" {
		return fmt.Errorf("ros: publisher refused: %s", e)
	}
	if err := checkPeerType(s.typ, h); err != nil {
		return fmt.Errorf("ros: publisher %s: %w", h[tcpros.KeyCallerID], err)
	}
	_ = c.SetDeadline(time.Time{})
	l.connected.Store(true)
	n.log.Debug("ros subscriber link up", "topic", s.topic, "publisher", h[tcpros.KeyCallerID])
	var buf []byte
	for {
		frame, err := tcpros.ReadFrame(c, buf, n.cfg.MaxMessageSize)
		if err != nil {
			return err
		}
		buf = frame[:0]
		l.bytes.Add(int64(len(frame)))
		m := s.typ.New()
		if err := m.Unmarshal(frame); err != nil {
			s.invalid.Add(1)
			l.dropped.Add(1)
			n.log.Warn("ros message dropped: does not decode", "topic", s.topic, "err", err)
			continue
		}
		select {
		case s.inbox <- m:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// Close unregisters the subscriber from the master (bounded by ctx), closes
// its publisher links and waits for its goroutines, including a running
// handler call. It is idempotent.
func (s *Subscriber) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	n := s.node
	n.mu.Lock()
	if n.subs[s.topic] == s {
		delete(n.subs, s.topic)
	}
	n.mu.Unlock()
	_, err := n.master.UnregisterSubscriber(ctx, s.topic, n.uri)
	s.cancel(ErrClosed)
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		return fmt.Errorf("ros: close subscriber of %s: %w", s.topic, context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("ros: unregister subscriber of %s: %w", s.topic, err)
	}
	return nil
}
