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
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/gateway"
)

// Prefix returns the key prefix of a fleet: "sint:<fleet>:".
func Prefix(fleet string) string { return "sint:" + fleet + ":" }

// Replay is a gateway.ReplayCache in Redis: SET key NX PX window. A pair is
// remembered for gateway.ReplayWindow measured by the Redis server's clock.
type Replay struct {
	c      redis.Cmdable
	prefix string
}

// NewReplay returns a replay cache under prefix.
func NewReplay(c redis.Cmdable, prefix string) *Replay {
	return &Replay{c: c, prefix: prefix}
}

// FirstSeen implements gateway.ReplayCache.
func (r *Replay) FirstSeen(ctx context.Context, agentID, requestID string, _ time.Time) (bool, error) {
	return r.c.SetNX(ctx, r.prefix+"replay:"+agentID+"/"+requestID, 1, gateway.ReplayWindow).Result()
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
