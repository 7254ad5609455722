package app

import (
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestRevokeInlineOnlyTokenByID guards issue 17 item 8: a token only ever
// presented inline (never registered) is revoked by its id with
// DELETE /v1/tokens/{id}; it and every inline child of it are then denied
// TOKEN_REVOKED, the revocation is in the ledger, and it survives a
// restart.
func TestRevokeInlineOnlyTokenByID(t *testing.T) {
	dir := t.TempDir()
	h, stop := initAt(t, dir)
	h.trustRoot("root")
	root := h.rootToken("il-0", nil)
	child := tokentest.Sign("il-0", tokentest.Child(root, "il-1", h.n()))
	other := h.rootToken("il-other", nil) // a sibling root: must stay allowed

	useRoot := func(h *harness) (int, api.Decision) {
		return h.intercept("il-0", h.interceptBody("il-0", func(m map[string]any) { m["token"] = root.Raw }))
	}
	useChild := func(h *harness) (int, api.Decision) {
		return h.intercept("il-1", h.interceptBody("il-1", func(m map[string]any) {
			m["token"], m["chain"] = child.Raw, []string{root.Raw}
		}))
	}
	useOther := func(h *harness) (int, api.Decision) {
		return h.intercept("il-other", h.interceptBody("il-other", func(m map[string]any) { m["token"] = other.Raw }))
	}
	for name, use := range map[string]func(*harness) (int, api.Decision){"root": useRoot, "child": useChild, "other": useOther} {
		if st, d := use(h); st != 200 || d.Decision != "allow" {
			t.Fatalf("%s inline before the revocation: %d %s %s", name, st, d.Decision, str(d.Code))
		}
	}

	var bad map[string]any
	if st := h.admin("DELETE", "/v1/tokens/not-a-token-id", nil, &bad); st != 400 || errCode(bad) != "MALFORMED_REQUEST" {
		t.Fatalf("DELETE of a malformed id: %d %v, want 400 MALFORMED_REQUEST", st, bad)
	}
	var out struct {
		Revoked    []string `json:"revoked"`
		Registered *bool    `json:"registered"`
	}
	if st := h.admin("DELETE", "/v1/tokens/"+root.Claims.TokenID, nil, &out); st != 200 {
		t.Fatalf("DELETE of an unregistered token id: %d, want 200", st)
	}
	if len(out.Revoked) != 1 || out.Revoked[0] != root.Claims.TokenID || out.Registered == nil || *out.Registered {
		t.Fatalf("DELETE answer = %+v, want the id revoked, registered false", out)
	}
	out.Revoked = nil
	if st := h.admin("DELETE", "/v1/tokens/"+root.Claims.TokenID, nil, &out); st != 200 || len(out.Revoked) != 0 {
		t.Fatalf("second DELETE: %d %+v, want 200 and nothing newly revoked", st, out)
	}
	check := func(h *harness, when string) {
		t.Helper()
		for name, use := range map[string]func(*harness) (int, api.Decision){"root": useRoot, "child": useChild} {
			if st, d := use(h); st != 403 || d.Decision != "deny" || str(d.Code) != "TOKEN_REVOKED" {
				t.Fatalf("%s inline %s: %d %s %s, want 403 TOKEN_REVOKED", name, when, st, d.Decision, str(d.Code))
			}
		}
		if st, d := useOther(h); st != 200 || d.Decision != "allow" {
			t.Fatalf("unrelated root %s: %d %s %s", when, st, d.Decision, str(d.Code))
		}
	}
	check(h, "after the revocation")
	if n := countEvents(t, h, "token.revoked", root.Claims.TokenID); n != 1 {
		t.Fatalf("token.revoked events for the inline-only token: %d, want 1", n)
	}

	stop()
	h2, _ := serveAt(t, dir, h.clock, h.adminKey)
	check(h2, "after a restart")
}

// initAt initialises dir and serves a gateway on it.
func initAt(t *testing.T, dir string) (*harness, func()) {
	t.Helper()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, created, err := InitDataDir(t.Context(), dir, ck.Now())
	if err != nil || !created {
		t.Fatalf("init: created=%v err=%v", created, err)
	}
	return serveAt(t, dir, ck, res.AdminAPIKey)
}

// errCode returns the code of an {"error":{"code"}} body.
func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// countEvents counts the ledger events of type typ for tokenID.
func countEvents(t *testing.T, h *harness, typ, tokenID string) int {
	t.Helper()
	var page struct {
		Entries []struct {
			EventType string `json:"eventType"`
			TokenID   string `json:"tokenId"`
		} `json:"events"`
	}
	if st := h.admin("GET", "/v1/ledger?eventType="+typ+"&limit=1000", nil, &page); st != 200 {
		t.Fatalf("GET /v1/ledger: %d", st)
	}
	n := 0
	for _, e := range page.Entries {
		if e.EventType == typ && e.TokenID == tokenID {
			n++
		}
	}
	return n
}

// TestOpenCircuitSuspendsDelegatedAuthority guards issue 17 item 9: while
// an agent's circuit is open, its authority is suspended everywhere. No
// delegation endpoint accepts a delegation by it (agent-signed
// /v1/tokens/delegate and /v1/a2a/delegate, operator registration of a
// child below a token it holds), and every intercept whose chain holds a
// token of that agent (registered children, inline children and
// grandchildren) is denied CIRCUIT_OPEN, as is the grant of a pending
// approval through it. Closing the circuit restores all of it.
func TestOpenCircuitSuspendsDelegatedAuthority(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	x := h.tokenFor("cx-0", nil)
	regChild := tokentest.Sign("cx-0", tokentest.Child(x, "cx-reg", h.n()))
	h.register(regChild)
	inlChild := tokentest.Sign("cx-0", tokentest.Child(x, "cx-inl", h.n()))
	grand := tokentest.Sign("cx-inl", tokentest.Child(inlChild, "cx-gr", h.n()))
	uses := []struct {
		name, agent string
		mutate      func(m map[string]any)
	}{
		{"registered-child", "cx-reg", func(m map[string]any) { m["tokenId"] = regChild.Claims.TokenID }},
		{"inline-child", "cx-inl", func(m map[string]any) { m["token"], m["chain"] = inlChild.Raw, []string{x.Raw} }},
		{"inline-grandchild", "cx-gr", func(m map[string]any) {
			m["token"], m["chain"] = grand.Raw, []string{x.Raw, inlChild.Raw}
		}},
		{"the-agent-itself", "cx-0", func(m map[string]any) { m["tokenId"] = x.Claims.TokenID }},
	}
	expectUses := func(when string, status int, dec, code string) {
		t.Helper()
		for _, u := range uses {
			st, d := h.intercept(u.agent, h.interceptBody(u.agent, u.mutate))
			if st != status || d.Decision != dec || str(d.Code) != code {
				t.Errorf("%s %s: %d %s %s (%s), want %d %s %s", u.name, when, st, d.Decision, str(d.Code), str(d.Reason), status, dec, code)
			}
		}
	}
	expectUses("before the circuit opens", 200, "allow", "<nil>")
	pending := h.escalate("cx-reg", regChild, 3)

	freshChild := func() *tokens.Token { return tokentest.Sign("cx-0", tokentest.Child(x, "cx-new", h.n())) }
	delegations := func() map[string]func() (int, string) {
		return map[string]func() (int, string){
			"agent /v1/tokens/delegate": func() (int, string) {
				var e opErr
				st := h.agentCall("cx-0", "POST", "/v1/tokens/delegate", map[string]any{"token": freshChild().Raw}, &e)
				return st, e.Error.Code
			},
			"agent /v1/a2a/delegate": func() (int, string) {
				var e opErr
				st := h.agentCall("cx-0", "POST", "/v1/a2a/delegate", map[string]any{"token": freshChild().Raw}, &e)
				return st, e.Error.Code
			},
			"operator /v1/tokens": func() (int, string) {
				var e opErr
				st := h.admin("POST", "/v1/tokens", map[string]string{"token": freshChild().Raw}, &e)
				return st, e.Error.Code
			},
			"operator /v1/tokens/delegate": func() (int, string) {
				var e opErr
				st := h.admin("POST", "/v1/tokens/delegate", map[string]string{"token": freshChild().Raw}, &e)
				return st, e.Error.Code
			},
			"grandchild by an unsuspended agent below the suspended one": func() (int, string) {
				var e opErr
				c := tokentest.Sign("cx-reg", tokentest.Child(regChild, "cx-new2", h.n()))
				st := h.agentCall("cx-reg", "POST", "/v1/tokens/delegate", map[string]any{"token": c.Raw}, &e)
				return st, e.Error.Code
			},
		}
	}

	if !h.g.Pipeline.Circuits.Open(tokentest.Pub("cx-0"), "test: severe violation", h.clock.Now()) {
		t.Fatal("the circuit was already open")
	}
	expectUses("while the circuit is open", 403, "deny", "CIRCUIT_OPEN")
	for name, call := range delegations() {
		if st, c := call(); st != 403 || c != "CIRCUIT_OPEN" {
			t.Errorf("delegation %s while the circuit is open: %d %s, want 403 CIRCUIT_OPEN", name, st, c)
		}
	}
	if st := h.admin("POST", "/v1/approvals/"+pending.approvalID+"/approve", map[string]any{}, nil); st != 200 && st != 409 {
		t.Fatalf("approve: %d", st)
	}
	if a := h.approval(pending.approvalID); a.State != "denied" || a.Decision == nil || str(a.Decision.Code) != "CIRCUIT_OPEN" {
		t.Errorf("approval granted through a suspended agent: state %s, decision %+v; want denied CIRCUIT_OPEN", a.State, a.Decision)
	}

	if st := h.admin("POST", "/v1/discovery/agents/"+tokentest.Pub("cx-0")+"/circuit/close", map[string]any{"reason": "checked"}, nil); st != 200 {
		t.Fatalf("close the circuit: %d", st)
	}
	expectUses("after the circuit closed", 200, "allow", "<nil>")
	for name, call := range delegations() {
		if st, c := call(); st != 201 {
			t.Errorf("delegation %s after the circuit closed: %d %s, want 201", name, st, c)
		}
	}
}
