package app

import (
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
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
