package rosbridge_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
	"github.com/sintgate/sintgate/bridges/rosbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
)

// fakeGateway decides with a function and signs allows with a local key.
type fakeGateway struct {
	t      *testing.T
	key    attest.Key
	agent  string
	decide func(r api.InterceptRequest) (kind string, mutate func(c *attest.Claims))
	before func() // called at the start of every Intercept (may block)
}

func (g *fakeGateway) AgentID() string { return g.agent }
func (g *fakeGateway) AwaitApproval(ctx context.Context, id string) (*api.Decision, int, error) {
	<-ctx.Done()
	return nil, 0, ctx.Err()
}

func (g *fakeGateway) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	if g.before != nil {
		g.before()
	}
	kind, mutate := g.decide(r)
	switch kind {
	case "unreachable":
		return nil, 0, errors.New("connection refused")
	case "deny":
		code, reason := "PHYSICS_CONSTRAINT", "too fast"
		return &api.Decision{RequestID: &r.RequestID, Decision: "deny", Code: &code, Reason: &reason}, 403, nil
	}
	ph, _ := attest.ParamsHash(r.Params)
	now := time.Now().Unix()
	c := attest.Claims{Issuer: "gw", Subject: g.agent, Audience: r.Resource, Action: r.Action, JTI: r.RequestID,
		IssuedAt: now, ExpiresAt: now + 60, TokenID: uuid.Must(uuid.NewV7()).String(), Tier: 2, ParamsHash: ph,
		Envelope: json.RawMessage(`{"maxVelocityMps":1,"maxAngularVelocityRps":2}`), PolicyHash: "p", LedgerSeq: 1}
	if mutate != nil {
		mutate(&c)
	}
	att, err := attest.Sign(g.key, c)
	if err != nil {
		g.t.Errorf("sign: %v", err)
	}
	return &api.Decision{RequestID: &r.RequestID, Decision: "allow", Attestation: &att, Tier: 2}, 200, nil
}

type staticVerifier struct{ v *attest.Verifier }

func (s staticVerifier) Verify(_ context.Context, tok string, now time.Time, want attest.Expect) (*attest.Claims, error) {
	return s.v.Verify(tok, now, want)
}

// fakeEstop is a settable e-stop state.
type fakeEstop struct {
	mu    sync.Mutex
	state string
	epoch uint64
	err   error
	reads int // ReadEstop calls
	mark  int // reads at the last set
}

func (f *fakeEstop) set(state string, epoch uint64, err error) {
	f.mu.Lock()
	f.state, f.epoch, f.err, f.mark = state, epoch, err, f.reads
	f.mu.Unlock()
}

func (f *fakeEstop) ReadEstop(context.Context) (client.EstopState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return client.EstopState{State: f.state, Epoch: f.epoch}, f.err
}

// polled waits until a poll that read the last set state has finished (the
// bridge polls one at a time, so that is when the second read after the
// set has begun).
func (f *fakeEstop) polled(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		done := f.reads >= f.mark+2
		f.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the bridge stopped polling the e-stop")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fakeRig runs a bridge against fakeGateway on the in-process fake master.
type fakeRig struct {
	gw       *fakeGateway
	estop    *fakeEstop
	bridge   *rosbridge.Bridge
	agentPub *ros.Publisher
	out      chan *msgs.Twist
	cancel   context.CancelFunc
	done     chan error
	master   *rosmastertest.Master
	sub      *ros.Subscriber // the driver: the test node's actuator subscriber
}

func newFakeRig(t *testing.T, withEstop bool) *fakeRig {
	t.Helper()
	ctx := context.Background()
	master := rosmastertest.Start()
	t.Cleanup(master.Close)
	key, err := attest.NewKey(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	agent := hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	f := &fakeRig{gw: &fakeGateway{t: t, key: key, agent: agent}, out: make(chan *msgs.Twist, 64)}
	f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) { return "allow", nil }
	nodes := make([]*ros.Node, 2)
	for i, name := range []string{"/bridge", "/test"} {
		if nodes[i], err = ros.NewNode(ctx, ros.NodeConfig{Name: name, MasterURI: master.URI(), Logger: quiet}); err != nil {
			t.Fatal(err)
		}
		n := nodes[i]
		t.Cleanup(func() { _ = n.Close(context.Background()) })
	}
	cfg := rosbridge.Config{Node: nodes[0], Gateway: f.gw, Verifier: staticVerifier{attest.NewVerifier(key)},
		Routes:  []rosbridge.Route{{Agent: "/agent/cmd_vel", Actuator: "/cmd_vel", Type: msgs.TwistType}},
		TokenID: "tok", Issuer: "gw", PollInterval: 10 * time.Millisecond, Log: quiet, LinkCheck: 20 * time.Millisecond}
	if withEstop {
		f.estop = &fakeEstop{state: "armed", epoch: 1}
		cfg.Estop = f.estop
	}
	if f.bridge, err = rosbridge.New(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	sub, err := nodes[1].Subscribe(ctx, "/cmd_vel", msgs.TwistType, func(m msgs.Message) { f.out <- m.(*msgs.Twist) })
	if err != nil {
		t.Fatal(err)
	}
	f.master, f.sub = master, sub
	if f.agentPub, err = nodes[1].Publisher(ctx, "/agent/cmd_vel", msgs.TwistType, false); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	f.cancel, f.done = cancel, make(chan error, 1)
	go func() { f.done <- f.bridge.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-f.done })
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	if err := f.agentPub.WaitForSubscribers(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for sub.NumPublishers() < 1 && wctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if err := f.bridge.WaitActuators(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeRig) send(t *testing.T, m *msgs.Twist) {
	t.Helper()
	if err := f.agentPub.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (f *fakeRig) next(d time.Duration) *msgs.Twist {
	select {
	case m := <-f.out:
		return m
	case <-time.After(d):
		return nil
	}
}

func TestBridgeFakeGateway(t *testing.T) {
	in := &msgs.Twist{Linear: msgs.Vector3{X: 0.4}}
	for _, tc := range []struct {
		name   string
		mutate func(c *attest.Claims)
	}{
		{"drop/params-hash-mismatch", func(c *attest.Claims) { c.ParamsHash = hex.EncodeToString(make([]byte, 32)) }},
		{"drop/other-resource", func(c *attest.Claims) { c.Audience = "ros:///other" }},
		{"drop/other-agent", func(c *attest.Claims) { c.Subject = hex.EncodeToString(make([]byte, 32)) }},
		{"drop/other-issuer", func(c *attest.Claims) { c.Issuer = "evil" }},
		{"drop/other-request", func(c *attest.Claims) { c.JTI = uuid.Must(uuid.NewV7()).String() }},
		{"drop/expired", func(c *attest.Claims) { c.IssuedAt -= 300; c.ExpiresAt -= 300 }},
		{"drop/bad-envelope", func(c *attest.Claims) { c.Envelope = json.RawMessage(`{"maxVelocityMps":-1}`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRig(t, false)
			f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) { return "allow", tc.mutate }
			f.send(t, in)
			// The command is dropped; on a motion route that means its
			// safe stop (the default policy), never the command.
			if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
				t.Fatalf("got %+v with a bad attestation, want the safe stop", got)
			}
			if got := f.next(300 * time.Millisecond); got != nil {
				t.Fatalf("forwarded %+v with a bad attestation", got)
			}
			if s := f.bridge.Stats(); s.Dropped != 1 || s.Forwarded != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}

	// Three attestation failures in a row are a fault: the bridge latches
	// and later good allows are refused until a reset.
	t.Run("fault/attestation-failures-in-a-row-latch", func(t *testing.T) {
		f := newFakeRig(t, false)
		f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) {
			return "allow", func(c *attest.Claims) { c.Issuer = "evil" }
		}
		for i := range 3 {
			f.send(t, &msgs.Twist{Linear: msgs.Vector3{X: 0.1 * float64(i+1)}})
			for f.bridge.Stats().Dropped < int64(i+1) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		if latched, why := f.bridge.FaultLatched(); !latched || !strings.Contains(why, "attestation") {
			t.Fatalf("fault latched=%v %q", latched, why)
		}
		f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) { return "allow", nil }
		f.send(t, in)
		for f.bridge.Stats().Dropped < 4 {
			time.Sleep(5 * time.Millisecond)
		}
		for got := f.next(300 * time.Millisecond); got != nil; got = f.next(300 * time.Millisecond) {
			if *got != (msgs.Twist{}) {
				t.Fatalf("forwarded %+v while the fault is latched", got)
			}
		}
		f.bridge.Reset("test")
		f.send(t, in)
		if got := f.next(5 * time.Second); got == nil || *got != *in {
			t.Fatalf("after the reset got %+v", got)
		}
	})

	// The link check (every second): a master that stops answering, and an
	// actuator topic whose driver left, are faults.
	t.Run("fault/master-lost", func(t *testing.T) {
		f := newFakeRig(t, false)
		f.master.Close()
		if got := f.next(10 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
		if latched, why := f.bridge.FaultLatched(); !latched || !strings.Contains(why, "master lost") {
			t.Fatalf("fault latched=%v %q", latched, why)
		}
	})
	t.Run("fault/controller-link-lost", func(t *testing.T) {
		f := newFakeRig(t, false)
		// A driver that was there and left: give the 20 ms link check time
		// to see it connected first (a precondition, not a measurement).
		time.Sleep(500 * time.Millisecond)
		if err := f.sub.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			latched, why := f.bridge.FaultLatched()
			if latched && strings.Contains(why, "controller link lost") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no controller-link fault: latched=%v %q", latched, why)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("allow/clamped-to-attested-envelope", func(t *testing.T) {
		f := newFakeRig(t, false)
		f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) {
			return "allow", func(c *attest.Claims) {
				c.Envelope = json.RawMessage(`{"maxVelocityMps":0.5,"maxAngularVelocityRps":0.1}`)
			}
		}
		f.send(t, &msgs.Twist{Linear: msgs.Vector3{X: 0.6, Y: 0.8}, Angular: msgs.Vector3{Z: 0.05}})
		got := f.next(5 * time.Second)
		if got == nil || math.Abs(rosbridge.Norm(got.Linear)-0.5) > 1e-9 || rosbridge.Norm(got.Linear) > 0.5 || got.Angular.Z != 0.05 {
			t.Fatalf("got %+v, want linear scaled to norm 0.5, angular unchanged", got)
		}
		if math.Abs(got.Linear.X/got.Linear.Y-0.75) > 1e-9 {
			t.Fatalf("direction changed: %+v", got.Linear)
		}
		if s := f.bridge.Stats(); s.Clamped != 1 {
			t.Fatalf("stats %+v", s)
		}
	})

	t.Run("estop/allow-in-flight-at-trip-is-dropped", func(t *testing.T) {
		f := newFakeRig(t, true)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		f.gw.before = func() { entered <- struct{}{}; <-release }
		f.send(t, in)
		<-entered
		f.estop.set("tripped", 2, nil) // trip while the intercept is in flight
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
		close(release) // the gateway's allow arrives after the trip
		if got := f.next(300 * time.Millisecond); got != nil {
			t.Fatalf("allow from before the trip forwarded after the safe stop: %+v", got)
		}
		f.gw.before = nil
		f.estop.set("armed", 2, nil)
		for latched, _ := f.bridge.Latched(); latched; latched, _ = f.bridge.Latched() {
			time.Sleep(5 * time.Millisecond)
		}
		f.send(t, in)
		if got := f.next(5 * time.Second); got == nil || *got != *in {
			t.Fatalf("after reset got %+v", got)
		}
	})

	t.Run("estop/trip-and-reset-between-polls-still-stops", func(t *testing.T) {
		f := newFakeRig(t, true)
		f.estop.set("armed", 3, nil) // epoch jumped from 1: a trip we never saw
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
	})

	t.Run("estop/unknown-state-latches", func(t *testing.T) {
		// A 200 without a state ({}) is not "armed": fail closed.
		f := newFakeRig(t, true)
		f.estop.set("", 1, nil)
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
		if latched, why := f.bridge.Latched(); !latched || !strings.Contains(why, "not armed") {
			t.Fatalf("latched=%v %q", latched, why)
		}
	})

	t.Run("estop/unknown-state-does-not-unlatch", func(t *testing.T) {
		f := newFakeRig(t, true)
		f.estop.set("tripped", 2, nil)
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
		f.estop.set("", 2, nil)
		f.estop.polled(t)
		if latched, _ := f.bridge.Latched(); !latched {
			t.Fatal("a poll without a state unlatched the bridge")
		}
	})

	// An unreachable gateway is a fault: the bridge stays latched when the
	// gateway answers armed again, until the bridge-local reset.
	t.Run("unreachable/poll-error-latches-until-the-local-reset", func(t *testing.T) {
		f := newFakeRig(t, true)
		f.estop.set("", 0, errors.New("connection refused"))
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
		f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) { return "unreachable", nil }
		f.send(t, in)
		if got := f.next(300 * time.Millisecond); got != nil {
			t.Fatalf("forwarded while unreachable: %+v", got)
		}
		f.gw.decide = func(api.InterceptRequest) (string, func(*attest.Claims)) { return "allow", nil }
		f.estop.set("armed", 1, nil)
		f.estop.polled(t)
		f.estop.polled(t)
		if latched, _ := f.bridge.Latched(); !latched {
			t.Fatal("an armed poll after an unreachable gateway unlatched the bridge without a reset")
		}
		if !f.bridge.Reset("test") {
			t.Fatal("Reset found no fault latched")
		}
		for latched, _ := f.bridge.Latched(); latched; latched, _ = f.bridge.Latched() {
			time.Sleep(5 * time.Millisecond)
		}
		f.send(t, in)
		if got := f.next(5 * time.Second); got == nil || *got != *in {
			t.Fatalf("after recovery got %+v", got)
		}
	})

	t.Run("stop/run-end-publishes-safe-stop", func(t *testing.T) {
		f := newFakeRig(t, false)
		f.cancel()
		<-f.done
		f.done <- nil // for the cleanup
		if got := f.next(5 * time.Second); got == nil || *got != (msgs.Twist{}) {
			t.Fatalf("got %+v, want the safe stop", got)
		}
	})
}
