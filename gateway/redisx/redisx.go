// Package redisx holds the Redis adapters a replicated gateway shares across
// its replicas: the replay cache (gateway.ReplayCache), the sliding-window
// rate limiter and lifetime repetition counter (ratelimit.Limiter and
// ratelimit.RepetitionLimiter, each one atomic Lua script), and the registry
// change bus (revocations, roots, tokens) over Redis pub/sub.
//
// Every key and channel lives under a prefix (one per fleet: the gateway id),
// so several fleets can share one Redis. Every error is returned to the
// caller, which denies (fail closed); nothing here retries or falls back to
// local state.
package redisx

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/gateway"
)

// Prefix returns the key prefix of a fleet: "sint:<fleet>:".
func Prefix(fleet string) string { return "sint:" + fleet + ":" }

// Replay is a gateway.ReplayCache in Redis: SET key NX PX window. A pair is
// remembered for gateway.ReplayWindow measured by the Redis server's clock.
//
// A Redis that restarts without persistence (or is flushed) loses every
// pair, which would reopen the replay window. So the set carries a marker
// key, written once the set is known complete; the script that remembers a
// pair first checks the marker, atomically. Without it FirstSeen answers
// ErrReplayLost (the pipeline denies) and one refill runs in the
// background: the pairs of the last window are read back from the ledger
// (Refill, gateway.RecoverReplay) and the marker is written again.
type Replay struct {
	c      redis.Cmdable
	bulk   redis.Cmdable // for the refill's pipelines (not the auto-pipeliner)
	prefix string
	refill Refill
	log    *slog.Logger
	busy   atomic.Bool // a background refill runs
	// SettleDelay is how long after a refill a second pass re-reads the
	// ledger, for decisions that were committing while the set was lost.
	SettleDelay time.Duration
}

// Refill passes the (agentId, requestId) pairs of the last replay window to
// remember and returns how many it passed.
type Refill func(ctx context.Context, remember func(agentID, requestID string) error) (int, error)

// ErrReplayLost is FirstSeen's error while the replay set is being refilled
// after Redis lost it.
var ErrReplayLost = errors.New("redis replay set lost; refilling it from the ledger")

// NewReplay returns a replay cache under prefix; c answers FirstSeen
// (typically an auto-pipeliner), bulk runs the refill's pipelines, and
// refill reads the ledger. A nil refill means a lost set is refilled with
// nothing (every request denied until Recover is called).
func NewReplay(c, bulk redis.Cmdable, prefix string, refill Refill, log *slog.Logger) *Replay {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Replay{c: c, bulk: bulk, prefix: prefix, refill: refill, log: log, SettleDelay: 10 * time.Second}
}

func (r *Replay) marker() string { return r.prefix + "replay-marker" }

// firstSeen is SET NX PX guarded by the marker. KEYS[1] the marker,
// KEYS[2] the pair; ARGV[1] the window in ms. Returns 1 (new), 0 (seen) or
// -1 (the set was lost).
var firstSeen = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if redis.call('SET', KEYS[2], 1, 'NX', 'PX', ARGV[1]) then
  return 1
end
return 0
`)

// FirstSeen implements gateway.ReplayCache.
func (r *Replay) FirstSeen(ctx context.Context, agentID, requestID string, _ time.Time) (bool, error) {
	n, err := firstSeen.Run(ctx, r.c, []string{r.marker(), r.prefix + "replay:" + agentID + "/" + requestID},
		gateway.ReplayWindow.Milliseconds()).Int64()
	switch {
	case err != nil:
		return false, err
	case n < 0:
		r.refillInBackground()
		return false, ErrReplayLost
	}
	return n == 1, nil
}

// Ready makes sure the set is complete before the replica serves: if the
// marker is absent (a new fleet, or Redis lost its data while no replica
// ran) it refills the set from the ledger and writes the marker.
func (r *Replay) Ready(ctx context.Context) error {
	n, err := r.bulk.Exists(ctx, r.marker()).Result()
	if err != nil || n == 1 {
		return err
	}
	_, err = r.Recover(ctx)
	return err
}

// Recover refills the set from the ledger, then writes the marker (the
// Redis server's run_id, see CheckMarker). It is idempotent, and safe to
// run on several replicas at once.
func (r *Replay) Recover(ctx context.Context) (int, error) {
	id, err := runID(ctx, r.bulk)
	if err != nil {
		return 0, err
	}
	n, err := r.fill(ctx)
	if err != nil {
		return n, err
	}
	return n, r.bulk.Set(ctx, r.marker(), id, 0).Err()
}

// runID returns the run_id of the Redis server: a new one at every start.
func runID(ctx context.Context, c redis.Cmdable) (string, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok && v != "" {
			return v, nil
		}
	}
	return "", errors.New("redis: INFO server has no run_id")
}

// dropStaleMarker deletes the marker if it still holds ARGV[1].
var dropStaleMarker = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// CheckMarker is a redis.Options.OnConnect hook for the fleet's client: on
// every new connection it compares the replay marker with the server's
// run_id. A Redis restarted from a persisted snapshot (RDB, or AOF without
// appendfsync always) may bring back the marker with an incomplete set; its
// run_id is new, so the marker is deleted and the set refilled
// (FirstSeen answers ErrReplayLost meanwhile). Every connection after a
// restart is new, so no command reaches a restarted server before the
// check. An error fails the connection (fail closed).
func CheckMarker(prefix string) func(ctx context.Context, cn *redis.Conn) error {
	return func(ctx context.Context, cn *redis.Conn) error {
		id, err := runID(ctx, cn)
		if err != nil {
			return err
		}
		m, err := cn.Get(ctx, prefix+"replay-marker").Result()
		switch {
		case errors.Is(err, redis.Nil) || m == id:
			return nil
		case err != nil:
			return err
		}
		return dropStaleMarker.Run(ctx, cn, []string{prefix + "replay-marker"}, m).Err()
	}
}

// fill remembers the pairs Refill gives, in pipelines of 1,000.
func (r *Replay) fill(ctx context.Context) (int, error) {
	if r.refill == nil {
		return 0, nil
	}
	pipe := r.bulk.Pipeline()
	flush := func() error {
		if pipe.Len() == 0 {
			return nil
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	n, err := r.refill(ctx, func(agentID, requestID string) error {
		pipe.SetNX(ctx, r.prefix+"replay:"+agentID+"/"+requestID, 1, gateway.ReplayWindow)
		if pipe.Len() >= 1000 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// refillInBackground starts one refill unless one runs; requests are denied
// (ErrReplayLost) until it wrote the marker. A second pass after
// SettleDelay adds the decisions that were being committed meanwhile.
func (r *Replay) refillInBackground() {
	if !r.busy.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer r.busy.Store(false)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*gateway.ReplayWindow)
			start := time.Now()
			n, err := r.Recover(ctx)
			cancel()
			if err == nil {
				r.log.Warn("redis replay set was lost; refilled from the ledger", "requestIds", n, "took", time.Since(start).String())
				break
			}
			r.log.Error("refill of the redis replay set", "err", err)
			time.Sleep(time.Second)
		}
		time.Sleep(r.SettleDelay)
		ctx, cancel := context.WithTimeout(context.Background(), 2*gateway.ReplayWindow)
		defer cancel()
		if _, err := r.fill(ctx); err != nil {
			r.log.Error("second pass of the redis replay refill", "err", err)
		}
	}()
}

// slidingWindow counts calls in (now−window, now] in a sorted set scored by
// unix microseconds (exact in a Lua double up to year 2255). KEYS[1] the set;
// ARGV: now µs, window µs, max, member. Returns 1 (counted) or 0 (over).
var slidingWindow = redis.NewScript(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.floor(win / 1000) + 1000)
return 1
`)

// repetition counts lifetime uses. KEYS[1] the counter; ARGV[1] max.
var repetition = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  return 0
end
redis.call('INCR', KEYS[1])
return 1
`)

// Limiter implements ratelimit.Limiter and ratelimit.RepetitionLimiter (and
// so gateway.Limiter) in Redis. The semantics are those of package
// ratelimit: calls in (now−window, now] count, only allowed calls are
// counted, and maxCalls ≤ 0 or window ≤ 0 denies. Window timestamps are the
// caller's now (the replicas' clocks, which NTP keeps within milliseconds).
type Limiter struct {
	c      redis.UniversalClient
	prefix string
	seq    *seqGen
}

// NewLimiter returns a limiter under prefix.
func NewLimiter(c redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{c: c, prefix: prefix, seq: newSeqGen()}
}

// Allow implements ratelimit.Limiter.
func (l *Limiter) Allow(ctx context.Context, key string, max int64, window time.Duration, now time.Time) (bool, error) {
	if max <= 0 || window <= 0 {
		return false, nil
	}
	win := window.Microseconds()
	if win < 1 {
		win = 1
	}
	n, err := slidingWindow.Run(ctx, l.c, []string{l.prefix + "rate:" + key},
		now.UnixMicro(), win, max, l.seq.next()).Int64()
	return n == 1, err
}

// AllowRepetition implements ratelimit.RepetitionLimiter. The counter has no
// expiry: a token's repetitions are counted for its lifetime.
func (l *Limiter) AllowRepetition(ctx context.Context, key string, max int64) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	n, err := repetition.Run(ctx, l.c, []string{l.prefix + "rep:" + key}, max).Int64()
	return n == 1, err
}

// Ping reports whether Redis answers.
func Ping(ctx context.Context, c redis.UniversalClient) error { return c.Ping(ctx).Err() }

func itoa(n uint64) string { return strconv.FormatUint(n, 36) }
