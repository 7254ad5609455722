package mqttbridge_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/mqttbridge"
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

const (
	wait   = 5 * time.Second
	broker = "test" // BrokerName of every rig: resources are mqtt://test/<device topic>
)

var topicN atomic.Int64

// prefix returns a topic prefix unique to this process and call: the broker
// is shared with other tests and other engineers.
func prefix() string {
	return fmt.Sprintf("sinttest/m%d_%d", time.Now().UnixNano()%1_000_000_007, topicN.Add(1))
}

// gw is one gateway served in-process on a loopback port (the pattern of
// bridges/rosbridge/harness_test.go).
type gw struct {
	*apptest.Gateway
	t        testing.TB
	g        *app.Gateway
	url      string
	adminKey string
}

func newGateway(t testing.TB) *gw { t.Helper(); return newGatewayPolicy(t, "testdata/policy.yaml") }

// newGatewayPolicy is newGateway with the given policy file.
func newGatewayPolicy(t testing.TB, policyFile string) *gw {
	t.Helper()
	a := apptest.Start(t, policyFile)
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
	if st := h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "mqttbridge", "scopes": []string{"read"}}, &out); st != 201 {
		h.t.Fatalf("apikey: %d", st)
	}
	return out.Key
}

// agentToken trusts root "root" and registers a token for agent "mqttagent"
// on mqtt://test/** publish, tier 3.
func (h *gw) agentToken() (*client.Agent, string) { h.t.Helper(); return h.agentTokenWith(nil) }

// agentTokenWith is agentToken with the claims edited by edit (if non-nil)
// before signing.
func (h *gw) agentTokenWith(edit func(*tokens.Claims)) (*client.Agent, string) {
	h.t.Helper()
	if st := h.admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 {
		h.t.Fatalf("add root: %d", st)
	}
	c := tokentest.Root("root", "mqttagent", int(time.Now().UnixNano()%1e9), time.Now().UnixMilli())
	c.Resource = "mqtt://" + broker + "/**"
	c.Actions = []string{"publish"}
	if edit != nil {
		edit(&c)
	}
	tok := tokentest.Sign("root", c)
	if st := h.admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		h.t.Fatalf("register token: %d", st)
	}
	return &client.Agent{BaseURL: h.url, HTTP: &http.Client{Timeout: 40 * time.Second}, Key: tokentest.Key("mqttagent")}, c.TokenID
}

// peer is the test's own MQTT client: it plays the agent (publishing on
// agent topics) and the devices and report consumer (subscribed to every
// device topic and the report topic).
type peer struct {
	t       testing.TB
	c       *paho.Client
	devices chan *paho.Publish // every message on <prefix>/dev/#
	reports chan mqttbridge.Report
}

func newPeer(t testing.TB, addr, p string) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conn, err := (&net.Dialer{Timeout: testenv.DialTimeout}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("dial broker %s: %v", addr, err)
	}
	pe := &peer{t: t, devices: make(chan *paho.Publish, 256), reports: make(chan mqttbridge.Report, 1024)}
	pe.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				if pr.Packet.Topic == p+"/sint/decisions" {
					rep, err := mqttbridge.ParseReport(pr.Packet.Payload)
					if err != nil {
						t.Errorf("bad report %q: %v", pr.Packet.Payload, err)
					} else {
						pe.reports <- rep
					}
				} else {
					pe.devices <- pr.Packet
				}
				return true, nil
			},
		},
	})
	ack, err := pe.c.Connect(ctx, &paho.Connect{ClientID: "peer-" + p, CleanStart: true, KeepAlive: 30})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("peer connect: %v %+v", err, ack)
	}
	t.Cleanup(func() { _ = pe.c.Disconnect(&paho.Disconnect{ReasonCode: 0}) })
	if _, err := pe.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: p + "/dev/#", QoS: 1}, {Topic: p + "/sint/decisions", QoS: 1},
	}}); err != nil {
		t.Fatalf("peer subscribe: %v", err)
	}
	return pe
}

func (pe *peer) send(topic string, payload []byte) {
	pe.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := pe.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload}); err != nil {
		pe.t.Fatalf("publish %s: %v", topic, err)
	}
}

// retain publishes a retained message (an empty payload clears it).
func (pe *peer) retain(topic string, payload []byte) {
	pe.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if _, err := pe.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Retain: true, Payload: payload}); err != nil {
		pe.t.Errorf("publish retained %s: %v", topic, err)
	}
}

// next returns the next device message, or nil after d.
func (pe *peer) next(d time.Duration) *paho.Publish {
	select {
	case m := <-pe.devices:
		return m
	case <-time.After(d):
		return nil
	}
}

// expect waits for the next device message and checks topic and payload.
func (pe *peer) expect(topic string, payload []byte) {
	pe.t.Helper()
	m := pe.next(wait)
	if m == nil {
		pe.t.Fatalf("nothing on the device topics, want %q on %s", payload, topic)
	}
	if m.Topic != topic || !bytes.Equal(m.Payload, payload) {
		pe.t.Fatalf("device got %q on %s, want %q on %s", m.Payload, m.Topic, payload, topic)
	}
	if m.Retain {
		pe.t.Fatalf("device message on %s is retained", m.Topic)
	}
}

// quiet checks that no device message arrives within d (a guard after an
// ordering proof, not a timing assertion: the proofs are the reports).
func (pe *peer) quiet(d time.Duration) {
	pe.t.Helper()
	if m := pe.next(d); m != nil {
		pe.t.Fatalf("unexpected device message %q on %s", m.Payload, m.Topic)
	}
}

// report waits for a report with the outcome (and code, if non-empty).
func (pe *peer) report(outcome, code string) mqttbridge.Report {
	pe.t.Helper()
	rep, ok := pe.await(func(r mqttbridge.Report) bool { return r.Outcome == outcome && (code == "" || r.Code == code) })
	if !ok {
		pe.t.Fatalf("no %s/%s report within %v", outcome, code, wait)
	}
	return rep
}

// reportWhere waits for a report that satisfies match.
func (pe *peer) reportWhere(match func(mqttbridge.Report) bool) mqttbridge.Report {
	pe.t.Helper()
	rep, ok := pe.await(match)
	if !ok {
		pe.t.Fatalf("no matching report within %v", wait)
	}
	return rep
}

func (pe *peer) await(match func(mqttbridge.Report) bool) (mqttbridge.Report, bool) {
	deadline := time.After(wait)
	for {
		select {
		case rep := <-pe.reports:
			if match(rep) {
				return rep, true
			}
		case <-deadline:
			return mqttbridge.Report{}, false
		}
	}
}

// rig is a gateway (real or fake), a bridge on the real broker and a peer.
type rig struct {
	t      testing.TB
	gw     *gw // nil with a fake Decider
	p      string
	peer   *peer
	bridge *mqttbridge.Bridge
	routes map[string]mqttbridge.Route // by name: "lamp1" → agent <p>/agent/lamp1, device <p>/dev/lamp1
	cancel context.CancelFunc
	done   chan error
}

type rigOpts struct {
	poll      bool          // give the bridge a read-only operator key for the e-stop poll
	noPush    bool          // with poll: poll only (bridges.PollOnly), no pushed trips
	every     time.Duration // poll interval
	routes    []string      // names; default lamp1
	safeStops map[string]string
	// fake replaces the real gateway: Decider, Verifier and Estop.
	fake     mqttbridge.Decider
	verifier mqttbridge.AttestationVerifier
	estop    mqttbridge.EstopReader
	issuer   string
	// brokerName overrides the rig's BrokerName (the token covers only
	// mqtt://test/**).
	brokerName string
	// retained payloads are published (retained) on agent topics before
	// the bridge starts, and cleared at the end of the test.
	retained map[string]string
	// maps are --map specs (JSON) by route name; routes without one are
	// declared non-physical.
	maps map[string]string
	// policy is the real gateway's policy file (default
	// testdata/policy.yaml); token edits its token's claims.
	policy string
	token  func(*tokens.Claims)
}

func newRig(t testing.TB, o rigOpts) *rig {
	t.Helper()
	addr := testenv.MQTTAddr(t)
	if addr == "" {
		return nil
	}
	p := prefix()
	r := &rig{t: t, p: p, routes: map[string]mqttbridge.Route{}}
	if len(o.routes) == 0 {
		o.routes = []string{"lamp1"}
	}
	var rs []mqttbridge.Route
	for _, n := range o.routes {
		rt, err := mqttbridge.ParseRoute(p + "/agent/" + n + "=" + p + "/dev/" + n)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, rt)
	}
	for n, js := range o.safeStops {
		if err := mqttbridge.SetSafeStop(rs, p+"/dev/"+n+"="+js); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range o.routes {
		var err error
		if js, ok := o.maps[n]; ok {
			err = mqttbridge.SetMapping(rs, p+"/dev/"+n+"="+js)
		} else {
			err = mqttbridge.SetNonPhysical(rs, p+"/dev/"+n)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range o.routes {
		r.routes[n] = rs[i]
	}
	cfg := mqttbridge.Config{
		Broker: "mqtt://" + addr, BrokerName: cmpOr(o.brokerName, broker), ClientID: "bridge-" + p,
		Routes: rs, ReportTopic: p + "/sint/decisions", PollInterval: o.every,
		// 5 s, not 1 s: a gateway stall under -race on a loaded CI machine
		// must not latch "unreachable" and add a safe stop.
		CallTimeout: 5 * time.Second, ReconnectDelay: 50 * time.Millisecond, Log: quiet, Issuer: o.issuer,
	}
	if o.fake != nil {
		cfg.Gateway, cfg.Verifier, cfg.Estop, cfg.TokenID = o.fake, o.verifier, o.estop, "tok"
	} else {
		r.gw = newGatewayPolicy(t, cmpOr(o.policy, "testdata/policy.yaml"))
		agent, tokenID := r.gw.agentTokenWith(o.token)
		cfg.Gateway, cfg.TokenID = agent, tokenID
		cfg.Verifier = attest.NewJWKSCache(nil, r.gw.url+"/.well-known/jwks.json")
		if o.poll {
			cfg.Estop = mqttbridge.OperatorEstop{Op: &client.Operator{BaseURL: r.gw.url, APIKey: r.gw.readKey(), HTTP: &http.Client{Timeout: 5 * time.Second}}}
			if o.noPush {
				cfg.Estop = bridges.PollOnly{EstopReader: cfg.Estop}
			}
		}
	}
	r.peer = newPeer(t, addr, p)
	for n, js := range o.retained {
		r.peer.retain(r.routes[n].Agent, []byte(js))
		t.Cleanup(func() { r.peer.retain(r.routes[n].Agent, nil) })
	}
	var err error
	if r.bridge, err = mqttbridge.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.bridge.Run(ctx) }()
	t.Cleanup(r.stop)
	wctx, wcancel := context.WithTimeout(context.Background(), wait)
	defer wcancel()
	if err := r.bridge.WaitConnected(wctx); err != nil {
		t.Fatalf("bridge never connected: %v", err)
	}
	return r
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// send publishes payload on route n's agent topic.
func (r *rig) send(n string, payload string) { r.peer.send(r.routes[n].Agent, []byte(payload)) }

// expect waits for payload on route n's device topic.
func (r *rig) expect(n string, payload string) { r.peer.expect(r.routes[n].Device, []byte(payload)) }

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
