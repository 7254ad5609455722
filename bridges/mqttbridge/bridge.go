package mqttbridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

// The gateway-facing interfaces and the e-stop reader are shared by every
// bridge (package bridges): *client.Agent is a Decider, *attest.JWKSCache an
// AttestationVerifier, OperatorEstop an EstopReader.
type (
	Decider             = bridges.Decider
	AttestationVerifier = bridges.AttestationVerifier
	EstopReader         = bridges.EstopReader
	OperatorEstop       = bridges.OperatorEstop
)

// Defaults of Config.
const (
	DefaultPollInterval   = rosbridge.DefaultPollInterval
	DefaultCallTimeout    = rosbridge.DefaultCallTimeout
	DefaultMaxHold        = rosbridge.DefaultMaxHold
	DefaultReconnectDelay = time.Second
	DefaultKeepAlive      = 10 // seconds
)

// Config configures a Bridge. Broker, BrokerName, Gateway, Verifier, Routes
// and one of TokenID/Token are required.
type Config struct {
	Broker     string // broker URL: mqtt://host:port, tls://host:port, ws://…
	BrokerName string // the broker's name in resources: mqtt://<BrokerName>/<device topic>
	ClientID   string // MQTT client id; default sint-mqttbridge-<random>
	Username   string
	Password   []byte

	Gateway  Decider
	Verifier AttestationVerifier
	Estop    EstopReader // optional: nil means no e-stop poll
	Routes   []Route

	TokenID string   // registered capability token id, or
	Token   string   // the token's compact JWS
	Chain   []string // ancestors' JWS for an unregistered delegated Token

	Issuer         string        // optional: the gateway id attestations must name
	ReportTopic    string        // default ReportTopic
	PollInterval   time.Duration // e-stop poll period; default DefaultPollInterval
	CallTimeout    time.Duration // per intercept, poll and broker publish; default DefaultCallTimeout
	MaxHold        time.Duration // longest wait for an approval; default DefaultMaxHold
	ReconnectDelay time.Duration // between broker connection attempts; default DefaultReconnectDelay
	KeepAlive      uint16        // MQTT keep-alive, seconds; default DefaultKeepAlive
	Now            func() time.Time
	Log            *slog.Logger
}

// Stats are the bridge's counters.
type Stats struct {
	Forwarded, Denied, Escalated, Dropped, SafeStops, Coalesced int64
	Clamped                                                     int64 // forwarded with mapped values scaled to the envelope
}

// Bridge forwards attested messages from agent topics to device topics.
// Create it with New, run it with Run. Its methods are safe for concurrent
// use.
type Bridge struct {
	cfg    Config
	routes []*route
	byName map[string]*route // agent topic → route

	ctx context.Context // Run's context; handlers use it
	cm  *autopaho.ConnectionManager

	// cmu guards the broker connection state. It is never held while
	// publishing, so the connection callbacks never wait on the broker.
	cmu    sync.Mutex
	connID uint64 // bumped by every connection up
	up     bool   // connected and subscribed
	// owed: a broker connection was lost (or a safe stop failed), so the
	// next connection publishes the safe stops before forwarding anything.
	owed bool

	mu          sync.Mutex // orders device publishes against latching
	gen         uint64     // bumped by every latch and broker connection loss
	latched     bool
	latchReason string
	watch       bridges.EstopWatch // reads the e-stop polls

	// rmu guards queued: reports made while disconnected, published after
	// the next connection's safe stops (at most MaxQueuedReports; older
	// ones are only in the log).
	rmu    sync.Mutex
	queued []Report

	forwarded, denied, escalated, dropped, safeStops, coalesced atomic.Int64
	clamped                                                     atomic.Int64

	// tasks tracks every goroutine the bridge starts (route workers, held
	// escalations, connection setup, report flushes, the connection-loss
	// latch): Run waits for all of them before it returns.
	tmu     sync.Mutex
	tclosed bool
	tasks   sync.WaitGroup
}

// spawn runs f in a goroutine Run waits for. Once Run is finishing it
// starts nothing and reports false.
func (b *Bridge) spawn(f func()) bool {
	b.tmu.Lock()
	defer b.tmu.Unlock()
	if b.tclosed {
		return false
	}
	b.tasks.Add(1) // never from zero while waitTasks waits: closed first
	go func() {
		defer b.tasks.Done()
		f()
	}()
	return true
}

// waitTasks stops spawn and waits for every goroutine it started.
func (b *Bridge) waitTasks() {
	b.tmu.Lock()
	b.tclosed = true
	b.tmu.Unlock()
	b.tasks.Wait()
}

// MaxQueuedReports bounds the reports kept while the broker is unreachable.
const MaxQueuedReports = 1024

// MaxPacketSize is the Maximum Packet Size the bridge advertises in CONNECT:
// room for a MaxPayloadBytes payload and its topic and properties. The broker
// does not send the bridge a larger packet (MQTT 5 §3.1.2.11.4): an oversized
// command is discarded by the broker instead of being read into memory and
// refused here.
const MaxPacketSize = 64 << 10

type route struct {
	Route
	resource string

	hmu     sync.Mutex
	seq     uint64             // bumped by every message handled on the route
	held    context.CancelFunc // the held escalation's wait, if any
	heldReq string

	mmu     sync.Mutex // guards pending, replaced and retained
	pending *message
	// Counted here, reported by the worker: the receive path never starts
	// a goroutine or publishes, however fast messages arrive.
	replaced int           // messages coalesced since the worker last took
	retained int           // retained messages refused since then
	wake     chan struct{} // capacity 1: the mailbox changed
}

// message is an agent message waiting in a route's mailbox: its payload and
// the broker connection it arrived on. The connection is taken at reception,
// not when the worker gets to the message, so that a message received
// before a broker outage is never actuated on the connection after it.
type message struct {
	payload []byte
	conn    uint64
}

// offer puts a message in the route's one-slot mailbox and reports whether
// it replaced a message not yet handled.
func (r *route) offer(m *message) (replaced bool) {
	r.mmu.Lock()
	replaced = r.pending != nil
	if replaced {
		r.replaced++
	}
	r.pending = m
	r.mmu.Unlock()
	r.notify()
	return replaced
}

// refuseRetained counts a retained message for the worker to report.
func (r *route) refuseRetained() {
	r.mmu.Lock()
	r.retained++
	r.mmu.Unlock()
	r.notify()
}

func (r *route) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take empties the mailbox: the newest message (nil if none) and the
// messages coalesced and retained messages refused since the last take.
func (r *route) take() (m *message, replaced, retained int) {
	r.mmu.Lock()
	defer r.mmu.Unlock()
	m, replaced, retained = r.pending, r.replaced, r.retained
	r.pending, r.replaced, r.retained = nil, 0, 0
	return m, replaced, retained
}

// New checks cfg and returns the bridge. Nothing is connected before Run.
func New(cfg Config) (*Bridge, error) {
	switch {
	case cfg.Gateway == nil || cfg.Verifier == nil:
		return nil, errors.New("mqttbridge: Gateway and Verifier are required")
	case cfg.Broker == "":
		return nil, errors.New("mqttbridge: Broker is required")
	case len(cfg.Routes) == 0:
		return nil, errors.New("mqttbridge: no routes")
	case (cfg.TokenID == "") == (cfg.Token == ""):
		return nil, errors.New("mqttbridge: set exactly one of TokenID and Token")
	}
	if _, err := url.Parse(cfg.Broker); err != nil {
		return nil, fmt.Errorf("mqttbridge: broker URL: %w", err)
	}
	if err := CheckBrokerName(cfg.BrokerName); err != nil {
		return nil, fmt.Errorf("mqttbridge: %w", err)
	}
	if cfg.ReportTopic == "" {
		cfg.ReportTopic = ReportTopic
	}
	if err := checkTopic(cfg.ReportTopic); err != nil {
		return nil, fmt.Errorf("mqttbridge: report topic: %w", err)
	}
	if cfg.ClientID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.ClientID = "sint-mqttbridge-" + hex.EncodeToString(b[:])
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxHold <= 0 {
		cfg.MaxHold = DefaultMaxHold
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = DefaultReconnectDelay
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{cfg: cfg, byName: map[string]*route{}}
	devices := map[string]bool{}
	for _, r := range cfg.Routes {
		if err := checkTopic(r.Agent); err != nil {
			return nil, fmt.Errorf("mqttbridge: route agent topic: %w", err)
		}
		if err := checkTopic(r.Device); err != nil {
			return nil, fmt.Errorf("mqttbridge: route device topic: %w", err)
		}
		if b.byName[r.Agent] != nil {
			return nil, fmt.Errorf("mqttbridge: two routes from agent topic %s", r.Agent)
		}
		if devices[r.Device] {
			// Two routes to one device would have two latest messages and
			// two held escalations racing for one actuator.
			return nil, fmt.Errorf("mqttbridge: two routes to device topic %s", r.Device)
		}
		if r.SafeStop != nil {
			if _, err := ParsePayload(r.SafeStop); err != nil {
				return nil, fmt.Errorf("mqttbridge: route %s safe stop: %w", r.Device, err)
			}
		}
		if err := checkPhysical(r); err != nil {
			return nil, fmt.Errorf("mqttbridge: %w", err)
		}
		devices[r.Device] = true
		rt := &route{Route: r, resource: r.Resource(cfg.BrokerName), wake: make(chan struct{}, 1)}
		if len(rt.resource) > 512 {
			return nil, fmt.Errorf("mqttbridge: resource %s over 512 bytes", rt.resource)
		}
		b.routes = append(b.routes, rt)
		b.byName[r.Agent] = rt
	}
	for _, r := range b.routes {
		if b.byName[r.Device] != nil || r.Device == cfg.ReportTopic || r.Agent == cfg.ReportTopic {
			return nil, fmt.Errorf("mqttbridge: topic %s is both an input and an output", r.Device)
		}
	}
	return b, nil
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{b.forwarded.Load(), b.denied.Load(), b.escalated.Load(), b.dropped.Load(), b.safeStops.Load(), b.coalesced.Load(),
		b.clamped.Load()}
}

// Latched reports whether the bridge is stopped, and why.
func (b *Bridge) Latched() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latched, b.latchReason
}

// Connected reports whether the bridge is connected to the broker and
// subscribed to every agent topic.
func (b *Bridge) Connected() bool {
	b.cmu.Lock()
	defer b.cmu.Unlock()
	return b.up
}

// WaitConnected waits until Connected or ctx ends.
func (b *Bridge) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !b.Connected() {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
	return nil
}

// Run connects to the broker (reconnecting until ctx ends), subscribes to
// the agent topics and forwards. It first polls the e-stop once (if
// configured) so that a tripped or unreachable gateway latches the bridge
// before any message. On return the bridge latches (publishing the safe
// stops if the broker is still connected), waits for every goroutine it
// started and disconnects.
func (b *Bridge) Run(ctx context.Context) error {
	if b.ctx != nil {
		return errors.New("mqttbridge: Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	b.ctx = ctx
	var cm *autopaho.ConnectionManager
	// One deferred function, in this order: stop every goroutine (they all
	// end on ctx or within CallTimeout), then disconnect. Cancelling first
	// is what lets the workers end whatever made Run return.
	defer func() {
		cancel()
		b.waitTasks()
		if cm != nil {
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.CallTimeout)
			_ = cm.Disconnect(dctx)
			dcancel()
		}
		b.cmu.Lock()
		b.up = false
		b.cmu.Unlock()
	}()
	u, _ := url.Parse(b.cfg.Broker)
	if b.cfg.Estop != nil {
		b.poll(ctx)
	}
	for _, r := range b.routes {
		b.spawn(func() { b.work(ctx, r) })
	}
	pcfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     b.cfg.KeepAlive,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         0,
		ReconnectBackoff:              autopaho.NewConstantBackoff(b.cfg.ReconnectDelay),
		ConnectTimeout:                b.cfg.CallTimeout,
		ConnectUsername:               b.cfg.Username,
		ConnectPassword:               b.cfg.Password,
		// Every connection starts clean: nothing the broker or the client
		// kept from before an outage (queued agent messages, unacknowledged
		// device publishes) is delivered after it.
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			c.CleanStart = true
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			maxPacket := uint32(MaxPacketSize)
			c.Properties.MaximumPacketSize = &maxPacket
			return c, nil
		},
		OnConnectionUp:   func(cm *autopaho.ConnectionManager, _ *paho.Connack) { b.connectionUp(cm) },
		OnConnectionDown: func() bool { b.connectionDown(); return true },
		OnConnectError: func(err error) {
			b.cfg.Log.Warn("broker connect failed", "broker", b.cfg.Broker, "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID: b.cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) { b.received(pr.Packet); return true, nil },
			},
		},
	}
	// The connection outlives ctx until the deferred Disconnect, so that
	// the final safe stops still go out when Run's ctx is cancelled.
	cm, err := autopaho.NewConnection(context.WithoutCancel(ctx), pcfg)
	if err != nil {
		b.latch("broker connection manager failed")
		return fmt.Errorf("mqttbridge: %w", err)
	}
	b.cmu.Lock()
	b.cm = cm
	b.cmu.Unlock()
	var tick <-chan time.Time
	if b.cfg.Estop != nil {
		t := time.NewTicker(b.cfg.PollInterval)
		defer t.Stop()
		tick = t.C
		if s, ok := b.cfg.Estop.(bridges.EstopSubscriber); ok {
			b.spawn(func() { b.watch.Follow(ctx, s, b.apply, b.cfg.Log) })
		}
	}
	for {
		select {
		case <-ctx.Done():
			b.latch("bridge stopped")
			return nil
		case <-cm.Done():
			cancel() // nothing handled after this latch is actuated
			b.latch("broker connection manager stopped")
			return errors.New("mqttbridge: broker connection manager stopped")
		case <-tick:
			b.poll(ctx)
		}
	}
}

// connectionUp runs in autopaho's goroutine and must not block: the
// subscription and the owed safe stops go out in their own goroutine.
func (b *Bridge) connectionUp(cm *autopaho.ConnectionManager) {
	b.cmu.Lock()
	b.cm = cm // the first connection can come up before NewConnection returns
	b.connID++
	id := b.connID
	b.cmu.Unlock()
	b.spawn(func() { b.setup(cm, id) })
}

// setup subscribes connection id to the agent topics, publishes the safe
// stops owed since a connection loss, and only then lets messages through.
func (b *Bridge) setup(cm *autopaho.ConnectionManager, id uint64) {
	ctx, cancel := context.WithTimeout(b.ctx, b.cfg.CallTimeout)
	defer cancel()
	sub := &paho.Subscribe{}
	for _, r := range b.routes {
		// Retained messages are never sent to the bridge (RetainHandling
		// 2): a command left on the broker is not a command now.
		sub.Subscriptions = append(sub.Subscriptions, paho.SubscribeOptions{Topic: r.Agent, QoS: 1, RetainHandling: 2, NoLocal: true})
	}
	ack, err := cm.Subscribe(ctx, sub)
	if err == nil {
		for i, rc := range ack.Reasons {
			if rc >= 0x80 {
				err = fmt.Errorf("subscribe %s refused: reason code %#x", sub.Subscriptions[i].Topic, rc)
				break
			}
		}
	}
	if err != nil {
		// Not subscribed: nothing can arrive, which is safe; drop the
		// connection so autopaho reconnects and we try again.
		b.cfg.Log.Error("subscribe failed; reconnecting", "err", err)
		cm.TerminateConnectionForTest()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cmu.Lock()
	current := b.connID == id
	b.cmu.Unlock()
	if !current {
		return
	}
	b.cmu.Lock()
	owed := b.owed
	b.cmu.Unlock()
	if owed {
		if b.publishSafeStops() {
			b.cmu.Lock()
			b.owed = false
			b.cmu.Unlock()
			b.safeStops.Add(1)
			b.cfg.Log.Warn("broker connected: owed safe stop published before forwarding")
		} else {
			b.cfg.Log.Error("broker connected but the owed safe stop failed; reconnecting")
			cm.TerminateConnectionForTest()
			return
		}
	}
	b.cmu.Lock()
	b.up = b.connID == id
	b.cmu.Unlock()
	b.cfg.Log.Info("broker connected and subscribed", "broker", b.cfg.Broker, "routes", len(b.routes))
	b.rmu.Lock()
	queued := b.queued
	b.queued = nil
	b.rmu.Unlock()
	b.spawn(func() { b.flush(queued) })
}

// flush publishes reports queued while disconnected, in order.
func (b *Bridge) flush(reports []Report) {
	for _, r := range reports {
		b.send(r)
	}
}

// connectionDown: nothing is actuated until the next connection is set up;
// allows in flight are dropped, held escalations cancelled, and the safe
// stops are owed to the next connection.
//
// Both flags are set here, synchronously, so they hold before the next
// connection's setup whatever the goroutine scheduling; an allow whose
// intercept was sent on an older connection is dropped by its stamp.
func (b *Bridge) connectionDown() {
	b.cmu.Lock()
	b.up, b.owed = false, true
	b.cmu.Unlock()
	b.spawn(func() { b.latch("broker connection lost") })
}

func (b *Bridge) connected() bool {
	b.cmu.Lock()
	defer b.cmu.Unlock()
	return b.up
}

// received runs in paho's receive path and must not block: it only puts
// the payload in the route's mailbox.
func (b *Bridge) received(p *paho.Publish) {
	r := b.byName[p.Topic]
	if r == nil {
		return
	}
	if p.Retain {
		b.dropped.Add(1)
		r.refuseRetained()
		return
	}
	payload := p.Payload
	if payload == nil {
		payload = []byte{} // an empty payload is still a message (and refused)
	}
	b.cmu.Lock()
	conn := b.connID
	b.cmu.Unlock()
	if r.offer(&message{payload: payload, conn: conn}) {
		b.coalesced.Add(1)
	}
}

// work handles the newest message of the route's mailbox until ctx ends.
func (b *Bridge) work(ctx context.Context, r *route) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		}
		m, replaced, retained := r.take()
		if retained > 0 {
			b.report(Report{Outcome: OutcomeDropped, Topic: r.Agent, Resource: r.resource, Code: string(codes.MalformedRequest),
				Reason: fmt.Sprintf("%d retained message(s): not a current command", retained)})
		}
		if replaced > 0 {
			b.report(Report{Outcome: OutcomeCoalesced, Topic: r.Agent, Resource: r.resource,
				Reason: fmt.Sprintf("%d message(s) replaced by a newer one before being sent to the gateway", replaced)})
		}
		if m != nil {
			b.handle(r, m)
		}
	}
}

// poll reads the e-stop state once and latches or unlatches.
func (b *Bridge) poll(ctx context.Context) {
	b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
}

// apply carries out what the e-stop watch asks (a poll or a pushed trip).
func (b *Bridge) apply(a bridges.PollAction) {
	if a.Latch != "" {
		b.latch(a.Latch)
	}
	if a.Unlatch {
		b.unlatch("e-stop armed")
	}
}

// publishSafeStops publishes every route's safe stop; b.mu must be held.
// It reports whether all of them reached the broker.
func (b *Bridge) publishSafeStops() bool {
	ok := true
	for _, r := range b.routes {
		if r.SafeStop == nil {
			continue
		}
		if err := b.publish(r.Device, r.SafeStop); err != nil {
			ok = false
			b.cfg.Log.Error("safe stop publish failed", "topic", r.Device, "err", err)
		}
	}
	return ok
}

// publish sends payload to topic with QoS 1 and waits for the broker's
// PUBACK (at most CallTimeout).
func (b *Bridge) publish(topic string, payload []byte) error {
	b.cmu.Lock()
	cm := b.cm
	b.cmu.Unlock()
	if cm == nil {
		return errors.New("not connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.CallTimeout)
	defer cancel()
	resp, err := cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload})
	if err != nil {
		return err
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		return fmt.Errorf("broker refused the publish: reason code %#x", resp.ReasonCode)
	}
	return nil
}

// latch stops the bridge: it invalidates every allow in flight, cancels held
// escalations and publishes every route's safe stop (once per latch).
func (b *Bridge) latch(reason string) {
	b.mu.Lock()
	b.gen++
	if b.latched {
		b.mu.Unlock()
		// Already stopped, but the generation moved: a hold registered
		// since the first latch could never be actuated now.
		b.cancelHolds(reason)
		return
	}
	b.latched, b.latchReason = true, reason
	sent := b.publishSafeStops()
	if !sent {
		b.cmu.Lock()
		b.owed = true // the next connection publishes them first
		b.cmu.Unlock()
	}
	b.safeStops.Add(1)
	b.mu.Unlock()
	b.cancelHolds(reason)
	if sent {
		b.cfg.Log.Warn("bridge latched: safe stop published", "reason", reason)
	} else {
		b.cfg.Log.Warn("bridge latched: safe stop owed to the next broker connection", "reason", reason)
	}
	b.report(Report{Outcome: OutcomeSafeStop, Reason: reason})
}

// cancelHolds ends every route's held escalation after a latch.
func (b *Bridge) cancelHolds(reason string) {
	for _, r := range b.routes {
		if old := r.supersede(0); old != "" {
			b.drop(r, old, codes.ApprovalCancelled, "held escalation cancelled: bridge latched ("+reason+")")
		}
	}
}

// unlatch clears the latch.
func (b *Bridge) unlatch(reason string) {
	b.mu.Lock()
	was := b.latched
	b.latched, b.latchReason = false, ""
	b.mu.Unlock()
	if was {
		b.cfg.Log.Info("bridge resumed", "reason", reason)
		b.report(Report{Outcome: OutcomeResumed, Reason: reason})
	}
}

// stamp is when an intercept was sent: the latch generation, the broker
// connection the message arrived on and the route's message sequence. An
// allow is actuated only if all three are still current.
type stamp struct{ gen, conn, seq uint64 }

// stampNow returns the stamp of a message received on broker connection
// conn: the current latch generation, conn and seq.
func (b *Bridge) stampNow(conn, seq uint64) stamp {
	b.mu.Lock()
	defer b.mu.Unlock()
	return stamp{gen: b.gen, conn: conn, seq: seq}
}

// supersede cancels the route's held escalation (returning its request id)
// and, if next is non-zero, records next as the route's newest message.
func (r *route) supersede(next uint64) (cancelled string) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if next != 0 {
		r.seq = next
	}
	if r.held != nil {
		r.held()
		r.held = nil
		cancelled = r.heldReq
	}
	return cancelled
}

// report publishes r on the report topic (QoS 1) and logs it. A report
// that cannot be published is still in the log.
func (b *Bridge) report(r Report) {
	r.AtMs = b.cfg.Now().UnixMilli()
	b.cfg.Log.Info("report", "outcome", r.Outcome, "topic", r.Topic, "resource", r.Resource, "requestId", r.RequestID,
		"code", r.Code, "reason", r.Reason, "approvalId", r.ApprovalID)
	b.rmu.Lock()
	if !b.connected() {
		if len(b.queued) == MaxQueuedReports {
			b.queued = b.queued[1:]
		}
		b.queued = append(b.queued, r)
		b.rmu.Unlock()
		return
	}
	b.rmu.Unlock()
	b.send(r)
}

// send publishes one report.
func (b *Bridge) send(r Report) {
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	if err := b.publish(b.cfg.ReportTopic, data); err != nil {
		b.cfg.Log.Warn("report publish failed", "err", err)
	}
}

// handle turns one agent message into an intercept. It runs on the route's
// worker goroutine, so messages of one route are handled in order.
func (b *Bridge) handle(r *route, m *message) {
	ctx, payload := b.ctx, m.payload
	r.hmu.Lock()
	seq := r.seq + 1
	r.hmu.Unlock()
	if old := r.supersede(seq); old != "" {
		b.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.resource, RequestID: old, Reason: "a newer message arrived"})
	}
	params, err := ParsePayload(payload)
	if err != nil {
		b.drop(r, "", codes.MalformedRequest, err.Error())
		return
	}
	rid, err := uuid.NewV7()
	if err != nil {
		b.drop(r, "", codes.InternalError, err.Error())
		return
	}
	st := b.stampNow(m.conn, seq)
	req := api.InterceptRequest{
		RequestID: rid.String(), TokenID: b.cfg.TokenID, Token: b.cfg.Token, Chain: b.cfg.Chain,
		Resource: r.resource, Action: "publish", Params: params,
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	d, status, err := b.cfg.Gateway.Intercept(cctx, req)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			b.drop(r, req.RequestID, codes.Code(apiErr.Code), apiErr.Message)
			return
		}
		// Latch first: the safe stop goes out before anything else, and
		// a report reader that sees this drop sees the latch's report first.
		b.latch(fmt.Sprintf("gateway unreachable (status %d): %v", status, err))
		b.drop(r, req.RequestID, codes.InternalError, "gateway unreachable")
		return
	}
	if d == nil { // a broken Decider: as good as an unreachable gateway
		b.latch(fmt.Sprintf("gateway returned no decision (status %d)", status))
		b.drop(r, req.RequestID, codes.InternalError, "gateway returned no decision")
		return
	}
	b.decided(ctx, r, req, d, st)
}

// decided acts on a decision for req (directly or after an approval wait).
func (b *Bridge) decided(ctx context.Context, r *route, req api.InterceptRequest, d *api.Decision, st stamp) {
	if d == nil { // callers check; never actuate on nothing
		b.drop(r, req.RequestID, codes.InternalError, "no decision")
		return
	}
	switch d.Decision {
	case "allow":
		b.actuate(ctx, r, req, d, st)
	case "escalate":
		if d.ApprovalID == nil {
			b.drop(r, req.RequestID, codes.InternalError, "escalate without approvalId")
			return
		}
		b.escalated.Add(1)
		b.hold(ctx, r, req, *d.ApprovalID, st)
	default: // deny, and anything unknown: fail closed
		code, reason := deref(d.Code), deref(d.Reason)
		if d.Decision != "deny" {
			code, reason = string(codes.InternalError), "unknown decision "+d.Decision
		}
		b.denied.Add(1)
		if code == string(codes.EstopEngaged) {
			b.latch("gateway denied ESTOP_ENGAGED") // before the report, as for an unreachable gateway
		}
		b.report(Report{Outcome: OutcomeDeny, Topic: r.Agent, Resource: r.resource, RequestID: req.RequestID, Code: code, Reason: reason})
	}
}

// hold waits for the approval of an escalated message in its own goroutine;
// a newer message on the route, a latch or Run's end cancel the wait.
func (b *Bridge) hold(ctx context.Context, r *route, req api.InterceptRequest, approvalID string, st stamp) {
	wctx, cancel := context.WithTimeout(ctx, b.cfg.MaxHold)
	// Registered under b.mu: a latch either comes after (and cancels the
	// hold) or came before (and the generation tells).
	b.mu.Lock()
	b.cmu.Lock()
	lostConn := b.connID != st.conn
	b.cmu.Unlock()
	latched := b.gen != st.gen
	r.hmu.Lock()
	superseded := r.seq != st.seq
	if !superseded && !latched && !lostConn {
		r.held, r.heldReq = cancel, req.RequestID
	}
	r.hmu.Unlock()
	b.mu.Unlock()
	switch {
	case superseded:
		cancel()
		b.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.resource, RequestID: req.RequestID, ApprovalID: approvalID, Reason: "a newer message arrived"})
		return
	case latched || lostConn:
		// Its approval could never be actuated (actuate checks the same
		// stamp): end it now rather than hold it for nothing.
		cancel()
		why := "bridge latched"
		if lostConn {
			why = "broker disconnected"
		}
		b.dropped.Add(1)
		b.report(Report{Outcome: OutcomeDropped, Topic: r.Agent, Resource: r.resource, RequestID: req.RequestID, ApprovalID: approvalID,
			Code: string(codes.ApprovalCancelled), Reason: "held escalation cancelled: " + why + " while it was sent to the gateway"})
		return
	}
	b.report(Report{Outcome: OutcomeEscalate, Topic: r.Agent, Resource: r.resource, RequestID: req.RequestID, ApprovalID: approvalID})
	started := b.spawn(func() {
		defer cancel()
		d, _, err := b.cfg.Gateway.AwaitApproval(wctx, approvalID)
		if wctx.Err() != nil {
			if ctx.Err() == nil && errors.Is(wctx.Err(), context.DeadlineExceeded) {
				r.hmu.Lock()
				if r.seq == st.seq {
					r.held = nil
				}
				r.hmu.Unlock()
				b.drop(r, req.RequestID, codes.ApprovalTimeout, "no approval within the bridge's MaxHold")
			}
			return // otherwise superseded, latched or stopped: already reported
		}
		r.hmu.Lock()
		current := r.seq == st.seq
		if current {
			r.held = nil
		}
		r.hmu.Unlock()
		if !current {
			return
		}
		if err != nil {
			b.drop(r, req.RequestID, codes.InternalError, "approval wait failed: "+err.Error())
			return
		}
		if d == nil {
			b.drop(r, req.RequestID, codes.InternalError, "approval wait returned no decision")
			return
		}
		if d.Decision == "escalate" {
			b.drop(r, req.RequestID, codes.InternalError, "approval wait ended while still pending")
			return
		}
		b.decided(ctx, r, req, d, st)
	})
	if !started { // Run is finishing: nothing is waited for any more
		cancel()
	}
}

// actuate verifies the attestation of an allow and publishes the payload
// on the device topic, unless the bridge latched or lost the broker since
// the intercept was sent, or a newer message superseded it.
func (b *Bridge) actuate(ctx context.Context, r *route, req api.InterceptRequest, d *api.Decision, st stamp) {
	if d.Attestation == nil {
		b.drop(r, req.RequestID, codes.InvalidSignature, "allow without attestation")
		return
	}
	ph, err := attest.ParamsHash(req.Params)
	if err != nil {
		b.drop(r, req.RequestID, codes.MalformedRequest, err.Error())
		return
	}
	want := attest.Expect{Issuer: b.cfg.Issuer, AgentID: b.cfg.Gateway.AgentID(), Resource: req.Resource, Action: req.Action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	claims, err := b.cfg.Verifier.Verify(cctx, *d.Attestation, b.cfg.Now(), want)
	cancel()
	if err != nil {
		b.drop(r, req.RequestID, attest.ReasonOf(err).Code(), "attestation: "+err.Error())
		return
	}
	if claims.JTI != req.RequestID {
		b.drop(r, req.RequestID, codes.InvalidSignature, "attestation is for request "+claims.JTI)
		return
	}
	// The mapped physical values are clamped to the attested envelope; a
	// payload that cannot be brought inside it is not published.
	payload, clamped, err := bridges.ClampPayload(r.Mappings, claims.Envelope, req.Params)
	if err != nil {
		b.drop(r, req.RequestID, codes.Of(err), "clamp to the attested envelope: "+err.Error())
		return
	}

	b.mu.Lock()
	if b.gen != st.gen {
		b.mu.Unlock()
		b.drop(r, req.RequestID, codes.EstopEngaged, "the bridge latched after this message was sent")
		return
	}
	b.cmu.Lock()
	up, sameConn := b.up, b.connID == st.conn
	b.cmu.Unlock()
	if !up || !sameConn {
		b.mu.Unlock()
		b.drop(r, req.RequestID, codes.InternalError, "broker disconnected since this message was received")
		return
	}
	r.hmu.Lock()
	stale := r.seq != st.seq
	r.hmu.Unlock()
	if stale {
		b.mu.Unlock()
		b.report(Report{Outcome: OutcomeSuperseded, Topic: r.Agent, Resource: r.resource, RequestID: req.RequestID, Reason: "a newer message arrived"})
		return
	}
	// An allow for an intercept sent while latched means the gateway's
	// breaker is armed again (it releases no allow while tripped).
	was := b.latched
	b.latched, b.latchReason = false, ""
	b.forwarded.Add(1) // count first, so a reader that saw the message sees the count
	if clamped {
		b.clamped.Add(1)
	}
	err = b.publish(r.Device, payload)
	if err != nil {
		b.forwarded.Add(-1)
		if clamped {
			b.clamped.Add(-1)
		}
	}
	b.mu.Unlock()
	if was {
		b.report(Report{Outcome: OutcomeResumed, Reason: "gateway allowed a message sent after the latch"})
	}
	if err != nil {
		b.drop(r, req.RequestID, codes.InternalError, "publish: "+err.Error())
	}
}

func (b *Bridge) drop(r *route, requestID string, code codes.Code, reason string) {
	b.dropped.Add(1)
	b.report(Report{Outcome: OutcomeDropped, Topic: r.Agent, Resource: r.resource, RequestID: requestID, Code: string(code), Reason: reason})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
