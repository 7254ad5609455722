package gateway

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strconv"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

func TestAuthenticate(t *testing.T) {
	body := []byte(`{"agentId":"x","timestamp":1000}`)
	agent := tokentest.Pub("agent")
	sig := base64.RawURLEncoding.EncodeToString(ed25519.Sign(tokentest.Key("agent"), body))
	now := int64(1000)
	ok := AgentHeaders{AgentID: agent, Timestamp: "1000", Sig: sig}
	sb := SignedBody{AgentID: agent, Timestamp: 1000}
	cases := []struct {
		name string
		h    AgentHeaders
		sb   SignedBody
		body []byte
		now  int64
		want codes.Code
	}{
		{"ok", ok, sb, body, now, ""},
		{"ok/29s-skew", ok, sb, body, now + 29_999, ""},
		{"unauthenticated/missing-agent-header", AgentHeaders{Timestamp: "1000", Sig: sig}, sb, body, now, codes.Unauthenticated},
		{"unauthenticated/agent-mismatch", AgentHeaders{AgentID: tokentest.Pub("other"), Timestamp: "1000", Sig: sig}, SignedBody{AgentID: tokentest.Pub("other"), Timestamp: 1000}, body, now, codes.Unauthenticated},
		{"unauthenticated/header-body-agent-differ", ok, SignedBody{AgentID: tokentest.Pub("other"), Timestamp: 1000}, body, now, codes.Unauthenticated},
		{"stale/header-body-timestamp-differ", ok, SignedBody{AgentID: agent, Timestamp: 1001}, body, now, codes.StaleRequest},
		{"stale/too-old", ok, sb, body, now + 30_001, codes.StaleRequest},
		{"stale/too-new", ok, sb, body, now - 30_001, codes.StaleRequest},
		{"unauthenticated/body-changed", ok, sb, []byte(`{"agentId":"x","timestamp":1001}`), now, codes.Unauthenticated},
		{"unauthenticated/sig-not-base64", AgentHeaders{AgentID: agent, Timestamp: "1000", Sig: "!!"}, sb, body, now, codes.Unauthenticated},
		{"unauthenticated/padded-base64", AgentHeaders{AgentID: agent, Timestamp: "1000", Sig: sig + "=="}, sb, body, now, codes.Unauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Authenticate(tc.h, tc.body, tc.sb, tc.now, tokens.VerifySig)
			got := codes.Code("")
			if err != nil {
				got = err.Code
			}
			if got != tc.want {
				t.Fatalf("got %q want %q (%v)", got, tc.want, err)
			}
		})
	}
}

func FuzzAuthenticate(f *testing.F) {
	body := []byte(`{"agentId":"x","timestamp":1000}`)
	sig := base64.RawURLEncoding.EncodeToString(ed25519.Sign(tokentest.Key("agent"), body))
	f.Add(tokentest.Pub("agent"), "1000", sig, body)
	f.Fuzz(func(t *testing.T, agent, ts, sig string, b []byte) {
		n, _ := strconv.ParseInt(ts, 10, 64)
		err := Authenticate(AgentHeaders{AgentID: agent, Timestamp: ts, Sig: sig}, b, SignedBody{AgentID: agent, Timestamp: n}, 1000, tokens.VerifySig)
		// Only the exact signed body under the agent's key authenticates.
		if err == nil && (agent != tokentest.Pub("agent") || string(b) != string(body)) {
			t.Fatalf("accepted a forged request: %q %q", agent, b)
		}
	})
}

func TestMemoryReplay(t *testing.T) {
	r := NewMemoryReplay(1000)
	now := tokentestNow()
	if ok, _ := r.FirstSeen(context.Background(), "a", "1", now); !ok {
		t.Fatal("first sighting reported as replay")
	}
	if ok, _ := r.FirstSeen(context.Background(), "a", "1", now.Add(119e9)); ok {
		t.Fatal("replay within 120 s accepted")
	}
	if ok, _ := r.FirstSeen(context.Background(), "b", "1", now); !ok {
		t.Fatal("same requestId from another agent reported as replay")
	}
	if ok, _ := r.FirstSeen(context.Background(), "a", "1", now.Add(500e9)); !ok {
		t.Fatal("pair still remembered long after the window")
	}
	small := NewMemoryReplay(64)
	var err error
	for i := 0; i < 200 && err == nil; i++ {
		_, err = small.FirstSeen(context.Background(), "a", strconv.Itoa(i), now)
	}
	if err == nil {
		t.Fatal("a full cache must fail closed, not forget")
	}
}
