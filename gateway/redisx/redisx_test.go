package redisx_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/ratelimit"
	"github.com/sintgate/sintgate/gateway/redisx"
	"github.com/sintgate/sintgate/internal/testenv"
)

var (
	_ gateway.ReplayCache         = (*redisx.Replay)(nil)
	_ gateway.Limiter             = (*redisx.Limiter)(nil)
	_ ratelimit.Limiter           = (*redisx.Limiter)(nil)
	_ ratelimit.RepetitionLimiter = (*redisx.Limiter)(nil)
)

// client returns a client of the test Redis and a fresh fleet prefix.
func client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := testenv.RedisAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	return c, redisx.Prefix("test-" + hex.EncodeToString(b[:]))
}

// autoPipeline returns c's autopipeliner, the face a replicated gateway
// gives its replay cache.
func autoPipeline(t testing.TB, c *redis.Client) *redis.AutoPipeliner {
	t.Helper()
	ap, err := c.AutoPipeline()
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// readyReplay returns a replay cache whose set is marked complete.
func readyReplay(t testing.TB, c, bulk redis.Cmdable, p string) *redisx.Replay {
	t.Helper()
	r := redisx.NewReplay(c, bulk, p, nil, nil)
	if err := r.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// A replay set that Redis lost (restart without persistence, flush) is not
// taken as empty: FirstSeen fails closed until the set is refilled from the
// ledger, and a pair answered before the loss is still a replay after it.
func TestReplayLostSetIsRefilled(t *testing.T) {
	c, p := client(t)
	ctx := context.Background()
	var refills atomic.Int64
	refill := func(_ context.Context, remember func(agentID, requestID string) error) (int, error) {
		refills.Add(1)
		return 1, remember("a1", "answered-before-the-loss")
	}
	r := redisx.NewReplay(autoPipeline(t, c), c, p, refill, nil)
	r.SettleDelay = 10 * time.Millisecond
	t.Run("ready/refills-a-new-set", func(t *testing.T) {
		if err := r.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		if ok, err := r.FirstSeen(ctx, "a1", "answered-before-the-loss", time.Now()); err != nil || ok {
			t.Fatalf("FirstSeen = %v, %v; want a replay", ok, err)
		}
	})
	keys, err := c.Keys(ctx, p+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys under %s: %v %v", p, keys, err)
	}
	if err := c.Del(ctx, keys...).Err(); err != nil { // what a restart without persistence does
		t.Fatal(err)
	}
	t.Run("lost/fails-closed-then-refilled", func(t *testing.T) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, err := r.FirstSeen(ctx, "a1", "answered-before-the-loss", time.Now())
			if err == nil {
				if ok {
					t.Fatal("a request answered before the loss was first-seen after it")
				}
				break
			}
			if !errors.Is(err, redisx.ErrReplayLost) {
				t.Fatalf("FirstSeen: %v; want ErrReplayLost while refilling", err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the set was not refilled within 10 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if ok, err := r.FirstSeen(ctx, "a1", "new-request", time.Now()); err != nil || !ok {
			t.Fatalf("new request after the refill: %v, %v; want first seen", ok, err)
		}
		if refills.Load() < 2 {
			t.Fatalf("refills = %d, want the one at Ready and one after the loss", refills.Load())
		}
	})
}

// A Redis restored from a snapshot brings back a marker with an old set:
// the marker names another server run (run_id), so a new connection drops
// it and the set is refilled before a pair is first-seen again.
func TestReplayStaleMarkerIsDropped(t *testing.T) {
	c, p := client(t)
	ctx := context.Background()
	if err := c.Set(ctx, p+"replay-marker", "run-id-of-the-server-before-the-restart", 0).Err(); err != nil {
		t.Fatal(err)
	}
	c2 := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), OnConnect: redisx.CheckMarker(p)})
	t.Cleanup(func() { _ = c2.Close() })
	refill := func(_ context.Context, remember func(agentID, requestID string) error) (int, error) {
		return 1, remember("a1", "lost-by-the-snapshot")
	}
	r := redisx.NewReplay(c2, c2, p, refill, nil)
	r.SettleDelay = time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := r.FirstSeen(ctx, "a1", "lost-by-the-snapshot", time.Now())
		if err == nil {
			if ok {
				t.Fatal("a pair the refill restores was first-seen: the stale marker was trusted")
			}
			break
		}
		if !errors.Is(err, redisx.ErrReplayLost) {
			t.Fatalf("FirstSeen: %v; want ErrReplayLost while refilling", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the set was not refilled within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m, err := c.Get(ctx, p+"replay-marker").Result()
	if err != nil || m == "run-id-of-the-server-before-the-restart" {
		t.Fatalf("marker after the refill: %q, %v; want this server's run_id", m, err)
	}
	t.Run("current-marker-is-kept", func(t *testing.T) {
		c3 := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), OnConnect: redisx.CheckMarker(p)})
		defer c3.Close()
		if err := c3.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, p+"replay-marker").Result(); err != nil || got != m {
			t.Fatalf("marker after a new connection: %q, %v; want %q kept", got, err, m)
		}
	})
}

func TestReplay(t *testing.T) {
	c, p := client(t)
	r := readyReplay(t, c, c, p)
	r2 := readyReplay(t, c, c, p)                  // another replica
	r3 := readyReplay(t, autoPipeline(t, c), c, p) // one that pipelines its calls
	ctx := context.Background()
	now := time.Now()
	steps := []struct {
		name       string
		cache      *redisx.Replay
		agent, req string
		want       bool
	}{
		{"allow/first", r, "a1", "req-1", true},
		{"deny/same-replica-replay", r, "a1", "req-1", false},
		{"deny/other-replica-replay", r2, "a1", "req-1", false},
		{"allow/other-agent-same-id", r2, "a2", "req-1", true},
		{"allow/new-id", r2, "a1", "req-2", true},
		{"deny/pipelined-replay", r3, "a1", "req-2", false},
		{"allow/pipelined-new-id", r3, "a1", "req-3", true},
		{"deny/replay-of-pipelined", r, "a1", "req-3", false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.cache.FirstSeen(ctx, s.agent, s.req, now)
			if err != nil || got != s.want {
				t.Fatalf("FirstSeen(%s,%s) = %v, %v; want %v", s.agent, s.req, got, err, s.want)
			}
		})
	}
	t.Run("expiry/remembered-for-window", func(t *testing.T) {
		ttl, err := c.PTTL(ctx, p+"replay:a1/req-1").Result()
		if err != nil || ttl <= gateway.ReplayWindow-5*time.Second || ttl > gateway.ReplayWindow {
			t.Fatalf("ttl = %v, %v; want ≈ %v", ttl, err, gateway.ReplayWindow)
		}
	})
}

func TestLimiterWindow(t *testing.T) {
	c, p := client(t)
	l := redisx.NewLimiter(c, p)
	l2 := redisx.NewLimiter(c, p)
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	win := time.Second
	steps := []struct {
		name string
		lim  *redisx.Limiter
		key  string
		max  int64
		win  time.Duration
		at   time.Duration
		want bool
	}{
		{"allow/1st", l, "k", 2, win, 0, true},
		{"allow/2nd-other-replica", l2, "k", 2, win, 100 * time.Millisecond, true},
		{"deny/3rd-in-window", l, "k", 2, win, 500 * time.Millisecond, false},
		{"deny/denied-call-not-counted-still-full", l2, "k", 2, win, 999 * time.Millisecond, false},
		{"allow/first-left-exactly-window-later", l, "k", 2, win, time.Second, true},
		{"deny/second-still-in", l, "k", 2, win, time.Second + 50*time.Millisecond, false},
		{"allow/second-left", l, "k", 2, win, 1100 * time.Millisecond, true},
		{"allow/other-key", l, "k2", 1, win, 0, true},
		{"deny/max-zero", l, "k3", 0, win, 0, false},
		{"deny/window-zero", l, "k3", 5, 0, 0, false},
		{"deny/max-negative", l, "k3", -1, win, 0, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.lim.Allow(ctx, s.key, s.max, s.win, t0.Add(s.at))
			if err != nil || got != s.want {
				t.Fatalf("Allow(%s, max %d) at +%v = %v, %v; want %v", s.key, s.max, s.at, got, err, s.want)
			}
		})
	}
}

// The same sequence against the in-memory counter and Redis gives the same
// answers (the two implementations share the semantics of package ratelimit).
func TestLimiterMatchesMemory(t *testing.T) {
	c, p := client(t)
	l := redisx.NewLimiter(c, p)
	m := ratelimit.NewCounter()
	ctx := context.Background()
	t0 := time.Unix(1_800_000_000, 0)
	at := t0
	for i := range 300 {
		at = at.Add(time.Duration((i*7919)%97) * time.Millisecond)
		key := []string{"a", "b"}[i%2]
		want := m.Take(key, 5, 400*time.Millisecond, at)
		got, err := l.Allow(ctx, key, 5, 400*time.Millisecond, at)
		if err != nil || got != want {
			t.Fatalf("call %d (%s at +%v): redis %v, %v; memory %v", i, key, at.Sub(t0), got, err, want)
		}
	}
}

func TestRepetition(t *testing.T) {
	c, p := client(t)
	l := redisx.NewLimiter(c, p)
	ctx := context.Background()
	steps := []struct {
		name string
		key  string
		max  int64
		want bool
	}{
		{"allow/1", "tok", 2, true},
		{"allow/2", "tok", 2, true},
		{"deny/exhausted", "tok", 2, false},
		{"deny/still-exhausted", "tok", 2, false},
		{"allow/raised-max", "tok", 3, true},
		{"deny/max-zero", "other", 0, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := l.AllowRepetition(ctx, s.key, s.max)
			if err != nil || got != s.want {
				t.Fatalf("AllowRepetition(%s, %d) = %v, %v; want %v", s.key, s.max, got, err, s.want)
			}
		})
	}
}

// Atomicity: many concurrent callers on two "replicas" never exceed the
// budget, and use all of it.
func TestConcurrentBudgets(t *testing.T) {
	c, p := client(t)
	ls := []*redisx.Limiter{redisx.NewLimiter(c, p), redisx.NewLimiter(c, p)}
	r := []*redisx.Replay{readyReplay(t, c, c, p), readyReplay(t, autoPipeline(t, c), c, p)}
	ctx := context.Background()
	now := time.Now()
	var rate, reps, fresh atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if ok, err := ls[g%2].Allow(ctx, "shared", 37, time.Hour, now); err != nil {
					t.Error(err)
				} else if ok {
					rate.Add(1)
				}
				if ok, err := ls[g%2].AllowRepetition(ctx, "shared", 23); err != nil {
					t.Error(err)
				} else if ok {
					reps.Add(1)
				}
				if ok, err := r[g%2].FirstSeen(ctx, "agent", "same-request", now); err != nil {
					t.Error(err)
				} else if ok {
					fresh.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if rate.Load() != 37 || reps.Load() != 23 || fresh.Load() != 1 {
		t.Fatalf("allowed rate %d (want 37), repetitions %d (want 23), first-seen %d (want 1)", rate.Load(), reps.Load(), fresh.Load())
	}
}

// Fail closed: a Redis that does not answer is an error, never an allow.
func TestUnreachableRedisErrors(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()
	p := redisx.Prefix("down")
	if ok, err := redisx.NewReplay(c, c, p, nil, nil).FirstSeen(ctx, "a", "r", time.Now()); err == nil || ok {
		t.Errorf("replay: %v, %v; want false and an error", ok, err)
	}
	if ok, err := redisx.NewReplay(autoPipeline(t, c), c, p, nil, nil).FirstSeen(ctx, "a", "r", time.Now()); err == nil || ok {
		t.Errorf("pipelined replay: %v, %v; want false and an error", ok, err)
	}
	l := redisx.NewLimiter(c, p)
	if ok, err := l.Allow(ctx, "k", 5, time.Second, time.Now()); err == nil || ok {
		t.Errorf("rate: %v, %v; want false and an error", ok, err)
	}
	if ok, err := l.AllowRepetition(ctx, "k", 5); err == nil || ok {
		t.Errorf("repetition: %v, %v; want false and an error", ok, err)
	}
	if _, err := redisx.NewBus(c, p).Subscribe(ctx); err == nil {
		t.Error("subscribe to an unreachable Redis succeeded")
	}
}

func TestBus(t *testing.T) {
	c, p := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := redisx.NewBus(c, p)
	in, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other := redisx.NewBus(c, redisx.Prefix("another-fleet-"+p))
	if err := other.Publish(ctx, redisx.Change{Type: redisx.ChangeRoots, Origin: "x"}); err != nil {
		t.Fatal(err)
	}
	// A malformed message on the channel is dropped.
	if err := c.Publish(ctx, p+"registry", `{"type":"nope","origin":"x"}`).Err(); err != nil {
		t.Fatal(err)
	}
	want := redisx.Change{Type: redisx.ChangeRevoke, Origin: "gw/b", IDs: []string{"t1", "t2"}}
	if err := b.Publish(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-in:
		if d.Gap || d.Change.Type != want.Type || d.Change.Origin != want.Origin || len(d.Change.IDs) != 2 || d.Change.IDs[1] != "t2" {
			t.Fatalf("got %+v; want %+v", d, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	cancel()
	for range in {
	}
}

// Killing the subscriber's connection is reported as a gap, and delivery
// resumes after the reconnect.
func TestBusGapOnDisconnect(t *testing.T) {
	c, p := client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := redisx.NewBus(c, p)
	in, err := b.Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	sawGap := false
	for !sawGap {
		select {
		case d := <-in:
			sawGap = d.Gap
		case <-deadline:
			t.Fatal("no gap after the subscription was killed")
		}
	}
	// Resubscribed: a change gets through again.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case d := <-in:
			if !d.Gap && d.Change.Type == redisx.ChangeTokens {
				return
			}
		case <-tick.C:
			_ = b.Publish(ctx, redisx.Change{Type: redisx.ChangeTokens, Origin: "o", IDs: []string{"t"}})
		case <-deadline:
			t.Fatal("no delivery after the reconnect")
		}
	}
}
