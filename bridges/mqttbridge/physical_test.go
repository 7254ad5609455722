package mqttbridge_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/mqttbridge"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens"
)

// The conveyor's payload nests its speed: {"cmd":{"speed": m/s}}.
const conveyorMap = `{"path":"/cmd/speed","quantity":"linearVelocity","unit":"m/s"}`

// TestPhysicalPayloadsRealGateway, from the robot side (mosquitto clients on
// the real broker, a real gateway): the policy maps the conveyor's nested
// speed, the token allows 1 m/s. A payload over the mapped limit is denied
// with the velocity code and never reaches the device topic; one without the
// mapped value is denied too (fail closed); one within arrives byte for
// byte. The belt route is mapped only in the bridge (mm/s): the gateway does
// not read its speed, so a payload beyond the attested 1 m/s arrives clamped.
func TestPhysicalPayloadsRealGateway(t *testing.T) {
	r := newRig(t, rigOpts{
		routes: []string{"conveyor1", "belt1"},
		maps: map[string]string{
			"conveyor1": conveyorMap,
			"belt1":     `[{"path":"belt.mmps","quantity":"linearVelocity","unit":"mm/s"}]`,
		},
		policy: "testdata/policy_physical.yaml",
		token:  func(c *tokens.Claims) { v := 1.0; c.Constraints.MaxVelocityMps = &v },
	})
	if r == nil {
		return
	}
	t.Run("deny/nested-speed-over-mapped-limit", func(t *testing.T) {
		r.send("conveyor1", `{"cmd":{"speed":1.5},"seq":1}`)
		rep := r.peer.report(mqttbridge.OutcomeDeny, string(codes.PhysicsConstraint))
		if !strings.Contains(rep.Reason, "/cmd/speed") || !strings.Contains(rep.Reason, "maxVelocityMps") {
			t.Fatalf("deny reason %q does not name the path and the limit", rep.Reason)
		}
		r.peer.quiet(300 * time.Millisecond)
	})
	t.Run("deny/mapped-value-missing", func(t *testing.T) {
		r.send("conveyor1", `{"cmd":{"velocity":0.2},"seq":2}`)
		rep := r.peer.report(mqttbridge.OutcomeDeny, string(codes.PhysicsConstraint))
		if !strings.Contains(rep.Reason, "/cmd/speed is missing") {
			t.Fatalf("deny reason %q", rep.Reason)
		}
		r.peer.quiet(300 * time.Millisecond)
	})
	t.Run("allow/within-arrives-unchanged", func(t *testing.T) {
		r.send("conveyor1", `{"cmd":{"speed":0.75},"seq":3}`)
		r.expect("conveyor1", `{"cmd":{"speed":0.75},"seq":3}`)
	})
	t.Run("allow/bridge-mapped-value-clamped-to-attested-envelope", func(t *testing.T) {
		r.send("belt1", `{"belt":{"mmps":1500,"dir":"fwd"}}`)
		r.expect("belt1", `{"belt":{"mmps":1000,"dir":"fwd"}}`)
		if s := r.bridge.Stats(); s.Clamped != 1 || s.Denied != 2 || s.Forwarded != 2 {
			t.Fatalf("stats %+v", s)
		}
	})
}

// TestPhysicalPayloadClampedToTighterEnvelope: a nested value within the
// gateway's check but beyond the envelope the attestation carries arrives
// clamped to the envelope, in the route's unit, the rest of the payload byte
// for byte; a payload whose mapped value is missing is not published.
func TestPhysicalPayloadClampedToTighterEnvelope(t *testing.T) {
	if testenv.MQTTAddr(t) == "" {
		return
	}
	r, g, _ := newFakeRigMapped(t, map[string]string{"conveyor1": `{"path":"cmd.speed","quantity":"linearVelocity","unit":"mm/s"}`})
	g.set(func(api.InterceptRequest) (string, func(*attest.Claims), func(string) string) {
		return "allow", func(c *attest.Claims) { c.Envelope = json.RawMessage(`{"maxVelocityMps":0.5}`) }, nil
	}, nil)
	r.send("conveyor1", `{"cmd":{"speed":800, "ramp":2},"id":"a"}`)
	r.expect("conveyor1", `{"cmd":{"speed":500, "ramp":2},"id":"a"}`)
	r.send("conveyor1", `{"cmd":{"speed":-300}}`)
	r.expect("conveyor1", `{"cmd":{"speed":-300}}`)
	r.send("conveyor1", `{"cmd":{}}`)
	rep := r.peer.report(mqttbridge.OutcomeDropped, string(codes.PhysicsConstraint))
	if !strings.Contains(rep.Reason, "/cmd/speed is missing") {
		t.Fatalf("drop reason %q", rep.Reason)
	}
	r.peer.quiet(300 * time.Millisecond)
	if s := r.bridge.Stats(); s.Clamped != 1 || s.Forwarded != 2 || s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// newFakeRigMapped is newFakeRig with mapped routes (by name) and no
// e-stop.
func newFakeRigMapped(t *testing.T, maps map[string]string) (*rig, *fakeGateway, *fakeEstop) {
	t.Helper()
	var routes []string
	for n := range maps {
		routes = append(routes, n)
	}
	key, err := attest.NewKey(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	agent := hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	g := &fakeGateway{t: t, key: key, agent: agent, decide: allow}
	return newRig(t, rigOpts{fake: g, verifier: staticVerifier{attest.NewVerifier(key)}, issuer: "gw", routes: routes, maps: maps}), g, nil
}

// TestMotionRouteWithoutMappingRefused: a route that neither maps its
// payload nor is declared non-physical keeps the bridge from starting, with
// an error naming the route and both ways out; declared non-physical, the
// same route starts.
func TestMotionRouteWithoutMappingRefused(t *testing.T) {
	addr := testenv.MQTTAddr(t)
	if addr == "" {
		return
	}
	p := prefix()
	rt, err := mqttbridge.ParseRoute(p + "/agent/conveyor1=" + p + "/dev/conveyor1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mqttbridge.Config{Broker: "mqtt://" + addr, BrokerName: broker, Routes: []mqttbridge.Route{rt},
		Gateway: &fakeGateway{t: t, decide: allow}, Verifier: staticVerifier{}, TokenID: "tok", Log: quiet}
	_, err = mqttbridge.New(cfg)
	if err == nil || codes.Of(err) != codes.MalformedRequest || !strings.Contains(err.Error(), p+"/dev/conveyor1") ||
		!strings.Contains(err.Error(), "--map") || !strings.Contains(err.Error(), "--non-physical") {
		t.Fatalf("New = %v; want a refusal naming the route, --map and --non-physical", err)
	}
	if err := mqttbridge.SetNonPhysical(cfg.Routes, p+"/dev/conveyor1"); err != nil {
		t.Fatal(err)
	}
	if _, err := mqttbridge.New(cfg); err != nil {
		t.Fatalf("non-physical route refused: %v", err)
	}
}
