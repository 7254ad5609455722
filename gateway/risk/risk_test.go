package risk

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

var scoreCases = []struct {
	name string
	in   Input
	want float64
}{
	{"allow/tier1", Input{Decision: "allow", Tier: 1}, 0.05},
	{"allow/tier3", Input{Decision: "allow", Tier: 3}, 0.30},
	{"allow/tier5", Input{Decision: "allow", Tier: 5}, 0.70},
	{"allow/unknown-tier", Input{Decision: "allow", Tier: 9}, 0.30},
	{"allow/anomalous", Input{Decision: "allow", Tier: 2, Anomalous: true}, 0.40},
	{"escalate/tier4", Input{Decision: "escalate", Tier: 4}, 0.60},
	{"deny/goal-hijack", Input{Decision: "deny", Tier: 3, Code: codes.GoalHijack}, 1.0},
	{"deny/physics-severe", Input{Decision: "deny", Tier: 3, Code: codes.PhysicsConstraint, Severe: true}, 1.0},
	{"deny/physics", Input{Decision: "deny", Tier: 2, Code: codes.PhysicsConstraint}, 0.65},
	{"deny/rate", Input{Decision: "deny", Tier: 1, Code: codes.RateLimitExceeded}, 0.30},
	{"deny/estop", Input{Decision: "deny", Tier: 1, Code: codes.EstopEngaged}, 0.15},
	{"deny/unknown-code", Input{Decision: "deny", Tier: 1, Code: "NEW_CODE"}, 0.15},
	{"garbage/decision-counts-as-deny", Input{Decision: "maybe", Tier: 1}, 0.15},
}

func TestScore(t *testing.T) {
	for _, c := range scoreCases {
		t.Run(c.name, func(t *testing.T) {
			if got := Score(c.in); got != c.want {
				t.Fatalf("Score(%+v) = %v, want %v", c.in, got, c.want)
			}
		})
	}
	t.Run("monotone/deny-above-allow", func(t *testing.T) {
		for tier := 0; tier <= 5; tier++ {
			if Score(Input{Decision: "deny", Tier: tier, Code: codes.TokenRevoked}) <= Score(Input{Decision: "allow", Tier: tier}) {
				t.Fatalf("tier %d: deny not riskier than allow", tier)
			}
		}
	})
}

func FuzzScore(f *testing.F) {
	for _, c := range scoreCases {
		f.Add(c.in.Decision, c.in.Tier, string(c.in.Code), c.in.Severe, c.in.Anomalous)
	}
	f.Fuzz(func(t *testing.T, d string, tier int, code string, severe, anom bool) {
		in := Input{Decision: d, Tier: tier, Code: codes.Code(code), Severe: severe, Anomalous: anom}
		r := Score(in)
		if r < 0 || r > 1 {
			t.Fatalf("Score(%+v) = %v outside [0,1]", in, r)
		}
		in.Anomalous = true
		if Score(in) < r {
			t.Fatalf("anomaly lowered the risk")
		}
	})
}

var filterCases = []struct {
	name string
	f    Filter
	e    Event
	want bool
}{
	{"match/empty", Filter{}, Event{AgentID: "a", Resource: "ros:///x", Risk: 0}, true},
	{"match/agent", Filter{AgentID: "a"}, Event{AgentID: "a"}, true},
	{"miss/agent", Filter{AgentID: "a"}, Event{AgentID: "b"}, false},
	{"match/resource-exact", Filter{Resource: "ros:///cmd_vel"}, Event{Resource: "ros:///cmd_vel"}, true},
	{"miss/resource-exact", Filter{Resource: "ros:///cmd_vel"}, Event{Resource: "ros:///cmd_vel2"}, false},
	{"match/resource-prefix", Filter{Resource: "ros:///*"}, Event{Resource: "ros:///cmd_vel"}, true},
	{"miss/resource-prefix", Filter{Resource: "mqtt://*"}, Event{Resource: "ros:///cmd_vel"}, false},
	{"match/star-only", Filter{Resource: "*"}, Event{Resource: ""}, true},
	{"match/min-risk-equal", Filter{MinRisk: 0.5}, Event{Risk: 0.5}, true},
	{"miss/min-risk", Filter{MinRisk: 0.5}, Event{Risk: 0.49}, false},
}

func TestFilter(t *testing.T) {
	for _, c := range filterCases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.f.Match(&c.e); got != c.want {
				t.Fatalf("Match = %v, want %v", got, c.want)
			}
		})
	}
}

// FuzzFilter decodes client filters as the stream handler does and
// checks that matching never panics and respects MinRisk.
func FuzzFilter(f *testing.F) {
	for _, c := range filterCases {
		b, _ := json.Marshal(c.f)
		f.Add(b, c.e.AgentID, c.e.Resource, c.e.Risk)
	}
	f.Fuzz(func(t *testing.T, raw []byte, agent, resource string, r float64) {
		var fl Filter
		if json.Unmarshal(raw, &fl) != nil || !fl.Valid() {
			return
		}
		e := Event{AgentID: agent, Resource: resource, Risk: r}
		if fl.Match(&e) && r < fl.MinRisk {
			t.Fatalf("matched below MinRisk")
		}
	})
}

func TestHub(t *testing.T) {
	t.Run("deliver/filtered", func(t *testing.T) {
		var h Hub
		all, _ := h.Subscribe(nil, 4)
		hi, _ := h.Subscribe(&Filter{MinRisk: 0.5}, 4)
		h.Publish(Event{Risk: 0.1})
		h.Publish(Event{Risk: 0.9})
		if len(all.C) != 2 || len(hi.C) != 1 {
			t.Fatalf("all=%d hi=%d", len(all.C), len(hi.C))
		}
		if e := <-hi.C; e.Risk != 0.9 || e.Seq != 2 {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("slow/dropped-never-blocks", func(t *testing.T) {
		var h Hub
		slow, _ := h.Subscribe(nil, 2)
		fast, _ := h.Subscribe(nil, 100)
		for range 10 {
			h.Publish(Event{})
		}
		n := 0
		for range slow.C { // closed after the two buffered events
			n++
		}
		if n != 2 || !slow.Dropped() {
			t.Fatalf("slow got %d, dropped=%v", n, slow.Dropped())
		}
		if len(fast.C) != 10 || fast.Dropped() {
			t.Fatalf("fast got %d", len(fast.C))
		}
		if subs, dropped := h.Stats(); subs != 1 || dropped != 1 {
			t.Fatalf("stats %d %d", subs, dropped)
		}
		h.Unsubscribe(slow) // idempotent after a drop
	})
	t.Run("set-filter/applies-to-next", func(t *testing.T) {
		var h Hub
		s, _ := h.Subscribe(nil, 4)
		s.SetFilter(&Filter{AgentID: "x"})
		h.Publish(Event{AgentID: "y"})
		h.Publish(Event{AgentID: "x"})
		if len(s.C) != 1 {
			t.Fatalf("got %d", len(s.C))
		}
		h.Unsubscribe(s)
		if _, ok := <-s.C; !ok {
			t.Fatal("buffered event lost")
		}
		if _, ok := <-s.C; ok {
			t.Fatal("channel not closed")
		}
	})
}

func TestTracker(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	var tr Tracker
	tr.Observe(Event{AgentID: "a", At: t0.UnixMilli(), Risk: 0.8, Decision: "deny", Code: "TOKEN_REVOKED"})
	tr.Observe(Event{AgentID: "a", At: t0.UnixMilli(), Risk: 0.1, Decision: "allow"})
	tr.Observe(Event{AgentID: "b", At: t0.UnixMilli(), Risk: 0.3, Decision: "allow"})
	t.Run("peak/holds", func(t *testing.T) {
		a, ok := tr.Agent("a", t0)
		if !ok || a.Risk != 0.8 || a.Decisions != 2 || a.Denies != 1 {
			t.Fatalf("%+v", a)
		}
	})
	t.Run("decay/half-life", func(t *testing.T) {
		a, _ := tr.Agent("a", t0.Add(HalfLife))
		if a.Risk != 0.4 {
			t.Fatalf("risk after one half-life = %v", a.Risk)
		}
	})
	t.Run("snapshot/order-and-alerts", func(t *testing.T) {
		ag, al := tr.Snapshot(t0)
		if len(ag) != 2 || ag[0].AgentID != "a" || ag[1].AgentID != "b" {
			t.Fatalf("%+v", ag)
		}
		if len(al) != 1 || al[0].Kind != "high_risk" {
			t.Fatalf("%+v", al)
		}
	})
	t.Run("alerts/ring-newest-first", func(t *testing.T) {
		var tr Tracker
		for i := range MaxAlerts + 5 {
			tr.Observe(Event{At: int64(i), Code: "GOAL_HIJACK", Risk: 1})
		}
		_, al := tr.Snapshot(t0)
		if len(al) != MaxAlerts || al[0].Event.At != MaxAlerts+4 || al[len(al)-1].Event.At != 5 {
			t.Fatalf("len %d first %d last %d", len(al), al[0].Event.At, al[len(al)-1].Event.At)
		}
	})
}

func TestStats(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var s Stats
	for i := range 120 {
		s.Add(&Event{At: now.Add(-time.Duration(i+1) * time.Second).UnixMilli(), Decision: "allow", Tier: 2, LatencyUs: int64(i + 1)})
	}
	s.Add(&Event{At: now.Add(-2 * time.Hour).UnixMilli(), Decision: "deny", Tier: 1})    // too old
	s.Add(&Event{At: now.Add(-30 * time.Second).UnixMilli(), Decision: "deny", Tier: 3}) // in both
	snap := s.Snapshot(now)
	t.Run("minute", func(t *testing.T) {
		if snap.Minute.Total != 61 || snap.Minute.Matrix["allow"]["2"] != 1 || snap.Minute.ByDecision["deny"] != 1.0/60 {
			t.Fatalf("%+v", snap.Minute)
		}
	})
	t.Run("hour", func(t *testing.T) {
		if snap.Hour.Total != 121 {
			t.Fatalf("%+v", snap.Hour)
		}
	})
	t.Run("latency", func(t *testing.T) {
		if snap.P50Us != 59 || snap.P99Us != 118 || snap.Samples != 122 {
			t.Fatalf("p50 %d p99 %d n %d", snap.P50Us, snap.P99Us, snap.Samples)
		}
	})
}

func BenchmarkPublish(b *testing.B) {
	var h Hub
	for range 8 {
		s, _ := h.Subscribe(&Filter{MinRisk: 2}, 16)
		defer h.Unsubscribe(s)
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(Event{Risk: 0.5})
	}
}

func BenchmarkMonitorObserve(b *testing.B) {
	m := &Monitor{Anomalous: func(string) bool { return false }}
	s, _ := m.Hub.Subscribe(&Filter{MinRisk: 0.9}, 16)
	defer m.Hub.Unsubscribe(s)
	e := Event{AgentID: "agent", Decision: "allow", Tier: 2, Risk: 0.15}
	now := time.Unix(1_700_000_000, 0)
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		i++
		e.At = now.UnixMilli() + i
		m.Stats.Add(&e)
		m.Tracker.Observe(m.Hub.Publish(e))
	}
}

func BenchmarkScore(b *testing.B) {
	in := Input{Decision: "deny", Tier: 3, Code: codes.GoalHijack}
	for b.Loop() {
		_ = Score(in)
	}
}
