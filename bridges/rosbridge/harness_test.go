package rosbridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

var quiet = slog.New(slog.DiscardHandler)

var topicN atomic.Int64

// prefix returns a topic prefix unique to this test process and call, so
// tests sharing the real master never see each other's topics.
func prefix() string {
	return fmt.Sprintf("/t%d_%d", time.Now().UnixNano()%1_000_000_007, topicN.Add(1))
}

// gw is one gateway served in-process on a loopback port (the pattern of
// internal/app/harness_test.go).
type gw struct {
	*apptest.Gateway
	t        testing.TB
	g        *app.Gateway
	url      string
	adminKey string
}

func newGateway(t testing.TB) *gw {
	t.Helper()
	a := apptest.Start(t, "testdata/policy.yaml")
	// Heartbeats every 100 ms: the gateway's stream writer notices a gone
	// bridge stream at the next one, so stopping the gateway does not wait
	// for the 15 s default.
	a.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	return &gw{Gateway: a, t: t, g: a.G, url: a.URL, adminKey: a.AdminKey}
}

// stop shuts the gateway down (a killed gateway, as far as clients see).
func (h *gw) stop() { h.Stop() }

// admin calls an operator endpoint with the admin key.
func (h *gw) admin(method, path string, in, out any) int {
	h.t.Helper()
	return h.Admin(method, path, in, out)
}

// readKey creates an operator key with only the read scope.
func (h *gw) readKey() string {
	var out struct{ Key string }
	if st := h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "rosbridge", "scopes": []string{"read"}}, &out); st != 201 {
		h.t.Fatalf("apikey: %d", st)
	}
	return out.Key
}

// agentToken trusts root "root" and registers a token for agent "rosagent"
// on ros:///** publish, tier 3, with speed limits 1 m/s and 2 rad/s.
func (h *gw) agentToken() (*client.Agent, string) {
	h.t.Helper()
	if st := h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		h.t.Fatalf("add root: %d", st)
	}
	c := tokentest.Root("root", "rosagent", int(time.Now().UnixNano()%1e9), time.Now().UnixMilli())
	c.Actions = []string{"publish"}
	v, w := 1.0, 2.0
	c.Constraints = tokens.Constraints{MaxVelocityMps: &v, MaxAngularVelocityRps: &w}
	tok := tokentest.Sign("root", c)
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return &client.Agent{BaseURL: h.url, HTTP: &http.Client{Timeout: 40 * time.Second}, Key: tokentest.Key("rosagent")}, c.TokenID
}

// rig is a gateway, a bridge and a test node (agent publisher, actuator and
// decisions subscribers) on the real master.
type rig struct {
	t         testing.TB
	gw        *gw
	master    string
	node      *ros.Node
	bridge    *rosbridge.Bridge
	routes    []rosbridge.Route
	agentPub  map[string]*ros.Publisher
	actuator  map[string]chan *msgs.Twist
	decisions chan rosbridge.Report
	cancel    context.CancelFunc
	done      chan error
}

type rigOpts struct {
	poll   bool          // give the bridge a read-only operator key for the e-stop watch
	noPush bool          // with poll: poll only (bridges.PollOnly), no pushed trips
	every  time.Duration // poll interval
	routes []string      // suffixes: "cmd_vel", "arm/joint_cmd"
	master string        // master URI; "" = the real test master (testenv)
	wrap   func(rosbridge.Decider) rosbridge.Decider
	keep   bool // Config.KeepAll
	// Stop semantics: stop is the stop policy of every route
	// (stopsem.ParsePolicy; "" the default), reset the reset mode,
	// resetSocket the local reset input, proc a gateway process to use
	// instead of an in-process gateway.
	stop        string
	reset       stopsem.ResetMode
	resetSocket string
	proc        *apptest.Process
}

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	master := o.master
	if master == "" {
		if master = testenv.ROSMaster(t); master == "" {
			return nil
		}
	}
	ctx := context.Background()
	var g *gw
	if o.proc != nil {
		g = &gw{Gateway: &apptest.Gateway{T: t, URL: o.proc.URL, AdminKey: o.proc.AdminKey}, t: t, url: o.proc.URL, adminKey: o.proc.AdminKey}
	} else {
		g = newGateway(t)
	}
	agent, tokenID := g.agentToken()
	p := prefix()
	r := &rig{t: t, gw: g, master: master, agentPub: map[string]*ros.Publisher{}, actuator: map[string]chan *msgs.Twist{}, decisions: make(chan rosbridge.Report, 1024)}
	var err error
	r.node, err = ros.NewNode(ctx, ros.NodeConfig{Name: p + "/test", MasterURI: master, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.node.Close(context.Background()) })
	bnode, err := ros.NewNode(ctx, ros.NodeConfig{Name: p + "/sint_rosbridge", MasterURI: master, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bnode.Close(context.Background()) })
	if len(o.routes) == 0 {
		o.routes = []string{"cmd_vel"}
	}
	for _, s := range o.routes {
		rt, err := rosbridge.ParseRoute(p + "/agent/" + s + "=" + p + "/" + s)
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
	var dec rosbridge.Decider = agent
	if o.wrap != nil {
		dec = o.wrap(agent)
	}
	cfg := rosbridge.Config{
		Node: bnode, Gateway: dec, Verifier: attest.NewJWKSCache(nil, g.url+"/.well-known/jwks.json"),
		Routes: r.routes, TokenID: tokenID, DecisionsTopic: p + "/sint/decisions", PollInterval: o.every,
		CallTimeout: time.Second, Log: quiet, KeepAll: o.keep,
		Reset: o.reset, ResetSocket: o.resetSocket,
	}
	if o.poll {
		cfg.Estop = rosbridge.OperatorEstop{Op: &client.Operator{BaseURL: g.url, APIKey: g.readKey(), HTTP: &http.Client{Timeout: time.Second}}}
		if o.noPush {
			cfg.Estop = bridges.PollOnly{EstopReader: cfg.Estop}
		}
	}
	r.bridge, err = rosbridge.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Test side: subscribe to actuator topics and the decisions topic,
	// advertise the agent topics.
	var subs []*ros.Subscriber
	for _, rt := range r.routes {
		ch := make(chan *msgs.Twist, 1024)
		r.actuator[rt.Actuator] = ch
		s, err := r.node.Subscribe(ctx, rt.Actuator, msgs.TwistType, func(m msgs.Message) { ch <- m.(*msgs.Twist) })
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
		pub, err := r.node.Publisher(ctx, rt.Agent, msgs.TwistType, false)
		if err != nil {
			t.Fatal(err)
		}
		r.agentPub[rt.Agent] = pub
	}
	ds, err := r.node.Subscribe(ctx, p+"/sint/decisions", msgs.StringType, func(m msgs.Message) {
		rep, err := rosbridge.ParseReport([]byte(m.(*msgs.String).Data))
		if err != nil {
			t.Errorf("bad report: %v", err)
			return
		}
		r.decisions <- rep
	})
	if err != nil {
		t.Fatal(err)
	}
	subs = append(subs, ds)
	rctx, cancel := context.WithCancel(ctx)
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.bridge.Run(rctx) }()
	t.Cleanup(r.stop)
	// Wait until every link of the graph is up.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for _, pub := range r.agentPub {
		if err := pub.WaitForSubscribers(wctx, 1); err != nil {
			t.Fatalf("bridge never subscribed: %v", err)
		}
	}
	for _, s := range subs {
		for s.NumPublishers() < 1 {
			if wctx.Err() != nil {
				t.Fatalf("no publisher on %s", s.Topic())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return r
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

func (r *rig) route(i int) rosbridge.Route { return r.routes[i] }

func (r *rig) publish(i int, m *msgs.Twist) {
	r.t.Helper()
	if err := r.agentPub[r.routes[i].Agent].Publish(context.Background(), m); err != nil {
		r.t.Fatal(err)
	}
}

// next returns the next actuator message of route i, or nil after d.
func (r *rig) next(i int, d time.Duration) *msgs.Twist {
	select {
	case m := <-r.actuator[r.routes[i].Actuator]:
		return m
	case <-time.After(d):
		return nil
	}
}

// report waits for a report with the outcome (and code, if non-empty).
func (r *rig) report(outcome, code string, d time.Duration) rosbridge.Report {
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
			return rosbridge.Report{}
		}
	}
}

// waitStreams waits until the gateway has n approval-stream subscribers
// (the bridge's pushed e-stop stream is open).
func (h *gw) waitStreams(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if subs, _ := h.g.Approvals.Events().Stats(); subs >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d stream subscribers after 10 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
