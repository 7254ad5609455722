package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/redisx"
)

// EvictionCheckInterval is how often a replica re-reads Redis's
// maxmemory-policy (docs/deploy.md, "Redis must not evict").
const EvictionCheckInterval = 5 * time.Second

// evictionCheckEvery is EvictionCheckInterval (tests shorten it).
var evictionCheckEvery = EvictionCheckInterval

// evictionGuard is the fleet's replay cache, refused while Redis may evict
// keys: an evicted replay key would let a replay through, and an evicted
// rate window would reset a limit. Every intercept is then denied at the
// replay check (INTERNAL_ERROR, "replay protection unavailable", as with
// Redis down) and /health/ready reports the replay check unavailable.
// The policy is checked at start (openReplicated refuses to start) and
// every EvictionCheckInterval, since CONFIG SET can change it at any time.
type evictionGuard struct {
	gateway.ReplayCache
	rdb redis.Cmdable
	// assume: the operator asserted noeviction for a Redis that refuses
	// CONFIG GET (--redis-assume-noeviction). A policy that can be read
	// is still checked.
	assume bool
	every  time.Duration // how often run checks
	log    *slog.Logger
	bad    atomic.Pointer[error] // nil: noeviction (or assumed)
}

// check reads the policy and records the verdict. A Redis that cannot be
// reached changes nothing: the replay check fails anyway while it is down.
func (g *evictionGuard) check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := redisx.CheckNoEviction(cctx, g.rdb)
	var ev *redisx.EvictionError
	switch {
	case err == nil, errors.Is(err, redisx.ErrPolicyUnreadable) && g.assume:
		if prev := g.bad.Swap(nil); prev != nil {
			g.log.Warn("redis eviction policy fixed: intercepts are allowed again")
		}
		return nil
	case errors.As(err, &ev), errors.Is(err, redisx.ErrPolicyUnreadable):
		err = fmt.Errorf("%w (docs/deploy.md: a fleet's Redis must have maxmemory-policy noeviction; if CONFIG is disabled and the policy is noeviction, start with --redis-assume-noeviction)", err)
		if prev := g.bad.Swap(&err); prev == nil {
			g.log.Error("redis may evict keys: every intercept is denied until maxmemory-policy is noeviction", "err", err)
		}
		return err
	default:
		return err // unreachable: FirstSeen fails on its own
	}
}

// run re-checks every interval until ctx ends.
func (g *evictionGuard) run(ctx context.Context) {
	t := time.NewTicker(g.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = g.check(ctx)
		}
	}
}

// FirstSeen implements gateway.ReplayCache: refused while Redis may evict.
func (g *evictionGuard) FirstSeen(ctx context.Context, agentID, requestID string, now time.Time) (bool, error) {
	if err := g.bad.Load(); err != nil {
		return false, *err
	}
	return g.ReplayCache.FirstSeen(ctx, agentID, requestID, now)
}

// Healthy reports why the replay cache is refused (nil: it is not);
// /health/ready asks it.
func (g *evictionGuard) Healthy(context.Context) error {
	if err := g.bad.Load(); err != nil {
		return *err
	}
	return nil
}
