package mqttbridge_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/mqttbridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
)

// fakeGateway decides with a function and signs allows with a local key.
type fakeGateway struct {
	t      *testing.T
	key    attest.Key
	agent  string
	mu     sync.Mutex
	decide func(r api.InterceptRequest) (kind string, mutate func(c *attest.Claims), tamper func(string) string)
	before func() // called at the start of every Intercept (may block)
	// awaitEnd, if set, is called when an AwaitApproval's ctx ends, before
	// it returns.
	awaitEnd func()
}

func (g *fakeGateway) set(decide func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string), before func()) {
	g.mu.Lock()
	g.decide, g.before = decide, before
	g.mu.Unlock()
}

func (g *fakeGateway) AgentID() string { return g.agent }
func (g *fakeGateway) AwaitApproval(ctx context.Context, id string) (*api.Decision, int, error) {
	<-ctx.Done()
	g.mu.Lock()
	end := g.awaitEnd
	g.mu.Unlock()
	if end != nil {
		end()
	}
	return nil, 0, ctx.Err()
}

func (g *fakeGateway) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	g.mu.Lock()
	decide, before := g.decide, g.before
	g.mu.Unlock()
	if before != nil {
		before()
	}
	kind, mutate, tamper := decide(r)
	switch kind {
	case "unreachable":
		return nil, 0, errors.New("connection refused")
	case "allow-no-attestation":
		return &api.Decision{RequestID: &r.RequestID, Decision: "allow", Tier: 2}, 200, nil
	case "nil":
		return nil, 200, nil // a broken Decider
	case "escalate":
		id := uuid.Must(uuid.NewV7()).String()
		return &api.Decision{RequestID: &r.RequestID, Decision: "escalate", ApprovalID: &id, Tier: 3}, 202, nil
	}
	ph, _ := attest.ParamsHash(r.Params)
	now := time.Now().Unix()
	c := attest.Claims{Issuer: "gw", Subject: g.agent, Audience: r.Resource, Action: r.Action, JTI: r.RequestID,
		IssuedAt: now, ExpiresAt: now + 60, TokenID: uuid.Must(uuid.NewV7()).String(), Tier: 2, ParamsHash: ph,
		Envelope: json.RawMessage(`{}`), PolicyHash: strings.Repeat("ab", 32), LedgerSeq: 1}
	if mutate != nil {
		mutate(&c)
	}
	att, err := attest.Sign(g.key, c)
	if err != nil {
		g.t.Errorf("sign: %v", err)
	}
	if tamper != nil {
		att = tamper(att)
	}
	return &api.Decision{RequestID: &r.RequestID, Decision: "allow", Attestation: &att, Tier: 2}, 200, nil
}

func allow(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
	return "allow", nil, nil
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

// newFakeRig runs a bridge with a fake gateway on the real broker.
func newFakeRig(t *testing.T, withEstop bool) (*rig, *fakeGateway, *fakeEstop) {
	t.Helper()
	var es *fakeEstop
	if withEstop {
		es = &fakeEstop{state: "armed", epoch: 1}
	}
	return newFakeRigEstop(t, es)
}

// newFakeRigEstop is newFakeRig with the given e-stop (nil: no poll).
func newFakeRigEstop(t *testing.T, es *fakeEstop) (*rig, *fakeGateway, *fakeEstop) {
	t.Helper()
	key, err := attest.NewKey(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	agent := hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	g := &fakeGateway{t: t, key: key, agent: agent, decide: allow}
	// These tests cover the latch and connection mechanics: a refused
	// command holds (deny=hold) and a fault clears when it is gone
	// (ResetAuto). The stop policies and the fault latch's default are
	// TestStopSemantics' and TestFaultLatch's.
	o := rigOpts{fake: g, verifier: staticVerifier{attest.NewVerifier(key)}, issuer: "gw",
		every: 10 * time.Millisecond, safeStops: map[string]string{"lamp1": lampOff},
		stop: "deny=hold", reset: stopsem.ResetAuto}
	if es != nil {
		o.estop = es
	}
	return newRig(t, o), g, es
}

func TestBridgeFakeGateway(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   string
		mutate func(c *attest.Claims)
		tamper func(string) string
		code   string
	}{
		{"drop/params-hash-mismatch", "allow", func(c *attest.Claims) { c.ParamsHash = hex.EncodeToString(make([]byte, 32)) }, nil, ""},
		{"drop/other-resource", "allow", func(c *attest.Claims) { c.Audience = "mqtt://test/other" }, nil, ""},
		{"drop/other-action", "allow", func(c *attest.Claims) { c.Action = "set" }, nil, ""},
		{"drop/other-agent", "allow", func(c *attest.Claims) { c.Subject = hex.EncodeToString(make([]byte, 32)) }, nil, ""},
		{"drop/other-issuer", "allow", func(c *attest.Claims) { c.Issuer = "evil" }, nil, ""},
		{"drop/other-request", "allow", func(c *attest.Claims) { c.JTI = uuid.Must(uuid.NewV7()).String() }, nil, "INVALID_SIGNATURE"},
		{"drop/expired", "allow", func(c *attest.Claims) { c.IssuedAt -= 300; c.ExpiresAt -= 300 }, nil, ""},
		{"drop/tampered-signature", "allow", nil, func(s string) string {
			i := strings.LastIndexByte(s, '.') + 1
			b := []byte(s)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}, ""},
		{"drop/tampered-claims", "allow", nil, func(s string) string {
			// Re-encode the claims with another resource, keep the signature.
			parts := strings.Split(s, ".")
			return parts[0] + "." + parts[1] + "x." + parts[2]
		}, ""},
		{"drop/allow-without-attestation", "allow-no-attestation", nil, nil, "INVALID_SIGNATURE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, g, _ := newFakeRig(t, false)
			g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
				return tc.kind, tc.mutate, tc.tamper
			}, nil)
			r.send("lamp1", lampOn)
			rep := r.peer.report(mqttbridge.OutcomeDropped, tc.code)
			if rep.RequestID == "" || rep.Code == "" {
				t.Errorf("report %+v", rep)
			}
			// The next device message is a verified one: the bad one never came.
			g.set(allow, nil)
			r.send("lamp1", `{"state":"on","level":0.1}`)
			r.expect("lamp1", `{"state":"on","level":0.1}`)
			if s := r.bridge.Stats(); s.Dropped != 1 || s.Forwarded != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}

	t.Run("estop/allow-in-flight-at-trip-is-dropped", func(t *testing.T) {
		r, g, es := newFakeRig(t, true)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		g.set(allow, func() { entered <- struct{}{}; <-release })
		r.send("lamp1", lampOn)
		<-entered
		es.set("tripped", 2, nil) // trip while the intercept is in flight
		r.expect("lamp1", lampOff)
		close(release) // the allow arrives after the trip
		rep := r.peer.report(mqttbridge.OutcomeDropped, "ESTOP_ENGAGED")
		if !strings.Contains(rep.Reason, "latched") {
			t.Errorf("report %+v", rep)
		}
		g.set(allow, nil)
		es.set("armed", 2, nil)
		r.peer.report(mqttbridge.OutcomeResumed, "")
		r.send("lamp1", `{"state":"on","level":0.2}`)
		r.expect("lamp1", `{"state":"on","level":0.2}`) // first device message after the safe stop
	})

	t.Run("estop/trip-and-reset-between-polls-still-stops", func(t *testing.T) {
		r, _, es := newFakeRig(t, true)
		es.set("armed", 3, nil) // epoch jumped from 1: a trip we never saw
		r.expect("lamp1", lampOff)
	})

	t.Run("estop/unknown-state-latches", func(t *testing.T) {
		// A 200 without a state ({}) is not "armed": fail closed.
		r, _, es := newFakeRig(t, true)
		es.set("", 1, nil)
		r.expect("lamp1", lampOff)
		if latched, why := r.bridge.Latched(); !latched || !strings.Contains(why, "not armed") {
			t.Fatalf("latched=%v %q", latched, why)
		}
	})

	t.Run("estop/unknown-state-does-not-unlatch", func(t *testing.T) {
		r, _, es := newFakeRig(t, true)
		es.set("tripped", 2, nil)
		r.expect("lamp1", lampOff)
		es.set("", 2, nil)
		es.polled(t)
		if latched, _ := r.bridge.Latched(); !latched {
			t.Fatal("a poll without a state unlatched the bridge")
		}
		es.set("armed", 2, nil)
		r.peer.report(mqttbridge.OutcomeResumed, "")
	})

	t.Run("unreachable/poll-error-latches-and-recovers", func(t *testing.T) {
		r, g, es := newFakeRig(t, true)
		es.set("", 0, errors.New("connection refused"))
		r.expect("lamp1", lampOff)
		g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
			return "unreachable", nil, nil
		}, nil)
		r.send("lamp1", lampOn)
		r.peer.report(mqttbridge.OutcomeDropped, "INTERNAL_ERROR")
		g.set(allow, nil)
		es.set("armed", 1, nil)
		r.peer.report(mqttbridge.OutcomeResumed, "")
		r.send("lamp1", `{"state":"on","level":0.3}`)
		r.expect("lamp1", `{"state":"on","level":0.3}`)
	})

	t.Run("unreachable/before-first-connection-safe-stop-on-connect", func(t *testing.T) {
		// The first poll fails before the broker connection exists: the
		// safe stop is owed and goes out on the first connection.
		r, _, _ := newFakeRigEstop(t, &fakeEstop{err: errors.New("connection refused")})
		r.expect("lamp1", lampOff)
		if latched, _ := r.bridge.Latched(); !latched {
			t.Fatal("not latched")
		}
	})

	t.Run("broker/disconnect-drops-in-flight-allow-and-safe-stops-on-reconnect", func(t *testing.T) {
		r, g, _ := newFakeRig(t, false)
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		g.set(allow, func() { entered <- struct{}{}; <-release })
		r.send("lamp1", lampOn)
		<-entered
		r.bridge.DropBrokerConnection()
		// Wait until the bridge noticed (it latches), then let the allow
		// arrive: it was sent before the loss, so it is never published.
		deadline := time.Now().Add(wait)
		for latched, _ := r.bridge.Latched(); !latched; latched, _ = r.bridge.Latched() {
			if time.Now().After(deadline) {
				t.Fatal("bridge never noticed the connection loss")
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(release)
		// On reconnect the owed safe stop goes out before anything else.
		r.expect("lamp1", lampOff)
		rep := r.peer.report(mqttbridge.OutcomeDropped, "")
		if rep.Code != "ESTOP_ENGAGED" && rep.Code != "INTERNAL_ERROR" {
			t.Errorf("in-flight allow report %+v", rep)
		}
		g.set(allow, nil)
		wctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := r.bridge.WaitConnected(wctx); err != nil {
			t.Fatal(err)
		}
		r.send("lamp1", `{"state":"on","level":0.4}`)
		r.expect("lamp1", `{"state":"on","level":0.4}`)
		if s := r.bridge.Stats(); s.Forwarded != 1 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("broker/message-queued-before-outage-never-published-after-reconnect", func(t *testing.T) {
		// A is with the gateway, B waits in the mailbox; the connection
		// drops and comes back (its safe stop published); only then do A's
		// and B's allows arrive. B arrived on the old connection: both are
		// dropped, and the device's next command is a later message.
		r, g, _ := newFakeRig(t, false)
		release := make(chan struct{})
		t.Cleanup(openOnce(release)) // a failure before the release must not hang Run's end
		entered := make(chan struct{}, 1)
		var calls atomic.Int64
		g.set(allow, func() {
			if calls.Add(1) == 1 {
				entered <- struct{}{}
				<-release
			}
		})
		a, b, c := `{"n":1}`, `{"n":2}`, `{"n":3}`
		r.send("lamp1", a)
		<-entered
		r.send("lamp1", b)
		waitFor(t, "B in the mailbox", func() bool { return r.bridge.Waiting(r.routes["lamp1"].Agent) })
		r.bridge.DropBrokerConnection()
		r.expect("lamp1", lampOff) // the reconnect's owed safe stop
		wctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := r.bridge.WaitConnected(wctx); err != nil {
			t.Fatal(err)
		}
		openOnce(release)()
		var ids []string
		for range 2 {
			rep := r.peer.report(mqttbridge.OutcomeDropped, "")
			ids = append(ids, rep.RequestID)
		}
		if ids[0] == "" || ids[1] == "" || ids[0] == ids[1] {
			t.Errorf("dropped reports for %q, want A's and B's", ids)
		}
		r.send("lamp1", c)
		for {
			m := r.peer.next(wait)
			if m == nil {
				t.Fatal("the later message never arrived")
			}
			if string(m.Payload) == lampOff || len(m.Payload) == 0 {
				continue // a safe stop (the latch's, if it beat the reconnect), or its retained copy withdrawn
			}
			if string(m.Payload) != c {
				t.Fatalf("device got %q, want %q (A and B arrived before the outage)", m.Payload, c)
			}
			break
		}
		if s := r.bridge.Stats(); s.Forwarded != 1 || s.Dropped != 2 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("coalesce/newest-waiting-message-wins", func(t *testing.T) {
		r, g, _ := newFakeRig(t, false)
		release := make(chan struct{})
		entered := make(chan struct{}, 4)
		g.set(allow, func() { entered <- struct{}{}; <-release })
		r.send("lamp1", `{"n":1}`)
		<-entered // the first is with the gateway
		r.send("lamp1", `{"n":2}`)
		r.send("lamp1", `{"n":3}`) // replaces 2 in the mailbox
		waitFor(t, "3 received", func() bool { return r.bridge.Stats().Coalesced == 1 })
		g.set(allow, nil)
		close(release)
		r.expect("lamp1", `{"n":1}`)
		r.expect("lamp1", `{"n":3}`)
		r.peer.report(mqttbridge.OutcomeCoalesced, "") // by the worker, when it took 3
		if s := r.bridge.Stats(); s.Coalesced != 1 || s.Forwarded != 2 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("coalesce/flood-counted-and-reported-once-by-the-worker", func(t *testing.T) {
		// 40 messages arrive while the first is with the gateway: the
		// receive path only counts them, and the worker reports the 39
		// coalesced ones in one report when it takes the newest.
		r, g, _ := newFakeRig(t, false)
		release := make(chan struct{})
		t.Cleanup(openOnce(release)) // a failure before the release must not hang Run's end
		entered := make(chan struct{}, 64)
		var calls atomic.Int64
		g.set(allow, func() {
			if calls.Add(1) == 1 {
				entered <- struct{}{}
				<-release
			}
		})
		r.send("lamp1", `{"n":0}`)
		<-entered
		const n = 40
		for i := 1; i <= n; i++ {
			r.send("lamp1", fmt.Sprintf(`{"n":%d}`, i))
		}
		waitFor(t, "every message received", func() bool { return r.bridge.Stats().Coalesced == n-1 })
		openOnce(release)()
		r.expect("lamp1", `{"n":0}`)
		r.expect("lamp1", fmt.Sprintf(`{"n":%d}`, n))
		rep := r.peer.report(mqttbridge.OutcomeCoalesced, "")
		if want := fmt.Sprintf("%d message(s) replaced", n-1); !strings.HasPrefix(rep.Reason, want) {
			t.Fatalf("coalesced report %+v, want one report starting %q", rep, want)
		}
		if s := r.bridge.Stats(); s.Coalesced != n-1 || s.Forwarded != 2 {
			t.Errorf("stats %+v", s)
		}
	})

	t.Run("unreachable/nil-decision-latches-and-drops", func(t *testing.T) {
		// A Decider answering (nil, nil) is broken: fail closed, no panic.
		r, g, _ := newFakeRig(t, false)
		g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
			return "nil", nil, nil
		}, nil)
		r.send("lamp1", lampOn)
		r.expect("lamp1", lampOff) // the latch's safe stop, never the command
		rep := r.peer.report(mqttbridge.OutcomeDropped, "INTERNAL_ERROR")
		if !strings.Contains(rep.Reason, "no decision") {
			t.Errorf("report %+v", rep)
		}
		g.set(allow, nil)
		r.send("lamp1", `{"state":"on","level":0.5}`)
		r.expect("lamp1", `{"state":"on","level":0.5}`)
	})

	t.Run("escalate/latch-while-intercept-in-flight-ends-the-hold", func(t *testing.T) {
		// The e-stop trips and resets while an escalating intercept is with
		// the gateway: the latch found no hold to cancel, so the hold must
		// see the new generation itself and end (its approval could never
		// be actuated).
		r, g, es := newFakeRig(t, true)
		release := make(chan struct{})
		t.Cleanup(openOnce(release))
		entered := make(chan struct{}, 1)
		var calls atomic.Int64
		g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
			return "escalate", nil, nil
		}, func() {
			if calls.Add(1) == 1 {
				entered <- struct{}{}
				<-release
			}
		})
		r.send("lamp1", lampOn)
		<-entered
		es.set("tripped", 2, nil)
		r.expect("lamp1", lampOff)
		es.set("armed", 2, nil)
		r.peer.report(mqttbridge.OutcomeResumed, "")
		openOnce(release)()
		rep := r.peer.reportWhere(func(x mqttbridge.Report) bool {
			return x.Outcome == mqttbridge.OutcomeEscalate || x.Outcome == mqttbridge.OutcomeDropped
		})
		if rep.Outcome != mqttbridge.OutcomeDropped || rep.Code != "APPROVAL_CANCELLED" || rep.ApprovalID == "" {
			t.Fatalf("report %+v, want the hold ended (dropped APPROVAL_CANCELLED)", rep)
		}
		g.set(allow, nil)
		r.send("lamp1", `{"state":"on","level":0.6}`)
		r.expect("lamp1", `{"state":"on","level":0.6}`)
	})

	t.Run("broker/oversized-packet-never-delivered", func(t *testing.T) {
		// The bridge advertises MaxPacketSize: the broker discards a larger
		// message instead of sending it. The next message is the small one,
		// and nothing was read, coalesced or refused before it.
		r, _, _ := newFakeRig(t, false)
		big := `{"pad":"` + strings.Repeat("x", 64<<10) + `"}` // over mqttbridge.MaxPacketSize
		r.send("lamp1", big)
		r.send("lamp1", lampOn)
		r.expect("lamp1", lampOn)
		if s := r.bridge.Stats(); s.Dropped != 0 || s.Coalesced != 0 || s.Forwarded != 1 {
			t.Errorf("stats %+v: the oversized message reached the bridge", s)
		}
	})

	t.Run("stop/broker-manager-stopped-run-returns", func(t *testing.T) {
		// The connection manager ends behind Run's back: Run must latch
		// and return, not wait forever for its route workers.
		r, _, _ := newFakeRig(t, false)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		r.bridge.StopBrokerManager(ctx)
		select {
		case err := <-r.done:
			if err == nil {
				t.Error("Run returned nil after the connection manager stopped")
			}
			r.cancel()
			r.cancel = nil
		case <-time.After(wait):
			t.Fatal("Run did not return after the connection manager stopped")
		}
		if latched, _ := r.bridge.Latched(); !latched {
			t.Error("not latched")
		}
	})

	t.Run("stop/run-waits-for-held-escalations", func(t *testing.T) {
		// A held escalation's wait ends with Run's context; Run returns
		// only after it has. The fake's wait lingers a little after its
		// context ends, so a Run that did not wait returns first.
		r, g, _ := newFakeRig(t, false)
		var ended atomic.Bool
		g.mu.Lock()
		g.awaitEnd = func() { time.Sleep(100 * time.Millisecond); ended.Store(true) }
		g.mu.Unlock()
		g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
			return "escalate", nil, nil
		}, nil)
		r.send("lamp1", lampOn)
		r.peer.report(mqttbridge.OutcomeEscalate, "")
		r.stop()
		if !ended.Load() {
			t.Fatal("Run returned while a held escalation's wait was still running")
		}
	})

	t.Run("stop/run-end-publishes-safe-stop", func(t *testing.T) {
		r, _, _ := newFakeRig(t, false)
		r.stop()
		r.expect("lamp1", lampOff)
	})
}

// waitFor polls cond until it holds (at most wait).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, wait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// openOnce returns a function that closes ch unless it is closed already.
func openOnce(ch chan struct{}) func() {
	return func() {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}
