package ros

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/tcpros"
	"github.com/sintgate/sintgate/bridges/ros/xmlrpc"
	"github.com/sintgate/sintgate/codes"
)

// Defaults of NodeConfig.
const (
	DefaultQueueSize      = 64
	DefaultMaxMessageSize = tcpros.DefaultMaxFrameSize
	// handshakeTimeout bounds the TCPROS header exchange.
	handshakeTimeout = 10 * time.Second
	// writeTimeout bounds one frame write to a subscriber; a subscriber that
	// stops reading for this long is disconnected.
	writeTimeout = 10 * time.Second
	// peerCallTimeout bounds background XML-RPC calls (requestTopic,
	// unregistering on a master-requested shutdown).
	peerCallTimeout = 5 * time.Second
)

// NodeConfig configures a Node.
type NodeConfig struct {
	// Name is the node's graph name; a leading "/" is added if missing.
	Name string
	// MasterURI is the master's XML-RPC URI, e.g. http://127.0.0.1:11311/.
	MasterURI string
	// Host is the address the node listens on and advertises in its URIs
	// (ROS_HOSTNAME/ROS_IP). Default "127.0.0.1".
	Host string
	// QueueSize is the number of outgoing messages buffered per subscriber
	// connection (oldest dropped first, as roscpp does) and of incoming
	// messages buffered per Subscriber before the handler. Default 64.
	QueueSize int
	// MaxMessageSize bounds one incoming message frame, in bytes. Default
	// tcpros.DefaultMaxFrameSize.
	MaxMessageSize int
	// Logger receives connection events; default slog.Default().
	Logger *slog.Logger
}

// Node is a ROS 1 node. Create it with NewNode; all methods are safe for
// concurrent use.
type Node struct {
	cfg    NodeConfig
	name   string
	uri    string
	master *Master
	log    *slog.Logger

	httpSrv  *http.Server
	httpLn   net.Listener
	tcpLn    net.Listener
	tcpHost  string
	tcpPort  int
	ctx      context.Context // node lifetime
	cancel   context.CancelCauseFunc
	wg       sync.WaitGroup
	nextConn atomic.Int64
	gmu      sync.Mutex // orders goroutine starts before the final wg.Wait
	stopping bool

	mu     sync.Mutex
	pubs   map[string]*Publisher
	subs   map[string]*Subscriber
	closed bool

	closeOnce sync.Once
	closeErr  error
	done      chan struct{}
}

// ErrClosed is returned by operations on a closed node, publisher or
// subscriber.
var ErrClosed = errors.New("ros: closed")

// NewNode starts a node's slave API and TCPROS listeners on cfg.Host and
// checks that the master answers. The node registers nothing until
// Publisher or Subscribe is called.
func NewNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	name, err := resolveName(cfg.Name)
	if err != nil {
		return nil, err
	}
	if cfg.MasterURI == "" {
		return nil, errors.New("ros: NodeConfig.MasterURI is empty")
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	n := &Node{
		cfg: cfg, name: name, log: log.With("node", name),
		pubs: map[string]*Publisher{}, subs: map[string]*Subscriber{},
		done: make(chan struct{}),
	}
	n.master = NewMaster(cfg.MasterURI, name)
	if _, err := n.master.GetURI(ctx); err != nil {
		return nil, fmt.Errorf("ros: master %s unreachable: %w", cfg.MasterURI, err)
	}
	var lc net.ListenConfig
	if n.httpLn, err = lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.Host, "0")); err != nil {
		return nil, fmt.Errorf("ros: slave API listener: %w", err)
	}
	if n.tcpLn, err = lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.Host, "0")); err != nil {
		n.httpLn.Close()
		return nil, fmt.Errorf("ros: TCPROS listener: %w", err)
	}
	n.tcpHost = cfg.Host
	n.tcpPort = n.tcpLn.Addr().(*net.TCPAddr).Port
	n.uri = "http://" + net.JoinHostPort(cfg.Host, strconv.Itoa(n.httpLn.Addr().(*net.TCPAddr).Port)) + "/"
	n.ctx, n.cancel = context.WithCancelCause(context.Background())
	n.httpSrv = &http.Server{
		Handler:           xmlrpc.Handler(n.serveSlave),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return n.ctx },
	}
	n.wg.Add(2)
	go func() { defer n.wg.Done(); _ = n.httpSrv.Serve(n.httpLn) }()
	go func() { defer n.wg.Done(); n.acceptTCPROS() }()
	n.log.Debug("ros node up", "uri", n.uri, "tcpros", n.tcpLn.Addr().String())
	return n, nil
}

// Name returns the node's resolved graph name ("/sint_bridge").
func (n *Node) Name() string { return n.name }

// URI returns the node's slave API URI.
func (n *Node) URI() string { return n.uri }

// Master returns the node's master API client.
func (n *Node) Master() *Master { return n.master }

// Done is closed when the node has shut down, by Close or because the
// master (or anyone) called the slave API's shutdown method.
func (n *Node) Done() <-chan struct{} { return n.done }

// resolveName turns a node or topic name into a global graph name. Private
// names (~) are not supported.
func resolveName(name string) (string, error) {
	if name == "" {
		return "", errors.New("ros: empty name")
	}
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	for i, r := range name {
		ok := r == '/' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 1 && r >= '0' && r <= '9')
		if !ok || strings.Contains(name, "//") {
			return "", fmt.Errorf("ros: invalid graph name %q", name)
		}
	}
	if name == "/" || strings.HasSuffix(name, "/") {
		return "", fmt.Errorf("ros: invalid graph name %q", name)
	}
	return name, nil
}

// Close unregisters every publisher and subscriber from the master (bounded
// by ctx), stops the listeners, closes every connection and waits for the
// node's goroutines. It is idempotent; later calls return the first result.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() { n.closeErr = n.close(ctx) })
	return n.closeErr
}

func (n *Node) close(ctx context.Context) error {
	n.mu.Lock()
	n.closed = true
	pubs := make([]*Publisher, 0, len(n.pubs))
	for _, p := range n.pubs {
		pubs = append(pubs, p)
	}
	subs := make([]*Subscriber, 0, len(n.subs))
	for _, s := range n.subs {
		subs = append(subs, s)
	}
	n.mu.Unlock()
	var errs []error
	for _, p := range pubs {
		errs = append(errs, p.Close(ctx))
	}
	for _, s := range subs {
		errs = append(errs, s.Close(ctx))
	}
	n.cancel(ErrClosed)
	errs = append(errs, n.tcpLn.Close())
	if err := n.httpSrv.Shutdown(ctx); err != nil {
		errs = append(errs, err)
		_ = n.httpSrv.Close()
	}
	n.gmu.Lock()
	n.stopping = true
	n.gmu.Unlock()
	waited := make(chan struct{})
	go func() { n.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("ros: close: goroutines still running: %w", context.Cause(ctx)))
	}
	close(n.done)
	var kept []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, net.ErrClosed) {
			kept = append(kept, e)
		}
	}
	return errors.Join(kept...)
}

// go runs fn on a node goroutine that Close waits for. It reports false
// (and does not run fn) once the node is closing.
func (n *Node) goroutine(fn func()) bool {
	n.gmu.Lock()
	defer n.gmu.Unlock()
	if n.stopping {
		return false
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); fn() }()
	return true
}

// serveSlave implements the slave API.
func (n *Node) serveSlave(_ context.Context, method string, params []any) (any, error) {
	ok := func(msg string, v any) []any { return []any{1, msg, v} }
	str := func(i int) string {
		if i < len(params) {
			s, _ := params[i].(string)
			return s
		}
		return ""
	}
	switch method {
	case "getMasterUri":
		return ok("", n.master.URI()), nil
	case "getPid":
		return ok("", os.Getpid()), nil
	case "getPublications":
		return ok("publications", n.topicList(true)), nil
	case "getSubscriptions":
		return ok("subscriptions", n.topicList(false)), nil
	case "getBusStats":
		return ok("bus stats", n.busStats()), nil
	case "getBusInfo":
		return ok("bus info", n.busInfo()), nil
	case "paramUpdate":
		return ok("parameter updates are ignored", 0), nil
	case "shutdown":
		n.log.Warn("ros node shutdown requested through the slave API", "caller", str(0), "reason", str(1))
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), peerCallTimeout)
			defer cancel()
			_ = n.Close(ctx)
		}()
		return ok("shutdown", 0), nil
	case "publisherUpdate":
		if len(params) < 3 {
			return []any{-1, "publisherUpdate wants caller_id, topic, publishers", 0}, nil
		}
		uris, err := stringList("publisherUpdate", params[2])
		if err != nil {
			return []any{-1, err.Error(), 0}, nil
		}
		n.mu.Lock()
		s := n.subs[str(1)]
		n.mu.Unlock()
		if s == nil {
			return ok("not subscribed to "+str(1), 0), nil
		}
		s.setPublishers(uris, true)
		return ok("publisher update", 0), nil
	case "requestTopic":
		topic := str(1)
		n.mu.Lock()
		p := n.pubs[topic]
		n.mu.Unlock()
		if p == nil {
			return []any{-1, "not a publisher of " + topic, []any{}}, nil
		}
		var protos []any
		if len(params) >= 3 {
			protos, _ = params[2].([]any)
		}
		for _, pr := range protos {
			if l, _ := pr.([]any); len(l) > 0 && l[0] == "TCPROS" {
				return ok("ready on "+n.tcpLn.Addr().String(), []any{"TCPROS", n.tcpHost, n.tcpPort}), nil
			}
		}
		return []any{0, "no supported protocol (only TCPROS)", []any{}}, nil
	}
	return nil, &xmlrpc.Fault{Code: -32601, String: "method " + method + " not supported"}
}

func (n *Node) topicList(pubs bool) []any {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := []any{}
	if pubs {
		for t, p := range n.pubs {
			out = append(out, []any{t, p.typ.Name})
		}
	} else {
		for t, s := range n.subs {
			out = append(out, []any{t, s.typ.Name})
		}
	}
	return out
}

func (n *Node) snapshot() ([]*Publisher, []*Subscriber) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ps []*Publisher
	for _, p := range n.pubs {
		ps = append(ps, p)
	}
	var ss []*Subscriber
	for _, s := range n.subs {
		ss = append(ss, s)
	}
	return ps, ss
}

func (n *Node) busStats() []any {
	ps, ss := n.snapshot()
	pubStats, subStats := []any{}, []any{}
	for _, p := range ps {
		var conns []any
		for _, c := range p.connections() {
			conns = append(conns, []any{c.id, c.bytes.Load(), c.msgs.Load(), true})
		}
		pubStats = append(pubStats, []any{p.topic, p.bytes.Load(), append([]any{}, conns...)})
	}
	for _, s := range ss {
		var conns []any
		for _, l := range s.links() {
			conns = append(conns, []any{l.id, l.bytes.Load(), l.dropped.Load(), l.connected.Load()})
		}
		subStats = append(subStats, []any{s.topic, append([]any{}, conns...)})
	}
	return []any{pubStats, subStats, []any{}}
}

func (n *Node) busInfo() []any {
	ps, ss := n.snapshot()
	out := []any{}
	for _, p := range ps {
		for _, c := range p.connections() {
			out = append(out, []any{c.id, c.peer, "o", "TCPROS", p.topic, true, c.remote})
		}
	}
	for _, s := range ss {
		for _, l := range s.links() {
			out = append(out, []any{l.id, l.uri, "i", "TCPROS", s.topic, l.connected.Load(), ""})
		}
	}
	return out
}

// acceptTCPROS accepts subscriber connections until the listener closes.
func (n *Node) acceptTCPROS() {
	for {
		c, err := n.tcpLn.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				n.log.Error("ros TCPROS accept", "err", err)
			}
			return
		}
		if !n.goroutine(func() { n.handshake(c) }) {
			c.Close()
			return
		}
	}
}

// handshake reads a subscriber's connection header, checks it against the
// publisher of the topic and hands the connection over to it.
func (n *Node) handshake(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	h, err := tcpros.ReadHeader(c)
	if err != nil {
		n.log.Warn("ros TCPROS bad connection header", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	refuse := func(msg string) {
		n.log.Warn("ros TCPROS subscriber refused", "remote", c.RemoteAddr().String(), "caller", h[tcpros.KeyCallerID], "reason", msg)
		_ = tcpros.WriteHeader(c, tcpros.Header{tcpros.KeyError: msg})
		c.Close()
	}
	if h[tcpros.KeyService] != "" {
		refuse("services are not supported")
		return
	}
	n.mu.Lock()
	p := n.pubs[h[tcpros.KeyTopic]]
	n.mu.Unlock()
	if p == nil {
		refuse("not a publisher of " + h[tcpros.KeyTopic])
		return
	}
	if err := checkPeerType(p.typ, h); err != nil {
		refuse(err.Error())
		return
	}
	resp := tcpros.Header{
		tcpros.KeyCallerID: n.name, tcpros.KeyTopic: p.topic, tcpros.KeyType: p.typ.Name,
		tcpros.KeyMD5: p.typ.MD5, tcpros.KeyMessageDefinition: p.typ.Definition,
		tcpros.KeyLatching: boolString(p.latching()),
	}
	if err := tcpros.WriteHeader(c, resp); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if h[tcpros.KeyProbe] == "1" {
		c.Close()
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(h[tcpros.KeyTCPNoDelay] != "0")
	}
	p.addConn(c, h[tcpros.KeyCallerID])
}

// checkPeerType checks the type and md5sum a peer announced against ours.
// "*" is the ROS wildcard (rostopic uses it before it knows the type).
func checkPeerType(t msgs.Type, h tcpros.Header) error {
	md5, ok := h[tcpros.KeyMD5]
	if !ok {
		return codes.New(codes.MalformedRequest, "missing md5sum")
	}
	if md5 != "*" && md5 != t.MD5 {
		return codes.New(codes.MalformedRequest, fmt.Sprintf("md5sum mismatch: %s/%s vs. %s/%s", h[tcpros.KeyType], md5, t.Name, t.MD5))
	}
	if typ := h[tcpros.KeyType]; typ != "" && typ != "*" && typ != t.Name {
		return codes.New(codes.MalformedRequest, fmt.Sprintf("type mismatch: %s vs. %s", typ, t.Name))
	}
	return nil
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
