package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// privatePG is a PostgreSQL cluster of this test only (the same binaries as
// scripts/services.sh), so that stopping it leaves the shared one running.
type privatePG struct {
	t         *testing.T
	bin, data string
	port      int
	run       []string // runuser prefix when root
}

func startPrivatePG(t *testing.T) *privatePG {
	t.Helper()
	bin := os.Getenv("SINT_PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	testenv.Program(t, filepath.Join(bin, "initdb"), "apt-get install postgresql, or set SINT_PG_BIN to its bin directory") // CI=true: fails when missing
	base, err := os.MkdirTemp("", "sint-private-pg")
	if err != nil {
		t.Fatal(err)
	}
	p := &privatePG{t: t, bin: bin, data: filepath.Join(base, "data")}
	if os.Getuid() == 0 {
		u := "postgres"
		if _, err := user.Lookup(u); err != nil {
			u = "sintsvc"
		}
		p.run = []string{"runuser", "-u", u, "--"}
		if out, err := exec.Command("chown", "-R", u, base).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		_ = p.cmd("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop").Run()
		_ = os.RemoveAll(base)
	})
	if out, err := p.cmd("initdb", "-D", p.data, "-U", "sint", "--auth=trust", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	p.port, _ = strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nmax_connections = 200\nfsync = off\nsynchronous_commit = off\n", p.port, base)
	f, err := os.OpenFile(filepath.Join(p.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(conf)
	_ = f.Close()
	p.start()
	return p
}

func (p *privatePG) cmd(tool string, args ...string) *exec.Cmd {
	all := append(append(slicesClone(p.run), filepath.Join(p.bin, tool)), args...)
	return exec.Command(all[0], all[1:]...)
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func (p *privatePG) start() {
	p.t.Helper()
	if out, err := p.cmd("pg_ctl", "-D", p.data, "-l", filepath.Join(p.data, "..", "pg.log"), "-w", "-t", "30", "start").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

func (p *privatePG) stop() {
	p.t.Helper()
	if out, err := p.cmd("pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		p.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *privatePG) url() string {
	return fmt.Sprintf("postgres://sint@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// fleetTokens adds the root and one token for agent via replica 0.
func fleetToken(t *testing.T, f *fleetT, agent string, n int) *tokens.Token {
	t.Helper()
	if st := f.call(f.gws[0], "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("root")}, nil); st != 201 && st != 200 {
		t.Fatalf("add root: %d", st)
	}
	tok := tokentest.Sign("root", tokentest.Root("root", agent, n, time.Now().UnixMilli()))
	if st := f.call(f.gws[0], "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, nil); st != 201 {
		t.Fatalf("register token: %d", st)
	}
	// The root and the token reach the other replicas through the bus or
	// the periodic catch-up from PostgreSQL; wait until every replica
	// knows them (a loaded machine delayed that past the first intercept:
	// UNKNOWN_ISSUER on replica 1).
	for i, g := range f.gws {
		deadline := time.Now().Add(30 * time.Second)
		for {
			d, _, err := intercept(f.hc, g, agent, moveBody(agent, tok.Claims.TokenID))
			c := code(d)
			if err == nil && c != "UNKNOWN_ISSUER" && c != "TOKEN_NOT_FOUND" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d never learned the root and token: %s %s %v", i, d.Decision, c, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return tok
}

// TestFleetPostgresOutage stops PostgreSQL under load on two replicas: every
// replica denies LEDGER_UNAVAILABLE, recovers by itself when PostgreSQL is
// back, and the chain holds every allow a client saw, once.
func TestFleetPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes and a PostgreSQL cluster")
	}
	redisAddr := testenv.RedisAddr(t)
	pg := startPrivatePG(t)
	f := newFleet(t, 2, pg.url(), redisAddr)
	tok := fleetToken(t, f, "outage-agent", 1)

	type seen struct {
		seq  uint64
		hash string
	}
	var mu sync.Mutex
	allows := map[string]seen{}
	codesSeen := map[string]int{}
	var phase int // 0 before, 1 during the outage (after a settle), 2 after
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := f.gws[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, st, err := intercept(f.hc, g, "outage-agent", moveBody("outage-agent", tok.Claims.TokenID))
				if err != nil {
					continue
				}
				mu.Lock()
				if st == 200 && d.Decision == "allow" && d.Ledger != nil {
					if phase == 1 {
						t.Errorf("allow during the PostgreSQL outage: %+v", d.Ledger)
					}
					allows[d.Ledger.EventID] = seen{d.Ledger.Sequence, d.Ledger.Hash}
				} else if phase == 1 {
					codesSeen[code(d)]++
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	pg.stop()
	time.Sleep(500 * time.Millisecond) // answers in flight at the stop may be allows
	mu.Lock()
	phase = 1
	mu.Unlock()
	time.Sleep(2 * time.Second)
	mu.Lock()
	phase = 2
	during := fmt.Sprint(codesSeen)
	mu.Unlock()
	pg.start()
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to allow again", i), func() bool {
			d, _, err := intercept(f.hc, g, "outage-agent", moveBody("outage-agent", tok.Claims.TokenID))
			return err == nil && d.Decision == "allow"
		})
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(codesSeen) != 1 || codesSeen["LEDGER_UNAVAILABLE"] == 0 {
		t.Fatalf("codes during the outage: %s; want only LEDGER_UNAVAILABLE", during)
	}
	ctx := context.Background()
	lg, err := pgledger.Open(ctx, pg.url(), pgledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	size, err := lg.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vr, err := lg.Verify(ctx, 1, size)
	if err != nil || !vr.Valid || vr.Checked != size {
		t.Fatalf("ledger of %d entries does not verify: %+v %v", size, vr, err)
	}
	ids := map[string]uint64{}
	for i := uint64(1); i <= size; i++ {
		e, err := lg.Get(ctx, i)
		if err != nil || e.SequenceNumber != i {
			t.Fatalf("sequence %d: %v", i, err)
		}
		if prev, dup := ids[e.EventID]; dup {
			t.Fatalf("event %s recorded twice (#%d and #%d)", e.EventID, prev, i)
		}
		ids[e.EventID] = i
	}
	for id, s := range allows {
		if ids[id] != s.seq {
			t.Fatalf("allow %s the client saw as #%d is at #%d", id, s.seq, ids[id])
		}
	}
	t.Logf("outage codes %s; %d allows, chain of %d entries verifies, no duplicates", during, len(allows), size)
}

// TestFleetRedisOutage stops Redis: every replica denies (the replay cache
// cannot answer: INTERNAL_ERROR) and trips its e-stop (the fan-out bus broke,
// trips may be missed). When Redis is back, one operator reset on any
// replica re-arms the fleet and calls are allowed again.
func TestFleetRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gateway processes and a redis-server")
	}
	pgURL := testenv.FreshPGDatabase(t)
	rs := startPrivateRedis(t)
	addr := rs.Addr
	f := newFleet(t, 2, pgURL, addr)
	tok := fleetToken(t, f, "redis-agent", 1)
	for i, g := range f.gws {
		d, _, _ := intercept(f.hc, g, "redis-agent", moveBody("redis-agent", tok.Claims.TokenID))
		if d.Decision != "allow" {
			t.Fatalf("replica %d before the outage: %s %s", i, d.Decision, code(d))
		}
	}
	rs.Stop()
	for i, g := range f.gws {
		d, _, _ := intercept(f.hc, g, "redis-agent", moveBody("redis-agent", tok.Claims.TokenID))
		if d.Decision != "deny" {
			t.Fatalf("replica %d with Redis down: %s; want deny", i, d.Decision)
		}
		waitUntil(t, fmt.Sprintf("replica %d to trip on the broken bus", i), func() bool {
			var s struct{ State string }
			f.call(g, "GET", "/v1/estop", nil, &s)
			return s.State == "tripped"
		})
	}
	rs.Start()
	time.Sleep(500 * time.Millisecond) // the subscriptions reconnect
	waitUntil(t, "an operator reset on replica 0 to be accepted", func() bool {
		return f.call(f.gws[0], "POST", "/v1/estop/reset", map[string]string{"reason": "redis back"}, nil) == 200
	})
	for i, g := range f.gws {
		waitUntil(t, fmt.Sprintf("replica %d to allow after the reset", i), func() bool {
			d, _, _ := intercept(f.hc, g, "redis-agent", moveBody("redis-agent", tok.Claims.TokenID))
			return d.Decision == "allow"
		})
	}
}

type netDialer struct{}

func (netDialer) dial(addr string) (interface{ Close() error }, error) {
	return net.DialTimeout("tcp", addr, time.Second)
}
