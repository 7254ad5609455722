package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestPolicyReload: a good file replaces the policy (new hash, a
// policy.loaded event, new tiers apply); a bad file is refused with file,
// line and field, and the old policy stays active.
func TestPolicyReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	orig, _ := os.ReadFile("testdata/policy.yaml")
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, path)
	h.trustRoot("root")
	mut := withToken("pr1", nil)(h)
	st, d := h.intercept("pr1", h.interceptBody("pr1", mut))
	if st != 200 || d.Tier != 2 {
		t.Fatalf("before reload: %d tier %d", st, d.Tier)
	}
	oldHash := *d.PolicyHash

	t.Run("reload/bad-file-keeps-old-policy", func(t *testing.T) {
		h.t = t
		bad := strings.Replace(string(orig), "    tier: 2\n", "    tier: 2\n    tierr: 3\n", 1)
		os.WriteFile(path, []byte(bad), 0o600)
		var e struct {
			Error struct{ Code, Message string }
		}
		if st := h.admin("POST", "/v1/policy/reload", nil, &e); st != 422 || !strings.Contains(e.Error.Message, "policy.yaml:") || !strings.Contains(e.Error.Message, "tierr") {
			t.Fatalf("bad reload: %d %+v", st, e)
		}
		st, d := h.intercept("pr1", h.interceptBody("pr1", mut))
		if st != 200 || *d.PolicyHash != oldHash {
			t.Fatalf("after a bad reload: %d hash %s", st, *d.PolicyHash)
		}
	})

	t.Run("reload/good-file-applies", func(t *testing.T) {
		h.t = t
		good := strings.Replace(string(orig), "  - resource: \"ros:///cmd_vel\"\n    actions: [publish]\n    tier: 2", "  - resource: \"ros:///cmd_vel\"\n    actions: [publish]\n    tier: 3", 1)
		os.WriteFile(path, []byte(good), 0o600)
		var out struct{ PolicyHash string }
		if st := h.admin("POST", "/v1/policy/reload", nil, &out); st != 200 || out.PolicyHash == oldHash {
			t.Fatalf("good reload: %d %+v", st, out)
		}
		st, d := h.intercept("pr1", h.interceptBody("pr1", mut))
		if st != 202 || d.Tier != 3 || *d.PolicyHash != out.PolicyHash {
			t.Fatalf("after reload: %d tier %d", st, d.Tier)
		}
		var ev struct{ Events []ledger.Entry }
		h.admin("GET", "/v1/ledger?eventType=policy.loaded", nil, &ev)
		if len(ev.Events) != 2 || !strings.Contains(string(ev.Events[1].Payload), out.PolicyHash) {
			t.Fatalf("policy.loaded events: %+v", ev.Events)
		}
	})
}

// TestCircuitClose: an operator with agents:write closes a circuit a severe
// violation opened; the agent is served again; the closing is recorded.
func TestCircuitClose(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	mut := withToken("cc1", func(c *tokens.Claims) { c.Constraints.MaxVelocityMps = f64(0.5) })(h)
	m := h.interceptBody("cc1", mut)
	m["params"] = map[string]any{"velocity": 2.0}
	if st, d := h.intercept("cc1", m); st != 403 || str(d.Code) != "PHYSICS_CONSTRAINT" {
		t.Fatalf("severe: %d %s", st, str(d.Code))
	}
	agent := tokentest.Pub("cc1")
	var c map[string]any
	h.admin("GET", "/v1/discovery/agents/"+agent+"/circuit", nil, &c)
	if c["open"] != true {
		t.Fatalf("circuit not open: %v", c)
	}
	var k struct{ Key string }
	h.admin("POST", "/v1/apikeys", map[string]any{"operatorId": "reader", "scopes": []string{"read"}}, &k)
	if st := h.do("POST", "/v1/discovery/agents/"+agent+"/circuit/close", map[string]string{"Authorization": "Bearer " + k.Key}, []byte(`{}`), nil); st != 403 {
		t.Fatalf("close without agents:write: %d", st)
	}
	if st := h.admin("POST", "/v1/discovery/agents/"+agent+"/circuit/close", map[string]string{"reason": "checked the arm"}, &c); st != 200 || c["open"] != false {
		t.Fatalf("close: %d %v", st, c)
	}
	if st, d := h.intercept("cc1", h.interceptBody("cc1", mut)); st != 200 {
		t.Fatalf("after close: %d %s", st, str(d.Code))
	}
	var ev struct{ Events []ledger.Entry }
	h.admin("GET", "/v1/ledger?eventType=agent.circuit.closed", nil, &ev)
	if len(ev.Events) != 1 || ev.Events[0].AgentID != "operator:admin" {
		t.Fatalf("closing not recorded: %+v", ev.Events)
	}
}
