//go:build cgo

package ros2bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros2bridge"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

var quiet = slog.New(slog.DiscardHandler)

// testDomain is this test process's DDS domain: loopback-only, picked per
// process so that parallel test runs on one host do not see each other.
var testDomain = 20 + int(uint64(time.Now().UnixNano())^uint64(os.Getpid()))%200

var topicN atomic.Int64

// prefix returns a topic prefix unique to this process and call.
func prefix() string { return fmt.Sprintf("/t%d_%d", os.Getpid(), topicN.Add(1)) }

// participant joins the test domain (loopback only).
func participant(t testing.TB) *dds.Participant {
	t.Helper()
	p, err := dds.NewParticipant(dds.Config{Domain: testDomain, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// gw is a gateway served in-process on a loopback port, or (benchmarks,
// processGateway) a sint-gateway process.
type gw struct {
	*apptest.Gateway // nil for a process
	proc             *apptest.Process
	URL              string
	t                testing.TB
}

func newGateway(t testing.TB) *gw {
	t.Helper()
	a := apptest.Start(t, "testdata/policy.yaml")
	a.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	return &gw{Gateway: a, URL: a.URL, t: t}
}

// newProcessGateway serves the gateway as its own sint-gateway process, as
// deployed: its collector and goroutines are not the bridge's.
func newProcessGateway(t testing.TB) *gw {
	t.Helper()
	p := apptest.StartProcess(t, "testdata/policy.yaml")
	return &gw{proc: p, URL: p.URL, t: t}
}

// Admin calls the gateway with its admin key.
func (h *gw) Admin(method, path string, in, out any) int {
	if h.proc != nil {
		return h.proc.Admin(method, path, in, out)
	}
	return h.Gateway.Admin(method, path, in, out)
}

func (h *gw) readKey() string {
	var out struct{ Key string }
	if st := h.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "ros2bridge", "scopes": []string{"read"}}, &out); st != 201 {
		h.t.Fatalf("apikey: %d", st)
	}
	return out.Key
}

// agentToken trusts root "root" and registers a token for agent "ros2agent"
// on ros2:///<res>, publish, tier 3, with limits 1 m/s, 2 rad/s, 50 N,
// 5 N·m and a 10 m square geofence around the origin.
func (h *gw) agentToken(res string, more func(*tokens.Constraints)) (*client.Agent, string) {
	h.t.Helper()
	h.Admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil)
	c := tokentest.Root("root", "ros2agent", int(time.Now().UnixNano()%1e9), time.Now().UnixMilli())
	c.Resource = res
	c.Actions = []string{"publish"}
	v, w, f, tq := 1.0, 2.0, 50.0, 5.0
	c.Constraints = tokens.Constraints{MaxVelocityMps: &v, MaxAngularVelocityRps: &w, MaxForceNewtons: &f, MaxTorqueNm: &tq,
		Geofence: &tokens.Geofence{Frame: "map", Polygon: [][2]float64{{-5, -5}, {5, -5}, {5, 5}, {-5, 5}}}}
	if more != nil {
		more(&c.Constraints)
	}
	tok := tokentest.Sign("root", c)
	if st := h.Admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return &client.Agent{BaseURL: h.URL, HTTP: &http.Client{Timeout: 40 * time.Second}, Key: tokentest.Key("ros2agent")}, c.TokenID
}

// rig is a gateway, a bridge on its own participant and a test participant
// (agent writers, actuator and decisions readers) on the test domain.
type rig struct {
	t         testing.TB
	gw        *gw
	tokenID   string
	client    *client.Agent
	bridge    *ros2bridge.Bridge
	routes    []ros2bridge.Route
	agent     []func(msgs.Message) error
	actuator  []chan msgs.Message
	decisions chan topicbridge.Report
	cancel    context.CancelFunc
	done      chan error
	pubs      []*fastddspeer.Publisher  // with keepPeers
	subs      []*fastddspeer.Subscriber // with keepPeers
}

type rigOpts struct {
	routes []string // "SUFFIX[:TYPE]", topics p/agent/SUFFIX → p/SUFFIX
	tokRes string   // token resource; default ros2:///<prefix>/**
	// constraints adds constraints to the agent's token.
	constraints func(*tokens.Constraints)
	poll        bool // give the bridge a read key (pushed trips + polls)
	every       time.Duration
	wrap        func(ros2bridge.Decider) ros2bridge.Decider
	now         func() time.Time
	stop        string // stop policy of every route ("" default)
	setup       func(routes []ros2bridge.Route)
	reset       stopsem.ResetMode
	resend      time.Duration // Core.StopResend; 0: none (tests count messages)
	// fastdds puts Fast DDS peers (separate C++ processes set up like ROS 2
	// nodes) on the agent and actuator topics instead of Cyclone endpoints.
	fastdds bool
	// observe is the core's Observe hook (benchmarks).
	observe func(topicbridge.Timing)
	// processGateway serves the gateway as its own process (benchmarks).
	processGateway bool
	// keepPeers (with fastdds) keeps the Fast DDS peers in rig.pubs and
	// rig.subs for the caller to drive (benchmarks); the actuator channels
	// stay empty.
	keepPeers bool
}

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	ctx := context.Background()
	start := newGateway
	if o.processGateway {
		start = newProcessGateway
	}
	g := start(t)
	p := prefix()
	if o.tokRes == "" {
		o.tokRes = "ros2://" + p + "/**"
	}
	agent, tokenID := g.agentToken(o.tokRes, o.constraints)
	if len(o.routes) == 0 {
		o.routes = []string{"cmd_vel"}
	}
	r := &rig{t: t, gw: g, tokenID: tokenID, client: agent, decisions: make(chan topicbridge.Report, 1024)}
	for _, s := range o.routes {
		suffix, typ, hasType := cut(s, ":")
		spec := p + "/agent/" + suffix + "=" + p + "/" + suffix
		if hasType {
			spec += ":" + typ
		}
		rt, err := ros2bridge.ParseRoute(spec)
		if err != nil {
			t.Fatal(err)
		}
		if o.stop != "" {
			if rt.Stop, err = stopsem.ParsePolicy(o.stop); err != nil {
				t.Fatal(err)
			}
		}
		r.routes = append(r.routes, rt)
	}
	if o.setup != nil {
		o.setup(r.routes)
	}
	var dec ros2bridge.Decider = agent
	if o.wrap != nil {
		dec = o.wrap(agent)
	}
	core := topicbridge.Config{
		Gateway: dec, Verifier: attest.NewJWKSCache(nil, g.URL+"/.well-known/jwks.json"),
		TokenID: tokenID, PollInterval: o.every, CallTimeout: time.Second, Log: quiet, Now: o.now, Reset: o.reset,
		StopResend: o.resend, Observe: o.observe,
	}
	if o.resend == 0 {
		core.StopResend = -1
	}
	if o.poll {
		core.Estop = bridges.OperatorEstop{Op: &client.Operator{BaseURL: g.URL, APIKey: g.readKey(), HTTP: &http.Client{Timeout: time.Second}}}
	}
	var err error
	r.bridge, err = ros2bridge.New(ros2bridge.Config{Participant: participant(t), Routes: r.routes, DecisionsTopic: p + "/sint/decisions", Core: core})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.bridge.Close() })

	tp := participant(t)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var readers []*dds.Reader
	t.Cleanup(func() {
		cancel()
		for _, rd := range readers {
			_ = rd.Close()
		}
		wg.Wait()
	})
	var waits []func(context.Context) error // the agent writers matched the bridge
	for _, rt := range r.routes {
		ch := make(chan msgs.Message, 1024)
		r.actuator = append(r.actuator, ch)
		if o.fastdds {
			po := fastddspeer.Options{Topic: rt.Agent, Type: rt.Type.Name, Domain: testDomain, LoopbackOnly: true,
				BestEffort: rt.QoS.BestEffort, TransientLocal: rt.QoS.Durability == dds.TransientLocal, Depth: rt.QoS.Depth}
			pub, err := fastddspeer.StartPublisher(ctx, t, po)
			if err != nil {
				t.Fatal(err)
			}
			r.agent = append(r.agent, func(m msgs.Message) error {
				js, err := msgs.MarshalJSON(m)
				if err != nil {
					return err
				}
				return pub.Publish(js)
			})
			waits = append(waits, func(ctx context.Context) error { return pub.WaitMatched(ctx, 1) })
			po.Topic = rt.Actuator
			sub, err := fastddspeer.StartSubscriber(ctx, t, po)
			if err != nil {
				t.Fatal(err)
			}
			// Both ends of each link must have matched: a sample written
			// before the reader knows the writer is lost (volatile).
			waits = append(waits, func(ctx context.Context) error { return sub.WaitMatched(ctx, 1) })
			if o.keepPeers {
				r.pubs, r.subs = append(r.pubs, pub), append(r.subs, sub)
				continue
			}
			wg.Add(1)
			go func(typ msgs.Type) {
				defer wg.Done()
				for {
					rc, err := sub.Next(rctx)
					if err != nil {
						if rctx.Err() == nil {
							t.Errorf("Fast DDS actuator: %v", err)
						}
						return
					}
					m, err := msgs.Decode(typ, rc.CDR)
					if err != nil {
						t.Errorf("Fast DDS actuator sample does not decode: %v", err)
						continue
					}
					ch <- m
				}
			}(rt.Type)
			continue
		}
		w, err := tp.Writer(dds.ROSTopic(rt.Agent), rt.Type.DDSName(), rt.QoS)
		if err != nil {
			t.Fatal(err)
		}
		r.agent = append(r.agent, func(m msgs.Message) error { return w.Write(msgs.Encode(m)) })
		waits = append(waits, func(ctx context.Context) error { return w.WaitMatched(ctx, 1) })
		rd, err := tp.Reader(dds.ROSTopic(rt.Actuator), rt.Type.DDSName(), rt.QoS)
		if err != nil {
			t.Fatal(err)
		}
		readers = append(readers, rd)
		wg.Add(1)
		go func(typ msgs.Type) {
			defer wg.Done()
			for {
				s, err := rd.Take(rctx)
				if err != nil {
					return
				}
				m, err := msgs.Decode(typ, s.Data)
				if err != nil {
					t.Errorf("actuator sample does not decode: %v", err)
					continue
				}
				ch <- m
			}
		}(rt.Type)
	}
	drd, err := tp.Reader(dds.ROSTopic(p+"/sint/decisions"), msgs.StringType.DDSName(), dds.QoS{Depth: 100})
	if err != nil {
		t.Fatal(err)
	}
	readers = append(readers, drd)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s, err := drd.Take(rctx)
			if err != nil {
				return
			}
			m, err := msgs.Decode(msgs.StringType, s.Data)
			if err != nil {
				t.Errorf("decisions sample: %v", err)
				continue
			}
			rep, err := topicbridge.ParseReport([]byte(m.(*msgs.String).Data))
			if err != nil {
				t.Errorf("bad report: %v", err)
				continue
			}
			r.decisions <- rep
		}
	}()
	t.Cleanup(cancel) // before the peers stop: their end is no test failure
	wctx, wcancel := context.WithTimeout(ctx, 15*time.Second)
	defer wcancel()
	if err := r.bridge.WaitActuators(wctx, 1); err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithCancel(ctx)
	r.cancel, r.done = bcancel, make(chan error, 1)
	go func() { r.done <- r.bridge.Run(bctx) }()
	t.Cleanup(r.stop)
	for _, w := range waits {
		if err := w(wctx); err != nil {
			t.Fatalf("no match: %v", err)
		}
	}
	if err := r.bridge.WaitAgents(wctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := drd.WaitMatched(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return r
}

func cut(s, sep string) (string, string, bool) {
	for i := 0; i+len(sep) <= len(s); i++ {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// publish writes m on route i's agent topic.
func (r *rig) publish(i int, m msgs.Message) {
	r.t.Helper()
	if err := r.agent[i](m); err != nil {
		r.t.Fatal(err)
	}
}

// next returns the next actuator message of route i, or nil after d.
func (r *rig) next(i int, d time.Duration) msgs.Message {
	select {
	case m := <-r.actuator[i]:
		return m
	case <-time.After(d):
		return nil
	}
}

// report waits for a report with the outcome (and code, if non-empty).
func (r *rig) report(outcome, code string, d time.Duration) topicbridge.Report {
	r.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case rep := <-r.decisions:
			if rep.Outcome == outcome && (code == "" || rep.Code == code) {
				return rep
			}
		case <-deadline:
			r.t.Fatalf("no %s/%s report within %v", outcome, code, d)
			return topicbridge.Report{}
		}
	}
}

// waitStreams waits until the gateway has n approval-stream subscribers
// (a process gateway does not say: it waits two seconds, far longer than a
// stream takes to open on loopback).
func (h *gw) waitStreams(t testing.TB, n int) {
	t.Helper()
	if h.proc != nil {
		time.Sleep(2 * time.Second)
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if subs, _ := h.G.Approvals.Events().Stats(); subs >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d stream subscribers after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logReports logs the reports received so far (for a failing test).
func (r *rig) logReports() {
	for {
		select {
		case rep := <-r.decisions:
			r.t.Logf("report %+v", rep)
		default:
			return
		}
	}
}
