package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sintgate/sintgate/gateway/server"
)

// keyID returns the id part of "sk_<id>_<secret>".
func keyID(t *testing.T, key string) string {
	t.Helper()
	id, _, ok := server.ParseAPIKey(key)
	if !ok {
		t.Fatalf("malformed key %q", key)
	}
	return id
}

// closedWithin reads c until it ends and returns the close error and how
// long it took (failing after 10 s: a deleted key's stream must end).
func closedWithin(t *testing.T, c *websocket.Conn) (error, time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the stream of a deleted key was still open after 10 s")
			}
			return err, time.Since(start)
		}
	}
}

// TestDeletedKeyCannotVoteOverItsStream guards issue 17 item 10: an
// approvals WebSocket opened with an API key cannot vote once the key is
// deleted, and every stream the key opened (approvals WebSocket and SSE,
// risk WebSocket) closes: at once when deleted on this replica, and at the
// next key re-check when deleted elsewhere (only the shared store knows).
func TestDeletedKeyCannotVoteOverItsStream(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	tok := h.tokenFor("kd-agent", nil)

	t.Run("deleted-elsewhere/vote-refused-and-socket-closes", func(t *testing.T) {
		h.t = t
		bob := h.operatorKey("bob", "approve", "read")
		c, _, err := dialWS(t, h.url, "sint.v1", "bearer."+bob)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		e := h.escalate("kd-agent", tok, 3)
		readWS(t, c, func(m wsMsg) bool { return m.Type == "event" && strings.Contains(string(m.Data), e.approvalID) })
		// As if another replica deleted it: only the shared store changes.
		if err := h.g.Store.DeleteAPIKey(t.Context(), keyID(t, bob)); err != nil {
			t.Fatal(err)
		}
		if st := h.as(bob, "GET", "/v1/approvals", nil, nil); st != 401 {
			t.Fatalf("HTTP with the deleted key: %d, want 401", st)
		}
		_ = c.WriteJSON(map[string]any{"type": "approve", "approvalId": e.approvalID, "reason": "deleted key"})
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			var m wsMsg
			if err := c.ReadJSON(&m); err != nil {
				break // closed before answering: the vote was not applied either
			}
			if m.Type == "result" {
				if m.OK || m.Error == nil || m.Error.Code != "UNAUTHENTICATED" {
					t.Fatalf("vote with a deleted key: %+v", m)
				}
				break
			}
		}
		err, took := closedWithin(t, c)
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("socket ended with %v, want close 1008", err)
		}
		t.Logf("key deleted in the store → socket closed: %v", took)
		if a := h.approval(e.approvalID); a.State != "pending" {
			t.Fatalf("approval after a vote with a deleted key: %s, want pending", a.State)
		}
	})

	t.Run("deleted-here/every-stream-closes", func(t *testing.T) {
		h.t = t
		carol := h.operatorKey("carol", "approve", "read")
		ws, _, err := dialWS(t, h.url, "sint.v1", "bearer."+carol)
		if err != nil {
			t.Fatalf("dial approvals: %v", err)
		}
		defer ws.Close()
		d := websocket.Dialer{Subprotocols: []string{"sint.v1", "bearer." + carol}, HandshakeTimeout: 5 * time.Second}
		risk, _, err := d.Dial("ws"+strings.TrimPrefix(h.url, "http")+"/v1/risk/stream", nil)
		if err != nil {
			t.Fatalf("dial risk: %v", err)
		}
		defer risk.Close()
		sse := openSSE(t, h.url, carol, 0)
		defer sse.close()
		e := h.escalate("kd-agent", tok, 3)
		readWS(t, ws, func(m wsMsg) bool { return m.Type == "event" && strings.Contains(string(m.Data), e.approvalID) })
		for ev := sse.next(t); !strings.Contains(ev.Event, "approval") || ev.Data["approvalId"] != e.approvalID; ev = sse.next(t) {
		}

		start := time.Now()
		if st := h.admin("DELETE", "/v1/apikeys/"+keyID(t, carol), nil, nil); st != 204 {
			t.Fatalf("delete key: %d", st)
		}
		if err, _ := closedWithin(t, ws); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("approvals socket ended with %v, want close 1008", err)
		}
		if err, _ := closedWithin(t, risk); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("risk socket ended with %v, want close 1008", err)
		}
		closed := false
		deadline := time.After(10 * time.Second)
		for !closed {
			select {
			case ev, ok := <-sse.events:
				if !ok {
					t.Fatal("SSE stream ended without its closed event")
				}
				closed = ev.Event == "closed" && ev.Data["code"] == "UNAUTHENTICATED"
			case <-deadline:
				t.Fatal("the SSE stream of a deleted key was still open after 10 s")
			}
		}
		select {
		case <-sse.done:
		case <-time.After(10 * time.Second):
			t.Fatal("the SSE response did not end after its closed event")
		}
		t.Logf("DELETE /v1/apikeys → approvals WS, risk WS and SSE closed: %v", time.Since(start))
		if a := h.approval(e.approvalID); a.State != "pending" {
			t.Fatalf("approval: %s, want pending", a.State)
		}
	})
}
