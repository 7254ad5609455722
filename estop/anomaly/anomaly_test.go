package anomaly

import (
	"fmt"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

var t0 = time.UnixMilli(1763928000000)

func allow(agent string) Observation { return Observation{AgentID: agent, Decision: "allow"} }
func deny(agent string, c codes.Code) Observation {
	return Observation{AgentID: agent, Decision: "deny", Code: c}
}

func TestDetector(t *testing.T) {
	type obs struct {
		at time.Duration
		o  Observation
	}
	repeat := func(n int, step time.Duration, o Observation) []obs {
		out := make([]obs, n)
		for i := range out {
			out[i] = obs{at: time.Duration(i) * step, o: o}
		}
		return out
	}
	tests := []struct {
		name        string
		cfg         Config
		obs         []obs
		wantOpenAt  int // index of the observation that opens the circuit, -1 never
		wantTripAt  int // index that trips, -1 never
		wantBumpEnd bool
	}{
		{name: "allow/clean-agent", obs: repeat(500, time.Millisecond, allow("a")), wantOpenAt: -1, wantTripAt: -1},
		{name: "circuit/injection-hits", obs: repeat(5, time.Second, deny("a", codes.GoalHijack)), wantOpenAt: 2, wantTripAt: -1, wantBumpEnd: true},
		{name: "circuit/injection-hits-outside-window", obs: repeat(5, 40*time.Second, deny("a", codes.GoalHijack)), wantOpenAt: -1, wantTripAt: -1, wantBumpEnd: true},
		{name: "circuit/severe-violation", obs: []obs{{0, allow("a")}, {time.Second, Observation{AgentID: "a", Decision: "deny", Code: codes.PhysicsConstraint, Severe: true}}}, wantOpenAt: 1, wantTripAt: -1, wantBumpEnd: true},
		{name: "trip/severe-violation-when-configured", cfg: Config{TripOnSevereViolation: true},
			obs: []obs{{0, Observation{AgentID: "a", Decision: "deny", Code: codes.PhysicsConstraint, Severe: true}}}, wantOpenAt: 0, wantTripAt: 0, wantBumpEnd: true},
		{name: "circuit/deny-rate", obs: repeat(25, 100*time.Millisecond, deny("a", codes.InsufficientPermissions)), wantOpenAt: 19, wantTripAt: -1, wantBumpEnd: true},
		{name: "allow/estop-denies-not-agents-fault", obs: repeat(300, 10*time.Millisecond, deny("a", codes.EstopEngaged)), wantOpenAt: -1, wantTripAt: -1},
		{name: "allow/circuit-open-denies-do-not-snowball", obs: repeat(300, 10*time.Millisecond, deny("a", codes.CircuitOpen)), wantOpenAt: -1, wantTripAt: -1},
		// Injection flood, default policy: the agent whose hit completes the
		// flood gets its circuit opened; the fleet is not tripped.
		{name: "circuit/fleet-injection-flood-default", cfg: Config{InjectionHits: -1, TripInjectionHits: 4},
			obs:        []obs{{0, deny("a", codes.GoalHijack)}, {1, deny("b", codes.GoalHijack)}, {2, deny("c", codes.GoalHijack)}, {3, deny("d", codes.GoalHijack)}},
			wantOpenAt: 3, wantTripAt: -1},
		{name: "circuit/one-agent-injection-flood-default", obs: repeat(12, time.Second, deny("a", codes.GoalHijack)),
			wantOpenAt: 2, wantTripAt: -1, wantBumpEnd: true},
		// Policy tripOnInjectionFlood: true.
		{name: "trip/fleet-injection-flood-when-policy-says", cfg: Config{InjectionHits: -1, TripInjectionHits: 4},
			obs:        []obs{{0, floodTrip(deny("a", codes.GoalHijack))}, {1, floodTrip(deny("b", codes.GoalHijack))}, {2, floodTrip(deny("c", codes.GoalHijack))}, {3, floodTrip(deny("d", codes.GoalHijack))}},
			wantOpenAt: -1, wantTripAt: 3},
		{name: "trip/one-agent-injection-flood-when-policy-says", obs: repeat(12, time.Second, floodTrip(deny("a", codes.GoalHijack))),
			wantOpenAt: 2, wantTripAt: 9, wantBumpEnd: true},
		{name: "trip/three-circuits-opened", obs: func() []obs {
			var out []obs
			for i, a := range []string{"a", "b", "c"} {
				for j := 0; j < 3; j++ {
					out = append(out, obs{at: time.Duration(i*3+j) * time.Millisecond, o: deny(a, codes.GoalHijack)})
				}
			}
			return out
		}(), wantOpenAt: 2, wantTripAt: 8, wantBumpEnd: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := New(tc.cfg)
			openAt, tripAt := -1, -1
			var last Verdict
			for i, o := range tc.obs {
				v := d.Observe(t0.Add(o.at), o.o)
				if v.OpenCircuit && openAt < 0 {
					openAt = i
					if v.CircuitReason == "" {
						t.Fatal("circuit opened without a reason")
					}
				}
				if v.Trip && tripAt < 0 {
					tripAt = i
				}
				last = v
			}
			if openAt != tc.wantOpenAt || tripAt != tc.wantTripAt {
				t.Fatalf("opened at %d, tripped at %d; want %d, %d", openAt, tripAt, tc.wantOpenAt, tc.wantTripAt)
			}
			if last.Bump != tc.wantBumpEnd {
				t.Fatalf("bump %v (score %.2f), want %v", last.Bump, last.Score, tc.wantBumpEnd)
			}
		})
	}
}

func TestCircuitReportedOnceAndCloses(t *testing.T) {
	d := New(Config{})
	opens := 0
	for i := 0; i < 10; i++ {
		if d.Observe(t0.Add(time.Duration(i)*time.Millisecond), deny("a", codes.GoalHijack)).OpenCircuit {
			opens++
		}
	}
	if opens != 1 {
		t.Fatalf("circuit opened %d times, want once", opens)
	}
	d.CloseCircuit("a")
	if s := d.Score("a", t0); s != 0 {
		t.Fatalf("score after close %v", s)
	}
	v := d.Observe(t0.Add(time.Second), allow("a"))
	if v.OpenCircuit || v.Score != 0 {
		t.Fatalf("verdict after close %+v", v)
	}
}

func floodTrip(o Observation) Observation { o.TripOnFlood = true; return o }

func TestTripCountersStartOver(t *testing.T) {
	d := New(Config{InjectionHits: -1, TripInjectionHits: 2})
	d.Observe(t0, floodTrip(deny("a", codes.GoalHijack)))
	if !d.Observe(t0, floodTrip(deny("b", codes.GoalHijack))).Trip {
		t.Fatal("no trip at threshold")
	}
	if d.Observe(t0, floodTrip(deny("c", codes.GoalHijack))).Trip {
		t.Fatal("tripped again without fresh evidence")
	}
}

// TestInjectionFloodReportedOnce: without tripOnInjectionFlood a flood is
// reported once (the fleet counter starts over) and never trips.
func TestInjectionFloodReportedOnce(t *testing.T) {
	d := New(Config{InjectionHits: -1, TripInjectionHits: 3})
	floods := 0
	for i := 0; i < 7; i++ {
		v := d.Observe(t0.Add(time.Duration(i)*time.Millisecond), deny(fmt.Sprint("agent-", i), codes.GoalHijack))
		if v.Trip {
			t.Fatalf("hit %d tripped the fleet without tripOnInjectionFlood: %+v", i, v)
		}
		if v.InjectionFlood {
			floods++
			if !v.OpenCircuit || v.FloodReason == "" {
				t.Fatalf("flood at hit %d did not open the agent's circuit: %+v", i, v)
			}
		}
	}
	if floods != 2 {
		t.Fatalf("%d floods reported for 7 hits at threshold 3, want 2", floods)
	}
}

func TestManyAgentsBounded(t *testing.T) {
	d := New(Config{MaxAgents: 100})
	for i := 0; i < 5000; i++ {
		d.Observe(t0.Add(time.Duration(i)*time.Second), allow(fmt.Sprint(i)))
	}
	if n := len(d.agents); n > 1200 {
		t.Fatalf("%d agents tracked, want idle ones dropped", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	d := New(Config{})
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = fmt.Sprint("agent-", i)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.Observe(t0.Add(time.Duration(i)*time.Microsecond), allow(ids[i%len(ids)]))
	}
}
