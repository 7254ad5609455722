package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/gateway/redisx"
	"github.com/sintgate/sintgate/internal/testenv"
)

// TestFleetRefusesEvictingRedis (docs/deploy.md, "Redis must not evict"):
// a replica does not start on a Redis whose maxmemory-policy may evict
// keys (an evicted replay key lets a replay through), nor on one that
// refuses CONFIG GET unless the operator asserted noeviction; and a policy
// changed to an evicting one while the fleet runs makes every intercept
// deny INTERNAL_ERROR and /health/ready answer 503 until it is noeviction
// again. Private redis-servers only.
func TestFleetRefusesEvictingRedis(t *testing.T) {
	pgURL := testenv.FreshPGDatabase(t)
	dir := t.TempDir()
	ck := &clock{t: time.Now().Truncate(time.Millisecond)}
	res, _, err := InitDataDir(context.Background(), dir, ck.Now())
	if err != nil {
		t.Fatal(err)
	}
	build := func(redisAddr string, assume bool) error {
		g, err := Build(context.Background(), Options{DataDir: dir, PolicyPath: "testdata/policy.yaml", StoreURL: pgURL,
			RedisAddr: redisAddr, RedisAssumeNoEviction: assume, Clock: ck.Now})
		if err == nil {
			_ = g.Close()
		}
		return err
	}

	t.Run("start/allkeys-lru-refused", func(t *testing.T) {
		r := startPrivateRedis(t, "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
		err := build(r.Addr, true) // the assertion covers an unreadable policy only
		var ev *redisx.EvictionError
		if !errors.As(err, &ev) || ev.Policy != "allkeys-lru" {
			t.Fatalf("start on allkeys-lru: %v, want an EvictionError naming allkeys-lru", err)
		}
	})
	t.Run("start/volatile-ttl-refused", func(t *testing.T) {
		r := startPrivateRedis(t, "--maxmemory-policy", "volatile-ttl")
		var ev *redisx.EvictionError
		if err := build(r.Addr, false); !errors.As(err, &ev) {
			t.Fatalf("start on volatile-ttl: %v, want an EvictionError", err)
		}
	})
	t.Run("start/config-disabled", func(t *testing.T) {
		r := startPrivateRedis(t, "--rename-command", "CONFIG", "")
		if err := build(r.Addr, false); !errors.Is(err, redisx.ErrPolicyUnreadable) {
			t.Fatalf("start with CONFIG disabled: %v, want ErrPolicyUnreadable", err)
		}
		if err := build(r.Addr, true); err != nil {
			t.Fatalf("start with CONFIG disabled and --redis-assume-noeviction: %v", err)
		}
	})
	t.Run("runtime/policy-changed", func(t *testing.T) {
		old := evictionCheckEvery
		evictionCheckEvery = 50 * time.Millisecond
		t.Cleanup(func() { evictionCheckEvery = old })
		r := startPrivateRedis(t)
		h, _ := serveWith(t, dir, ck, res.AdminAPIKey, Options{StoreURL: pgURL, RedisAddr: r.Addr}, nil)
		h.trustRoot("root")
		tok := h.tokenFor("ev-agent", nil)
		move := func() (string, string) {
			_, d := h.intercept("ev-agent", h.interceptBody("ev-agent", func(m map[string]any) { m["tokenId"] = tok.Claims.TokenID }))
			return d.Decision, str(d.Code)
		}
		ready := func() (int, string) {
			var out struct {
				Checks map[string]any `json:"checks"`
			}
			st := h.do("GET", "/health/ready", nil, nil, &out)
			s, _ := out.Checks["replay"].(string)
			return st, s
		}
		if d, c := move(); d != "allow" {
			t.Fatalf("before: %s %s", d, c)
		}
		if st, s := ready(); st != 200 || s != "ok" {
			t.Fatalf("ready before: %d replay=%q", st, s)
		}
		rc := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer rc.Close()
		if err := rc.ConfigSet(context.Background(), "maxmemory-policy", "allkeys-lru").Err(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "intercepts denied INTERNAL_ERROR on an evicting Redis", func() bool {
			d, c := move()
			return d == "deny" && c == "INTERNAL_ERROR"
		})
		if st, s := ready(); st != 503 || s != "unavailable" {
			t.Fatalf("ready on an evicting Redis: %d replay=%q, want 503 unavailable", st, s)
		}
		if err := rc.ConfigSet(context.Background(), "maxmemory-policy", "noeviction").Err(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "intercepts allowed again on noeviction", func() bool {
			d, _ := move()
			return d == "allow"
		})
		if st, s := ready(); st != 200 || !strings.EqualFold(s, "ok") {
			t.Fatalf("ready after: %d replay=%q", st, s)
		}
	})
}
