package app

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/tokens"
)

func TestInterceptStatefulDenies(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")

	t.Run("deny/replay-detected", func(t *testing.T) {
		h.t = t
		mut := withToken("rp1", nil)(h)
		m := h.interceptBody("rp1", mut)
		if st, d := h.intercept("rp1", m); st != 200 {
			t.Fatalf("first: %d %s", st, str(d.Code))
		}
		st, d := h.intercept("rp1", m)
		assertDecision(t, h, "replay", st, d, 401, "deny", "REPLAY_DETECTED", 0, false)
	})

	t.Run("deny/severe-violation-opens-circuit", func(t *testing.T) {
		h.t = t
		mut := withToken("cv1", limitVel)(h)
		m := h.interceptBody("cv1", mut)
		m["params"] = map[string]any{"linear": map[string]any{"x": 5.0}}
		st, d := h.intercept("cv1", m)
		assertDecision(t, h, "severe", st, d, 403, "deny", "PHYSICS_CONSTRAINT", 0, true)
		st, d = h.intercept("cv1", h.interceptBody("cv1", mut))
		assertDecision(t, h, "circuit", st, d, 403, "deny", "CIRCUIT_OPEN", 0, true)
		var ev struct{ Events []ledger.Entry }
		h.admin("GET", "/v1/ledger?eventType=agent.circuit.opened", nil, &ev)
		if len(ev.Events) != 1 || !strings.Contains(string(ev.Events[0].Payload), "severe") {
			t.Fatalf("circuit opening not recorded: %+v", ev.Events)
		}
	})

	t.Run("deny/rate-limit-exceeded", func(t *testing.T) {
		h.t = t
		mut := withToken("rl1", func(c *tokens.Claims) { c.Constraints.RateLimit = &tokens.RateLimit{MaxCalls: 2, WindowMs: 60_000} })(h)
		for i := range 2 {
			if st, d := h.intercept("rl1", h.interceptBody("rl1", mut)); st != 200 {
				t.Fatalf("call %d: %d %s", i, st, str(d.Code))
			}
		}
		st, d := h.intercept("rl1", h.interceptBody("rl1", mut))
		assertDecision(t, h, "rate", st, d, 403, "deny", "RATE_LIMIT_EXCEEDED", 0, true)
		h.clock.Advance(61 * time.Second)
		if st, d := h.intercept("rl1", h.interceptBody("rl1", mut)); st != 200 {
			t.Fatalf("after the window: %d %s", st, str(d.Code))
		}
	})

	t.Run("deny/repetitions-exhausted", func(t *testing.T) {
		h.t = t
		mut := withToken("rep1", func(c *tokens.Claims) { c.Constraints.MaxRepetitions = i64(1) })(h)
		if st, _ := h.intercept("rep1", h.interceptBody("rep1", mut)); st != 200 {
			t.Fatalf("first use: %d", st)
		}
		st, d := h.intercept("rep1", h.interceptBody("rep1", mut))
		assertDecision(t, h, "reps", st, d, 403, "deny", "REPETITIONS_EXHAUSTED", 0, true)
	})

	t.Run("deny/body-too-large", func(t *testing.T) {
		h.t = t
		big := bytes.Repeat([]byte("a"), 70<<10)
		var d api.Decision
		st := h.do("POST", "/v1/intercept", nil, big, &d)
		if st != 413 || d.Decision != "deny" || str(d.Code) != "MALFORMED_REQUEST" {
			t.Fatalf("oversize: %d %+v", st, d)
		}
	})

	t.Run("estop/denies-then-allows-estop-action-then-resets", func(t *testing.T) {
		h.t = t
		mut := withToken("es1", func(c *tokens.Claims) { c.Actions = []string{"publish", "estop"} })(h)
		var est map[string]any
		if st := h.admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, &est); st != 200 || est["state"] != "tripped" {
			t.Fatalf("trip: %d %v", st, est)
		}
		st, d := h.intercept("es1", h.interceptBody("es1", mut))
		assertDecision(t, h, "tripped", st, d, 403, "deny", "ESTOP_ENGAGED", 0, false)
		st, d = h.intercept("es1", h.interceptBody("es1", func(m map[string]any) { mut(m); m["action"] = "estop"; m["params"] = nil }))
		assertDecision(t, h, "estop action", st, d, 200, "allow", "", 1, true)
		// A malformed request is still denied ESTOP_ENGAGED while tripped.
		var d2 api.Decision
		if st := h.do("POST", "/v1/intercept", nil, []byte("{"), &d2); st != 403 || str(d2.Code) != "ESTOP_ENGAGED" {
			t.Fatalf("malformed while tripped: %d %s", st, str(d2.Code))
		}
		if st := h.admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, &est); st != 200 || est["state"] != "armed" {
			t.Fatalf("reset: %d %v", st, est)
		}
		if st, d := h.intercept("es1", h.interceptBody("es1", mut)); st != 200 {
			t.Fatalf("after reset: %d %s", st, str(d.Code))
		}
		// No allow commits between the trip and reset entries.
		assertNoAllowWhileTripped(t, h)
	})

	t.Run("rejections/are-summarised-in-the-ledger", func(t *testing.T) {
		h.t = t
		for range 3 {
			h.do("POST", "/v1/intercept", nil, []byte("not json"), nil)
		}
		if err := h.g.Pipeline.Rejections.Flush(context.Background(), h.g.Ledger, h.clock.Now()); err != nil {
			t.Fatal(err)
		}
		var ev struct{ Events []ledger.Entry }
		h.admin("GET", "/v1/ledger?eventType=request.rejected&limit=1000", nil, &ev)
		found := false
		for _, e := range ev.Events {
			var p map[string]any
			_ = json.Unmarshal(e.Payload, &p)
			if p["code"] == "MALFORMED_REQUEST" && p["count"].(float64) >= 3 {
				found = true
			}
		}
		if !found {
			t.Fatalf("no request.rejected summary counting the malformed requests: %+v", ev.Events)
		}
	})

	t.Run("ledger/verifies-after-everything", func(t *testing.T) {
		h.t = t
		var res ledger.VerifyResult
		if st := h.admin("POST", "/v1/ledger/verify", map[string]any{}, &res); st != 200 || !res.Valid || res.Checked == 0 {
			t.Fatalf("verify: %d %+v", st, res)
		}
	})
}

// assertNoAllowWhileTripped walks the ledger: no allow policy.evaluated
// entry may sit between a trip entry and the following reset entry.
func assertNoAllowWhileTripped(t *testing.T, h *harness) {
	t.Helper()
	tripped := false
	after := uint64(0)
	for {
		var page struct {
			Events []ledger.Entry
			Next   *uint64
		}
		h.admin("GET", "/v1/ledger?limit=1000&after="+itoa(after), nil, &page)
		for _, e := range page.Events {
			switch e.EventType {
			case "safety.estop.tripped":
				tripped = true
			case "safety.estop.reset":
				tripped = false
			case "policy.evaluated":
				var p map[string]any
				_ = json.Unmarshal(e.Payload, &p)
				if tripped && p["decision"] == "allow" && p["action"] != "estop" {
					t.Fatalf("allow entry %d committed while tripped", e.SequenceNumber)
				}
			}
		}
		if page.Next == nil {
			return
		}
		after = *page.Next
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }
