package ros2bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/codes"
)

// The gateway-facing interfaces (package bridges).
type (
	Decider             = bridges.Decider
	AttestationVerifier = bridges.AttestationVerifier
	EstopReader         = bridges.EstopReader
	OperatorEstop       = bridges.OperatorEstop
)

// Report is one line on the decisions topic (topicbridge.Report).
type Report = topicbridge.Report

// Stats are the bridge's counters.
type Stats = topicbridge.Stats

// DecisionsTopic is the default topic of decision reports
// (std_msgs/msg/String carrying Report JSON).
const DecisionsTopic = topicbridge.DecisionsTopic

// DefaultStopResend is how often a stopped route's safe stop is re-sent
// when Config.StopResend is 0: a DDS writer keeps no sample for a
// controller that joins later (volatile QoS, ROS 2's default), so the
// re-send is what reaches it.
const DefaultStopResend = 200 * time.Millisecond

// Config configures a Bridge. Participant, Routes and the core's Gateway,
// Verifier and one of TokenID/Token are required.
type Config struct {
	Participant    *dds.Participant
	Routes         []Route
	DecisionsTopic string // default DecisionsTopic
	// Core is the shared core's configuration (gateway, token, e-stop
	// watch, timing, stop semantics). Name, Links and Report are set by
	// New; Core.StopResend 0 means DefaultStopResend, negative never.
	Core topicbridge.Config
}

// Bridge forwards attested messages from agent topics to actuator topics
// over DDS. Create it with New, run it with Run. Its methods are safe for
// concurrent use.
type Bridge struct {
	*topicbridge.Core
	cfg       Config
	writers   []*dds.Writer // per route, on the actuator topic
	decisions *dds.Writer
	dmu       sync.Mutex // one decisions write at a time
	seen      []bool     // the actuator writer had a matched reader (link check)

	rmu     sync.Mutex
	readers []*dds.Reader // per route, on the agent topic, while Run subscribes
}

// New checks cfg, creates the actuator and decisions writers and returns
// the bridge. Nothing is forwarded before Run.
func New(cfg Config) (*Bridge, error) {
	switch {
	case cfg.Participant == nil:
		return nil, errors.New("ros2bridge: Participant is required")
	case len(cfg.Routes) == 0:
		return nil, errors.New("ros2bridge: no routes")
	}
	if cfg.DecisionsTopic == "" {
		cfg.DecisionsTopic = DecisionsTopic
	}
	dt, err := topicbridge.TopicName(cfg.DecisionsTopic)
	if err != nil {
		return nil, fmt.Errorf("ros2bridge: decisions topic: %w", err)
	}
	cfg.DecisionsTopic = dt
	seen := map[string]bool{dt: true}
	for _, r := range cfg.Routes { // before any I/O
		if err := CheckPhysical(r); err != nil {
			return nil, fmt.Errorf("ros2bridge: %w", err)
		}
		if s := r.safeStop(); s != nil && s.Type().Name != r.Type.Name {
			return nil, fmt.Errorf("ros2bridge: route %s: safe stop is %s, not %s", r.Agent, s.Type().Name, r.Type.Name)
		}
		if seen[r.Actuator] || seen[r.Agent] {
			return nil, fmt.Errorf("ros2bridge: route %s=%s: a topic is used twice", r.Agent, r.Actuator)
		}
		seen[r.Actuator], seen[r.Agent] = true, true
	}
	b := &Bridge{cfg: cfg, seen: make([]bool, len(cfg.Routes))}
	if b.decisions, err = cfg.Participant.Writer(dds.ROSTopic(dt), msgs.StringType.DDSName(), dds.QoS{TypeHash: msgs.StringType.Hash()}); err != nil {
		return nil, fmt.Errorf("ros2bridge: decisions topic %s: %w", dt, err)
	}
	var routes []topicbridge.Route
	for _, r := range cfg.Routes {
		w, err := cfg.Participant.Writer(dds.ROSTopic(r.Actuator), r.Type.DDSName(), r.qos())
		if err != nil {
			return nil, fmt.Errorf("ros2bridge: actuator topic %s: %w", r.Actuator, err)
		}
		b.writers = append(b.writers, w)
		out := ddsOutput{w: w, topic: r.Actuator, hash: r.Type.Hash()}
		tr := topicbridge.Route{Agent: r.Agent, Resource: r.Resource(), Codec: newCodec(r), Out: out, Stop: r.Stop}
		if m := r.safeStop(); m != nil {
			out.stop = msgs.Encode(m)
			tr.SafeStop = out
		}
		routes = append(routes, tr)
	}
	core := cfg.Core
	core.Name, core.Links, core.Report = "ros2bridge", b.checkLinks, b.report
	if core.StopResend == 0 {
		core.StopResend = DefaultStopResend
	}
	if b.Core, err = topicbridge.New(core, routes); err != nil {
		return nil, err
	}
	return b, nil
}

// ddsOutput writes a route's messages on its actuator writer; with stop set
// it is the route's safe stop (stopsem.Output).
type ddsOutput struct {
	w     *dds.Writer
	topic string // actuator topic
	hash  string // the route type's hash
	stop  []byte // the safe stop, serialized
}

// errNoReader is a write with no matched reader: DDS would drop it
// silently, so the bridge reports the command as not carried out.
var errNoReader = codes.New(codes.InternalError, "no reader matched on the actuator topic")

// write writes b when a reader of our type matched. Motion is refused while
// any matched reader announces another type hash (it would read the bytes
// under another definition); a safe stop is still written.
func (o ddsOutput) write(b []byte, motion bool) error {
	c, err := o.w.CheckPeers()
	if err != nil {
		return err
	}
	if motion && len(c.Mismatched) > 0 {
		return mismatchError("actuator topic", o.topic, o.hash, c)
	}
	if c.Accepted == 0 {
		return errNoReader
	}
	return o.w.Write(b)
}

func (o ddsOutput) Publish(_ context.Context, m topicbridge.Message) error {
	mm, ok := m.(msgs.Message)
	if !ok {
		return errors.New("not a ROS 2 message")
	}
	return o.write(msgs.Encode(mm), true)
}

// Stop writes the safe stop (re-sent by the stop core while the stop lasts).
func (o ddsOutput) Stop(context.Context) error { return o.write(o.stop, false) }

// Clear does nothing: a written DDS sample cannot be withdrawn, and the
// actuator writer keeps none for late joiners unless its QoS says
// transient_local.
func (o ddsOutput) Clear(context.Context) error { return nil }

// Run reads the agent topics and forwards until ctx ends. It first polls
// the e-stop once (if configured). On return the bridge writes the safe
// stops (a bridge that stops forwarding leaves the actuators stopped).
func (b *Bridge) Run(ctx context.Context) error {
	return b.Core.Run(ctx, b.subscribe, nil)
}

func (b *Bridge) subscribe(ctx context.Context, handlers []func(topicbridge.Message)) (func(), error) {
	var readers []*dds.Reader
	var wg sync.WaitGroup
	closeAll := func() {
		b.rmu.Lock()
		b.readers = nil
		b.rmu.Unlock()
		for _, r := range readers {
			_ = r.Close()
		}
		wg.Wait()
	}
	for i, r := range b.cfg.Routes {
		rd, err := b.cfg.Participant.Reader(dds.ROSTopic(r.Agent), r.Type.DDSName(), r.qos())
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("agent topic %s: %w", r.Agent, err)
		}
		readers = append(readers, rd)
		b.rmu.Lock()
		b.readers = append(b.readers, rd)
		b.rmu.Unlock()
		h, typ, agent := handlers[i], r.Type, r.Agent
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, err := rd.Take(ctx)
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, dds.ErrClosed) {
						return
					}
					h(badMessage{err})
					time.Sleep(10 * time.Millisecond) // a failing take does not spin
					continue
				}
				if c, err := rd.CheckPeers(); err != nil || fromMismatched(c, s.Writer) {
					if err == nil {
						err = mismatchError("agent topic", agent, typ.Hash(), c)
					}
					h(badMessage{err})
					continue
				}
				m, err := msgs.Decode(typ, s.Data)
				if err != nil {
					h(badMessage{err})
					continue
				}
				h(m)
				// h handed m to the route's worker (its mailbox), which is
				// now runnable on this goroutine's P. The next Take blocks in
				// C, and a P blocked in C passes its runnable goroutines on
				// only when the runtime's monitor retakes it (tens of µs to
				// 10 ms later): yield first, so the worker runs now.
				runtime.Gosched()
			}
		}()
	}
	return closeAll, nil
}

// checkLinks reports a fault when an actuator topic that had a matched
// reader (the controller) has none any more, or when a matched reader of an
// actuator topic announces another type hash than ours.
func (b *Bridge) checkLinks(context.Context) string {
	for i, w := range b.writers {
		r := b.cfg.Routes[i]
		c, err := w.CheckPeers()
		if err != nil {
			return "actuator writer " + r.Actuator + ": " + err.Error()
		}
		if len(c.Mismatched) > 0 {
			return mismatchError("actuator topic", r.Actuator, r.Type.Hash(), c).Error()
		}
		if n := c.Accepted; n > 0 {
			b.seen[i] = true
		} else if b.seen[i] {
			b.seen[i] = false
			return "controller link lost: no reader on " + b.cfg.Routes[i].Actuator
		}
	}
	return ""
}

func (b *Bridge) report(r Report) {
	data, err := json.Marshal(r)
	if err != nil {
		return
	}
	b.dmu.Lock()
	defer b.dmu.Unlock()
	_ = b.decisions.Write(msgs.Encode(&msgs.String{Data: string(data)}))
}

// WaitActuators waits until every actuator topic has at least n matched
// readers (the controllers; a reader with another type hash does not
// count), or ctx ends. DDS matching takes a moment (about a second across
// processes); a command written before it reaches nobody.
func (b *Bridge) WaitActuators(ctx context.Context, n int) error {
	for i, w := range b.writers {
		if err := waitAccepted(ctx, w, n); err != nil {
			return fmt.Errorf("ros2bridge: %s: %w", b.cfg.Routes[i].Actuator, err)
		}
	}
	return nil
}

// WaitAgents waits until Run reads every agent topic and each reader has
// at least n matched writers (the agents), or ctx ends.
func (b *Bridge) WaitAgents(ctx context.Context, n int) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		b.rmu.Lock()
		readers := append([]*dds.Reader(nil), b.readers...)
		b.rmu.Unlock()
		if len(readers) == len(b.cfg.Routes) {
			ok := true
			for _, r := range readers {
				if m, err := r.Matched(); err != nil || m < n {
					ok = false
					break
				}
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ros2bridge: agent topics not matched: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// Close deletes the bridge's writers (call after Run returned).
func (b *Bridge) Close() error {
	for _, w := range b.writers {
		_ = w.Close()
	}
	return b.decisions.Close()
}
