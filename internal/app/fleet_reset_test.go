package app

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/store/pgstore"
)

// estopView is GET /v1/estop as the tests read it.
type estopView struct {
	State   string
	Sources []struct{ ID, Kind, State string }
}

func (v estopView) busSource() (state string, ok bool) {
	for _, s := range v.Sources {
		if s.ID == "bus" && s.Kind == "replica" {
			return s.State, true
		}
	}
	return "", false
}

// TestFleetResetAfterRedisOutageConvergesThroughPostgres: after a Redis
// outage trips every replica on its broken bus, one operator reset re-arms
// the whole fleet through PostgreSQL alone, even on a replica that missed
// the reset's bus message; while a replica's own bus is broken its gap
// latches it (a reset there is refused, naming replica:bus).
func TestFleetResetAfterRedisOutageConvergesThroughPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes and a redis-server")
	}
	pgURL := testenv.FreshPGDatabase(t)
	rs := startPrivateRedis(t)
	addr := rs.Addr
	f := newFleet(t, 2, pgURL, addr)
	a, b := f.gws[0], f.gws[1]
	t.Cleanup(func() { _ = b.cmd.Process.Signal(syscall.SIGCONT) })
	tok := fleetToken(t, f, "reset-agent", 1)
	view := func(g *gatewayProc) estopView {
		var v estopView
		f.call(g, "GET", "/v1/estop", nil, &v)
		return v
	}
	outage := func() {
		t.Helper()
		rs.Stop()
		for i, g := range f.gws {
			waitUntil(t, fmt.Sprintf("replica %d to trip on the broken bus", i), func() bool {
				_, ok := view(g).busSource()
				return ok
			})
			if st, _ := view(g).busSource(); st != "tripped" {
				t.Errorf("replica %d with Redis down: source replica:bus is %q, want \"tripped\" (latched while the bus is down)", i, st)
			}
		}
	}
	pg, err := pgstore.Open(context.Background(), pgURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Close() })
	waitGaps := func() {
		t.Helper()
		waitUntil(t, "both replicas' bus gaps in the shared e-stop row", func() bool {
			st, err := pg.GetEstop(context.Background())
			return err == nil && len(readFleetRow(st).gaps) == 2
		})
	}
	reset := func(g *gatewayProc) int {
		return f.call(g, "POST", "/v1/estop/reset", map[string]string{"reason": "redis back"}, nil)
	}

	// 1. Redis down: the gap latches each replica; an operator sees it.
	outage()
	if st := reset(a); st != 409 {
		t.Errorf("reset while this replica's bus is down: %d, want 409 (replica:bus latched)", st)
	}

	// The operator's reset acknowledges the gaps recorded in the shared row:
	// wait for both (freezing B inside its save would hold the row's lock).
	waitGaps()

	// 2. B is frozen while Redis comes back and A is reset: B cannot have
	// the reset's bus message; it must re-arm from PostgreSQL.
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	rs.Start()
	// B may have been frozen inside a write of the shared e-stop row (its
	// bus gap is saved again while Redis is away), holding the row's lock:
	// then A cannot record the reset. Until the reset is accepted, B is let
	// run for a moment between attempts and frozen again — it cannot have
	// the reset's bus message before the reset exists.
	resetBy := time.Now().Add(30 * time.Second)
	for reset(a) != 200 {
		if time.Now().After(resetBy) {
			t.Fatal("timed out waiting for an operator reset on replica 0 to be accepted")
		}
		_ = b.cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(200 * time.Millisecond)
		if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // A publishes the reset (and anything queued) while B cannot receive it
	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	t.Cleanup(func() { // (newFleet prints the logs once the processes are gone)
		if t.Failed() {
			t.Logf("replica 1 e-stop: %+v", view(b))
		}
	})
	waitUntil(t, "replica 1 to re-arm from PostgreSQL after missing the reset", func() bool {
		return view(b).State == "armed"
	})
	t.Logf("replica 1 missed the reset message: armed %v after it resumed (resubscribe + catch-up)", time.Since(resumed).Round(time.Millisecond))
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to allow after the reset", i), func() bool {
			d, _, _ := intercept(f.hc, g, "reset-agent", moveBody("reset-agent", tok.Claims.TokenID))
			return d.Decision == "allow"
		})
	}

	// 3. Again, without freezing: reset A as soon as it accepts, B follows.
	outage()
	waitGaps()
	rs.Start()
	waitUntil(t, "an operator reset on replica 0 to be accepted", func() bool { return reset(a) == 200 })
	accepted := time.Now()
	waitUntil(t, "replica 1 to re-arm after one reset on replica 0", func() bool {
		return view(b).State == "armed"
	})
	t.Logf("reset accepted on replica 0 → replica 1 armed: %v", time.Since(accepted).Round(time.Millisecond))
}
