package app

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestFleetAuthorityTakenAway guards issue 17 items 8 and 10 across
// replicas: a token only ever presented inline, revoked by its id on
// replica A, is denied TOKEN_REVOKED on replica B (bus, with the PostgreSQL
// catch-up as the backstop) and on a replica started after the revocation;
// an API key deleted on A closes the approvals WebSocket it opened on B.
func TestFleetAuthorityTakenAway(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes")
	}
	pgURL := testenv.FreshPGDatabase(t)
	redisAddr := testenv.RedisAddr(t)
	f := newFleet(t, 2, pgURL, redisAddr)
	a, b := f.gws[0], f.gws[1]
	if st := f.call(a, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 {
		t.Fatalf("add root on A: %d", st)
	}
	root := tokentest.Sign("root", tokentest.Root("root", "fi-0", 1, time.Now().UnixMilli()))
	child := tokentest.Sign("fi-0", tokentest.Child(root, "fi-1", 2))
	body := func(agent, tok string, chain ...string) []byte {
		m := map[string]any{
			"requestId": uuid.Must(uuid.NewV7()).String(), "agentId": tokentest.Pub(agent),
			"timestamp": time.Now().UnixMilli(), "token": tok, "resource": "ros:///cmd_vel", "action": "publish",
			"params": map[string]any{"linear": map[string]any{"x": 0.1, "y": 0, "z": 0}},
		}
		if len(chain) > 0 {
			m["chain"] = chain
		}
		out, _ := json.Marshal(m)
		return out
	}
	waitUntil(t, "B to trust the root added on A", func() bool {
		d, _, _ := intercept(f.hc, b, "fi-1", body("fi-1", child.Raw, root.Raw))
		return d.Decision == "allow"
	})
	if st := f.call(a, "DELETE", "/v1/tokens/"+root.Claims.TokenID, nil, nil); st != 200 {
		t.Fatalf("revoke the inline-only root on A: %d", st)
	}
	start := time.Now()
	waitUntil(t, "B to deny the inline child TOKEN_REVOKED", func() bool {
		d, _, _ := intercept(f.hc, b, "fi-1", body("fi-1", child.Raw, root.Raw))
		return d.Decision == "deny" && code(d) == "TOKEN_REVOKED"
	})
	t.Logf("inline-only revocation on A → B denies: %v", time.Since(start))
	if d, _, _ := intercept(f.hc, b, "fi-0", body("fi-0", root.Raw)); code(d) != "TOKEN_REVOKED" {
		t.Fatalf("B, the revoked token itself: %s %s", d.Decision, code(d))
	}
	// An API key deleted on A ends its stream on B (B learns it only from
	// PostgreSQL, at its next key re-check).
	var k struct{ ID, Key string }
	if st := f.call(a, "POST", "/v1/apikeys", map[string]any{"operatorId": "dora", "scopes": []string{"approve", "read"}}, &k); st != 201 {
		t.Fatalf("create key on A: %d", st)
	}
	ws, _, err := dialWS(t, b.url, "sint.v1", "bearer."+k.Key)
	if err != nil {
		t.Fatalf("dial B: %v", err)
	}
	defer ws.Close()
	if st := f.call(a, "DELETE", "/v1/apikeys/"+k.ID, nil, nil); st != 204 {
		t.Fatalf("delete key on A: %d", st)
	}
	cerr, took := closedWithin(t, ws)
	if !websocket.IsCloseError(cerr, websocket.ClosePolicyViolation) {
		t.Fatalf("B's socket ended with %v, want close 1008", cerr)
	}
	t.Logf("key deleted on A → its WebSocket on B closed: %v", took)

	// A replica (re)started after the revocation loads it from PostgreSQL.
	if err := f.gws[1].cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = f.gws[1].cmd.Wait()
	f.gws[1] = f.start(1)
	if d, _, _ := intercept(f.hc, f.gws[1], "fi-1", body("fi-1", child.Raw, root.Raw)); code(d) != "TOKEN_REVOKED" {
		t.Fatalf("restarted B: %s %s, want TOKEN_REVOKED", d.Decision, code(d))
	}
}
