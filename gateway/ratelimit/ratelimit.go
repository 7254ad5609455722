// Package ratelimit holds the in-memory rate and repetition counters of the
// intercept pipeline (PROTOCOL.md §5.1 stage 8): an exact sliding-window
// counter for token `rateLimit` and per-agent policy limits, and a lifetime
// repetition counter for token `maxRepetitions`.
//
// The package is pure: it never reads the clock (the caller passes now) and
// does no I/O. A replicated deployment uses a Redis implementation of the same
// small interfaces (Limiter, RepetitionLimiter), defined here so that the
// pipeline depends on the interface only.
//
// Semantics shared by every implementation:
//
//   - The window of a call at now is the half-open interval (now−window, now]:
//     a call made exactly window ago no longer counts.
//   - Only allowed calls are counted; a denied call does not consume quota, so
//     an agent that is being refused is not locked out for longer by retrying.
//   - maxCalls ≤ 0 or window ≤ 0 denies (fail closed), as does max ≤ 0 for
//     repetitions.
package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Limiter is a sliding-window rate limiter: Allow reports whether one more
// call under key is within max calls per window ending at now, and counts it
// if so. Implementations are safe for concurrent use. An error means the
// limiter could not decide; the caller denies (fail closed).
type Limiter interface {
	Allow(ctx context.Context, key string, max int64, window time.Duration, now time.Time) (bool, error)
}

// RepetitionLimiter counts uses of key over its whole lifetime (a token's
// `maxRepetitions`): AllowRepetition reports whether one more use is within
// max, and counts it if so.
type RepetitionLimiter interface {
	AllowRepetition(ctx context.Context, key string, max int64) (bool, error)
}

const shardCount = 32

// sweepEvery is how many Take calls a shard serves between sweeps that drop
// keys whose windows have emptied (amortised eviction, no goroutine).
const sweepEvery = 1024

// Counter is the in-memory implementation of Limiter and RepetitionLimiter:
// an exact sliding-window log (one timestamp per counted call, at most
// maxCalls per key) and a repetition count per key. The zero value is not
// usable; call NewCounter. Safe for concurrent use.
type Counter struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu    sync.Mutex
	calls map[string]*window
	reps  map[string]int64
	ops   int
}

// window is a ring buffer of call times (unix nanoseconds), oldest first.
type window struct {
	times  []int64 // ring storage, grows up to maxCalls
	start  int     // index of the oldest entry
	n      int     // number of entries
	span   int64   // the window length of the last Take, for sweeping
	newest int64
}

// NewCounter returns an empty counter.
func NewCounter() *Counter {
	c := &Counter{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].calls = make(map[string]*window)
		c.shards[i].reps = make(map[string]int64)
	}
	return c
}

func (c *Counter) shard(key string) *shard {
	return &c.shards[maphash.String(c.seed, key)%shardCount]
}

// Take reports whether a call under key at now is within maxCalls calls per
// window, and records it if so. Calls are counted in (now−window, now].
// maxCalls ≤ 0 or window ≤ 0 returns false. A now earlier than recorded calls
// (a clock step backwards) keeps those calls counted, which can only deny more.
func (c *Counter) Take(key string, maxCalls int64, win time.Duration, now time.Time) bool {
	if maxCalls <= 0 || win <= 0 {
		return false
	}
	s := c.shard(key)
	t := now.UnixNano()
	span := int64(win)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops++
	if s.ops%sweepEvery == 0 {
		s.sweep(t)
	}
	w := s.calls[key]
	if w == nil {
		w = &window{}
		s.calls[key] = w
	}
	w.span = span
	// Drop calls at or before now−window.
	cut := t - span
	for w.n > 0 && w.times[w.start] <= cut {
		w.start = (w.start + 1) % len(w.times)
		w.n--
	}
	if int64(w.n) >= maxCalls {
		return false
	}
	w.push(t, maxCalls)
	if t > w.newest || w.n == 1 {
		w.newest = t
	}
	return true
}

// push appends t, growing the ring (never beyond maxCalls entries).
func (w *window) push(t int64, maxCalls int64) {
	if w.n == len(w.times) {
		size := 2 * len(w.times)
		if size < 4 {
			size = 4
		}
		if int64(size) > maxCalls {
			size = int(maxCalls)
		}
		if size <= w.n { // maxCalls shrank below the stored count
			size = w.n + 1
		}
		grown := make([]int64, size)
		for i := 0; i < w.n; i++ {
			grown[i] = w.times[(w.start+i)%len(w.times)]
		}
		w.times, w.start = grown, 0
	}
	w.times[(w.start+w.n)%len(w.times)] = t
	w.n++
}

// sweep drops windows whose newest call has left the window (they hold no
// counted call any more). Called with s.mu held.
func (s *shard) sweep(now int64) {
	for k, w := range s.calls {
		if w.n == 0 || w.newest <= now-w.span {
			delete(s.calls, k)
		}
	}
}

// Allow implements Limiter. It never fails.
func (c *Counter) Allow(_ context.Context, key string, max int64, win time.Duration, now time.Time) (bool, error) {
	return c.Take(key, max, win, now), nil
}

// TakeRepetition reports whether one more use of key is within max uses in
// total, and counts it if so. max ≤ 0 returns false.
func (c *Counter) TakeRepetition(key string, max int64) bool {
	if max <= 0 {
		return false
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reps[key] >= max {
		return false
	}
	s.reps[key]++
	return true
}

// AllowRepetition implements RepetitionLimiter. It never fails.
func (c *Counter) AllowRepetition(_ context.Context, key string, max int64) (bool, error) {
	return c.TakeRepetition(key, max), nil
}

// Repetitions returns how many uses of key have been counted.
func (c *Counter) Repetitions(key string) int64 {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reps[key]
}

// Keys returns the number of keys with a live sliding window (for metrics and
// tests of eviction).
func (c *Counter) Keys() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.calls)
		s.mu.Unlock()
	}
	return n
}

var (
	_ Limiter           = (*Counter)(nil)
	_ RepetitionLimiter = (*Counter)(nil)
)
