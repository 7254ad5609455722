package gpio_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/bridges/gpio"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

const (
	gripper = "gpio://cell1/gripper"
	fan     = "gpio://cell1/fan"
)

// fixture is a bridge over two fake pins with a local attestation key.
type fixture struct {
	t     testing.TB
	key   attest.Key
	agent string
	now   time.Time
	b     *gpio.Bridge
	grip  *gpiotest.Pin
	fan   *gpiotest.Pin
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	key, err := attest.NewKey(make([]byte, 32), now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, key: key, now: now, agent: hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)),
		grip: &gpiotest.Pin{N: "GPIO17"}, fan: &gpiotest.Pin{N: "GPIO18"}}
	f.b, err = gpio.New(gpio.Config{
		AgentID: f.agent, Issuer: "gw1", Verifier: gpio.StaticVerifier{V: attest.NewVerifier(key)}, Now: func() time.Time { return f.now },
		Actuators: []gpio.Actuator{{Resource: gripper, Pin: f.grip}, {Resource: fan, Pin: f.fan, PWM: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// attest signs an attestation for (resource, params) with mutate applied.
func (f *fixture) attest(resource, params string, mutate func(c *attest.Claims)) string {
	f.t.Helper()
	ph, err := attest.ParamsHash(json.RawMessage(params))
	if err != nil {
		f.t.Fatal(err)
	}
	c := attest.Claims{
		Issuer: "gw1", Subject: f.agent, Audience: resource, Action: "set", JTI: uuid.Must(uuid.NewV7()).String(),
		IssuedAt: f.now.Unix(), ExpiresAt: f.now.Unix() + 60, TokenID: uuid.Must(uuid.NewV7()).String(), Tier: 2,
		ParamsHash: ph, Envelope: json.RawMessage(`{}`), PolicyHash: hex.EncodeToString(make([]byte, 32)), LedgerSeq: 7,
	}
	if mutate != nil {
		mutate(&c)
	}
	s, err := attest.Sign(f.key, c)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func TestApply(t *testing.T) {
	on := `{"value":true}`
	for _, tc := range []struct {
		name     string
		resource string
		params   string
		att      func(f *fixture) string
		code     codes.Code // "" = applied
	}{
		{"allow/digital-on", gripper, on, func(f *fixture) string { return f.attest(gripper, on, nil) }, ""},
		{"allow/pwm-duty", fan, `{"duty":0.25}`, func(f *fixture) string { return f.attest(fan, `{"duty":0.25}`, nil) }, ""},
		{"allow/params-canonicalised", gripper, `{ "value" : true }`, func(f *fixture) string { return f.attest(gripper, on, nil) }, ""},
		{"deny/no-attestation", gripper, on, func(f *fixture) string { return "" }, codes.MalformedToken},
		{"deny/params-differ", gripper, on, func(f *fixture) string { return f.attest(gripper, `{"value":false}`, nil) }, codes.InsufficientPermissions},
		{"deny/other-resource", gripper, on, func(f *fixture) string { return f.attest(fan, on, nil) }, codes.InsufficientPermissions},
		{"deny/other-action", gripper, on, func(f *fixture) string {
			return f.attest(gripper, on, func(c *attest.Claims) { c.Action = "publish" })
		}, codes.InsufficientPermissions},
		{"deny/other-agent", gripper, on, func(f *fixture) string {
			return f.attest(gripper, on, func(c *attest.Claims) { c.Subject = hex.EncodeToString(make([]byte, 32)) })
		}, codes.InsufficientPermissions},
		{"deny/other-issuer", gripper, on, func(f *fixture) string {
			return f.attest(gripper, on, func(c *attest.Claims) { c.Issuer = "gw2" })
		}, codes.UnknownIssuer},
		{"deny/expired", gripper, on, func(f *fixture) string {
			return f.attest(gripper, on, func(c *attest.Claims) { c.IssuedAt -= 120; c.ExpiresAt -= 120 })
		}, codes.TokenExpired},
		{"deny/tampered", gripper, on, func(f *fixture) string { s := f.attest(gripper, on, nil); return s[:len(s)-4] + "AAAA" }, codes.InvalidSignature},
		{"deny/unknown-resource", "gpio://cell1/door", on, func(f *fixture) string { return f.attest("gpio://cell1/door", on, nil) }, codes.MalformedRequest},
		{"deny/duty-on-digital-pin", gripper, `{"duty":1}`, func(f *fixture) string { return f.attest(gripper, `{"duty":1}`, nil) }, codes.MalformedRequest},
		{"deny/value-on-pwm-pin", fan, on, func(f *fixture) string { return f.attest(fan, on, nil) }, codes.MalformedRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			err := f.b.Apply(context.Background(), tc.resource, json.RawMessage(tc.params), tc.att(f))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Apply: %v", err)
				}
			} else if codes.Of(err) != tc.code {
				t.Fatalf("Apply = %v, want %s", err, tc.code)
			}
			applied := f.grip.Read() == pgpio.High || f.fan.D != 0
			if applied != (tc.code == "") {
				t.Fatalf("pins: gripper %v fan duty %v; applied=%v want %v", f.grip.Read(), f.fan.D, applied, tc.code == "")
			}
			if tc.name == "allow/pwm-duty" && f.fan.D != pgpio.DutyMax/4 {
				t.Errorf("duty %v, want %v", f.fan.D, pgpio.DutyMax/4)
			}
		})
	}
}

func TestReplayAndHalt(t *testing.T) {
	ctx := context.Background()
	on, off := `{"value":true}`, `{"value":false}`
	t.Run("deny/replayed-attestation", func(t *testing.T) {
		f := newFixture(t)
		att := f.attest(gripper, on, nil)
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), att); err != nil {
			t.Fatal(err)
		}
		f.grip.Out(pgpio.Low)
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), att); codes.Of(err) != codes.ReplayDetected {
			t.Fatalf("replay: %v", err)
		}
		if f.grip.Read() != pgpio.Low {
			t.Fatal("replayed attestation drove the pin")
		}
	})
	t.Run("halt/inert-and-refuses-until-resume", func(t *testing.T) {
		f := newFixture(t)
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), f.attest(gripper, on, nil)); err != nil {
			t.Fatal(err)
		}
		if err := f.b.Apply(ctx, fan, json.RawMessage(`{"duty":1}`), f.attest(fan, `{"duty":1}`, nil)); err != nil {
			t.Fatal(err)
		}
		before := f.attest(gripper, on, nil) // allowed, not yet applied
		f.now = f.now.Add(1500 * time.Millisecond)
		if err := f.b.Halt(); err != nil {
			t.Fatal(err)
		}
		if f.grip.Read() != pgpio.Low || f.fan.Read() != pgpio.Low {
			t.Fatalf("not inert: gripper %v fan %v", f.grip.Read(), f.fan.Read())
		}
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), f.attest(gripper, on, nil)); codes.Of(err) != codes.EstopEngaged {
			t.Fatalf("while halted: %v", err)
		}
		f.b.Resume()
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), before); codes.Of(err) != codes.EstopEngaged {
			t.Fatalf("attestation from before the halt: %v", err)
		}
		f.now = f.now.Add(time.Second)
		if err := f.b.Apply(ctx, gripper, json.RawMessage(off), f.attest(gripper, off, nil)); err != nil {
			t.Fatalf("after resume: %v", err)
		}
		if err := f.b.Apply(ctx, gripper, json.RawMessage(on), f.attest(gripper, on, nil)); err != nil || f.grip.Read() != pgpio.High {
			t.Fatalf("after resume: %v %v", err, f.grip.Read())
		}
	})
}

var commandCases = []struct {
	name, in string
	ok       bool
}{
	{"ok/on", `{"value":true}`, true},
	{"ok/off", `{"value":false}`, true},
	{"ok/duty", `{"duty":0.5}`, true},
	{"ok/duty-zero", `{"duty":0}`, true},
	{"bad/both", `{"value":true,"duty":1}`, false},
	{"bad/none", `{}`, false},
	{"bad/duty-above-one", `{"duty":1.5}`, false},
	{"bad/duty-negative", `{"duty":-0.1}`, false},
	{"bad/value-number", `{"value":1}`, false},
	{"bad/unknown-field", `{"value":true,"pin":4}`, false},
	{"bad/trailing", `{"value":true}{}`, false},
	{"bad/not-json", `on`, false},
	{"bad/null", `null`, false},
}

func TestParseCommand(t *testing.T) {
	for _, tc := range commandCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gpio.ParseCommand([]byte(tc.in))
			if tc.ok != (err == nil) || err != nil && codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("ParseCommand(%s) = %v", tc.in, err)
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, tc := range commandCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := gpio.ParseCommand([]byte(s))
		if err != nil {
			return
		}
		if (c.Value == nil) == (c.Duty == nil) || c.Duty != nil && !(*c.Duty >= 0 && *c.Duty <= 1) {
			t.Fatalf("accepted %s → %+v", s, c)
		}
	})
}

// FuzzApply: whatever the attestation string, the pin is driven only when
// Apply returns nil, and only a correctly signed attestation for exactly
// this command gets there.
func FuzzApply(f *testing.F) {
	fx := newFixture(f)
	// Deterministic (fixed ids, fixed key, Ed25519 is deterministic), so
	// every fuzz worker process computes the same string.
	good := fx.attest(gripper, `{"value":true}`, func(c *attest.Claims) {
		c.JTI, c.TokenID = "01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-000000000002"
	})
	f.Add(good, `{"value":true}`)
	f.Add(good[:len(good)-2], `{"value":true}`)
	f.Add("a.b.c", `{"value":false}`)
	f.Fuzz(func(t *testing.T, att, params string) {
		fx := newFixture(t)
		err := fx.b.Apply(context.Background(), gripper, json.RawMessage(params), att)
		if err == nil {
			ph, _ := attest.ParamsHash(json.RawMessage(params))
			want, _ := attest.ParamsHash(json.RawMessage(`{"value":true}`))
			if ph != want || att != good {
				t.Fatalf("applied an attestation that is not the signed one: %q %q", att, params)
			}
		} else if fx.grip.Read() != pgpio.Low {
			t.Fatal("pin driven although Apply failed")
		}
	})
}

// scriptedEstop answers each e-stop poll with the next state sent on
// answers (a poll blocks until then, or until its timeout).
type scriptedEstop struct{ answers chan client.EstopState }

func (s scriptedEstop) ReadEstop(ctx context.Context) (client.EstopState, error) {
	select {
	case st := <-s.answers:
		return st, nil
	case <-ctx.Done():
		return client.EstopState{}, ctx.Err()
	}
}

// TestWatchEstopEpochChange: on a gateway that never tripped (epoch 0), a
// trip and a reset between two polls (the second poll reads armed, epoch 1)
// still drive every pin inert once; the bridge then accepts commands again.
func TestWatchEstopEpochChange(t *testing.T) {
	for _, tc := range []struct {
		name         string
		first, later uint64
	}{
		{"never-tripped/0-to-1", 0, 1},
		{"never-tripped/0-to-2", 0, 2},
		{"tripped-before/3-to-4", 3, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx, cancel := context.WithCancel(context.Background())
			r := scriptedEstop{answers: make(chan client.EstopState)}
			done := make(chan error, 1)
			go func() { done <- f.b.WatchEstop(ctx, r, 10*time.Millisecond) }()
			defer func() { cancel(); <-done }()
			_ = f.grip.Out(pgpio.High) // a command in effect
			r.answers <- client.EstopState{State: "armed", Epoch: tc.first}
			r.answers <- client.EstopState{State: "armed", Epoch: tc.later}
			r.answers <- client.EstopState{State: "armed", Epoch: tc.later} // the second poll was applied
			if f.grip.Read() != pgpio.Low {
				t.Fatal("the trip between two polls left the gripper driven")
			}
			if f.b.Halted() {
				t.Fatal("still halted after the armed polls")
			}
		})
	}
}
