package opcuabridge_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/opcuabridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app/apptest"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

const (
	wait     = 10 * time.Second
	endpoint = "plc" // EndpointName of every rig: resources are opcua://plc/ns1/…
)

var quiet = slog.New(slog.DiscardHandler)

// plcDir returns the node-opcua test PLC's directory with its modules
// installed, or reports the dependency missing (a failure under CI=true).
func plcDir(t testing.TB) string {
	t.Helper()
	node := testenv.Program(t, "node", "apt-get install nodejs npm")
	if node == "" {
		return ""
	}
	dir := os.Getenv("SINT_TEST_OPCUA_PLC")
	if dir == "" {
		dir, _ = filepath.Abs("testdata/plc")
	}
	if !testenv.File(t, filepath.Join(dir, "node_modules", "node-opcua"), "scripts/services.sh up opcua") {
		return ""
	}
	return dir
}

// plc is one node-opcua server playing the PLC. Every write and method
// call that reaches it arrives on events, in order.
type plc struct {
	t      testing.TB
	dir    string
	pki    string
	port   int
	events chan map[string]any

	mu  sync.Mutex
	cmd *exec.Cmd
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startPLC starts the test PLC on a free port and waits until it serves.
func startPLC(t testing.TB) *plc {
	t.Helper()
	dir := plcDir(t)
	if dir == "" {
		return nil
	}
	p := &plc{t: t, dir: dir, pki: t.TempDir(), port: freePort(t), events: make(chan map[string]any, 1024)}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *plc) url() string { return fmt.Sprintf("opc.tcp://127.0.0.1:%d", p.port) }

// start runs the server and waits for its ready line (node-opcua loads its
// standard address space first: tens of seconds on a loaded machine).
func (p *plc) start() {
	p.t.Helper()
	cmd := exec.Command("node", "plc.js", fmt.Sprint(p.port), p.pki)
	cmd.Dir = p.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "{") {
				continue // node-opcua's own log lines
			}
			var ev map[string]any
			if json.Unmarshal([]byte(line), &ev) != nil {
				continue
			}
			if ev["ready"] == true {
				once.Do(func() { close(ready) })
				continue
			}
			p.events <- ev
		}
	}()
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	select {
	case <-ready:
	case <-time.After(120 * time.Second):
		p.kill()
		p.t.Fatal("test PLC not ready within 120 s")
	}
}

// kill stops the server at once (SIGKILL: a PLC powered off).
func (p *plc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// drain forgets the events so far, and those still on their way: it
// returns once none arrived for 300 ms (the server prints a write after
// answering it, so a write the bridge finished may not be printed yet).
func (p *plc) drain() {
	for {
		select {
		case <-p.events:
		case <-time.After(300 * time.Millisecond):
			return
		}
	}
}

// expect waits for an event with key=name and the given value (other
// events before it are skipped) and fails after wait.
func (p *plc) expect(key, name string, value any) {
	p.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case ev := <-p.events:
			if ev[key] == name && fmt.Sprint(ev["value"]) == fmt.Sprint(value) {
				return
			}
			if key == "call" && ev["call"] == name {
				return
			}
		case <-deadline:
			p.t.Fatalf("PLC never saw %s %s = %v", key, name, value)
		}
	}
}

// none fails if any event reaches the PLC within d.
func (p *plc) none(d time.Duration) {
	p.t.Helper()
	select {
	case ev := <-p.events:
		p.t.Fatalf("PLC saw %v; want nothing", ev)
	case <-time.After(d):
	}
}

// direct is a plain OPC UA client of the PLC (no bridge).
func (p *plc) direct(t testing.TB) *opcua.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := opcua.NewClient(p.url(), opcua.SecurityMode(ua.MessageSecurityModeNone), opcua.SecurityPolicy(ua.SecurityPolicyURINone), opcua.AutoReconnect(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// readValue reads a node's value with a direct client.
func readValue(t testing.TB, c *opcua.Client, nodeID string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := c.Read(ctx, &ua.ReadRequest{NodesToRead: []*ua.ReadValueID{{NodeID: ua.MustParseNodeID(nodeID), AttributeID: ua.AttributeIDValue}}})
	if err != nil || len(res.Results) != 1 || res.Results[0].Status != ua.StatusOK {
		t.Fatalf("read %s: %v %v", nodeID, err, res)
	}
	return res.Results[0].Value.Value()
}

// nodes is the rig's address-space mapping: Cell/Speed (m/s, a motion
// node), Cell/Mode (non-physical), Cell/Home (a method taking a speed).
func nodes() []opcuabridge.NodeSpec {
	safe := []opcuabridge.SafeWrite{
		{NodeID: "ns=1;s=Speed", Type: "Double", Value: json.RawMessage(`0`)},
		{NodeID: "ns=1;s=Mode", Type: "String", Value: json.RawMessage(`"stopped"`)},
	}
	return []opcuabridge.NodeSpec{
		{Path: "Cell/Speed", NodeID: "ns=1;s=Speed", Kind: "variable", Type: "Double",
			Map: json.RawMessage(`{"path":"/value","quantity":"linearVelocity","unit":"m/s"}`), SafeStop: safe, StopPolicy: "deny=hold"},
		{Path: "Cell/Mode", NodeID: "ns=1;s=Mode", Kind: "variable", Type: "String", NonPhysical: true, SafeStop: safe[1:]},
		{Path: "Cell/Home", NodeID: "ns=1;s=Home", ObjectID: "ns=1;s=Cell", Kind: "method", Args: []string{"Double"},
			Map: json.RawMessage(`{"path":"/args/0/value","quantity":"linearVelocity","unit":"m/s"}`), SafeStop: safe[:1], StopPolicy: "deny=hold"},
	}
}

// gw is one in-process gateway.
type gw struct {
	*apptest.Gateway
}

func newGateway(t testing.TB) *gw {
	t.Helper()
	a := apptest.Start(t, "testdata/policy.yaml")
	a.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
	return &gw{a}
}

// agentToken registers a token for agent "opcuaagent" on opcua://plc/**
// (write, call, read, subscribe; tier 3; 1 m/s), edited by edit when set.
func (g *gw) agentToken(t testing.TB, n int, edit func(*tokens.Claims)) (*client.Agent, tokens.Claims) {
	t.Helper()
	if st := g.Admin("POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}, nil); st != 201 && st != 409 {
		t.Fatalf("add root: %d", st)
	}
	c := tokentest.Root("root", "opcuaagent", int(time.Now().UnixNano()%1e9)+n, time.Now().UnixMilli())
	c.Resource = "opcua://" + endpoint + "/**"
	c.Actions = []string{"write", "call", "read", "subscribe"}
	one := 1.0
	c.Constraints.MaxVelocityMps = &one
	if edit != nil {
		edit(&c)
	}
	tok := tokentest.Sign("root", c)
	if st := g.Admin("POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		t.Fatalf("register token: %d", st)
	}
	return &client.Agent{BaseURL: g.URL, HTTP: &http.Client{Timeout: 40 * time.Second}, Key: tokentest.Key("opcuaagent")}, c
}

func (g *gw) readKey(t testing.TB) string {
	t.Helper()
	var out struct{ Key string }
	if st := g.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "opcuabridge", "scopes": []string{"read"}}, &out); st != 201 {
		t.Fatalf("apikey: %d", st)
	}
	return out.Key
}

// rig is a bridge between a gateway and the PLC.
type rig struct {
	t      testing.TB
	gw     *gw
	plc    *plc
	bridge *opcuabridge.Bridge
	cancel context.CancelFunc
	done   chan error

	tokenID   string // the agent's token
	expiresAt int64  // its expiry, unix ms
}

type rigOpts struct {
	token    func(*tokens.Claims)
	estop    bool                                  // watch the e-stop (poll and stream)
	gateway  func(bridges.Decider) bridges.Decider // wraps the agent
	security opcuabridge.Security                  // default None
	edit     func(*opcuabridge.Config)             // last edits
}

func newRig(t testing.TB, p *plc, o rigOpts) *rig {
	t.Helper()
	g := newGateway(t)
	agent, claims := g.agentToken(t, 0, o.token)
	tokenID := claims.TokenID
	var dec bridges.Decider = agent
	if o.gateway != nil {
		dec = o.gateway(agent)
	}
	sec := o.security
	if sec.Mode == "" {
		sec.Mode = "None"
	}
	cfg := opcuabridge.Config{
		Endpoint: p.url(), EndpointName: endpoint, Security: sec, Nodes: nodes(),
		Gateway: dec, Verifier: attest.NewJWKSCache(nil, g.URL+"/.well-known/jwks.json"), TokenID: tokenID,
		PollInterval: 100 * time.Millisecond, HealthInterval: 100 * time.Millisecond, CallTimeout: 5 * time.Second,
		ReconnectDelay: 100 * time.Millisecond, Log: quiet,
	}
	if o.estop {
		cfg.Estop = bridges.OperatorEstop{Op: &client.Operator{BaseURL: g.URL, APIKey: g.readKey(t), HTTP: &http.Client{Timeout: 5 * time.Second}}}
	}
	if o.edit != nil {
		o.edit(&cfg)
	}
	b, err := opcuabridge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The PLC's checks fail the test using it (a subtest), not the test
	// that started it.
	parent := p.t
	p.t = t
	t.Cleanup(func() { p.t = parent })
	r := &rig{t: t, gw: g, plc: p, bridge: b, done: make(chan error, 1), tokenID: tokenID, expiresAt: claims.ExpiresAt}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- b.Run(ctx) }()
	t.Cleanup(r.stop)
	r.ready()
	p.drain()
	return r
}

func (r *rig) ready() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	if err := r.bridge.WaitReady(ctx); err != nil {
		r.t.Fatalf("bridge not ready: %v", err)
	}
}

func (r *rig) stop() {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case <-r.done:
	case <-time.After(3 * wait):
		r.t.Error("bridge Run did not return")
	}
}

func (r *rig) write(node, typ string, value string) opcuabridge.Outcome {
	r.t.Helper()
	tv := opcuabridge.Typed{Type: typ, Value: json.RawMessage(value)}
	return r.bridge.Do(context.Background(), opcuabridge.ActionWrite, node, &tv, nil)
}

// latched waits until the bridge latches.
func (r *rig) latched() string {
	r.t.Helper()
	deadline := time.Now().Add(3 * wait)
	for time.Now().Before(deadline) {
		if l, why := r.bridge.Latched(); l {
			return why
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatal("bridge never latched")
	return ""
}
