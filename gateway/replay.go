package gateway

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// ReplayWindow is how long a requestId is remembered per agent (PROTOCOL.md §4).
const ReplayWindow = 120 * time.Second

// ErrReplayCacheFull is returned when the replay cache cannot remember one
// more request; the pipeline then fails closed.
var ErrReplayCacheFull = errors.New("replay cache full")

// ReplayCache remembers (agentId, requestId) pairs for ReplayWindow.
// Implementations: MemoryReplay (single node) and a Redis one (replicas).
type ReplayCache interface {
	// FirstSeen records the pair and reports whether it was new. An error
	// means the cache could not answer; the caller denies.
	FirstSeen(ctx context.Context, agentID, requestID string, now time.Time) (bool, error)
}

// MemoryReplay is an in-memory ReplayCache made of two generations per shard:
// a pair is remembered for at least ReplayWindow and at most twice that.
// Memory is bounded by maxEntries; past it FirstSeen fails closed. It is safe
// for concurrent use.
type MemoryReplay struct {
	seed   maphash.Seed
	shards [64]replayShard
	max    int
}

type replayShard struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	rotated   time.Time
}

// NewMemoryReplay returns a cache holding at most maxEntries pairs.
func NewMemoryReplay(maxEntries int) *MemoryReplay {
	m := &MemoryReplay{seed: maphash.MakeSeed(), max: maxEntries / 64}
	if m.max < 1 {
		m.max = 1
	}
	return m
}

// FirstSeen implements ReplayCache.
func (m *MemoryReplay) FirstSeen(_ context.Context, agentID, requestID string, now time.Time) (bool, error) {
	key := agentID + "/" + requestID
	s := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		s.cur, s.prev, s.rotated = map[string]struct{}{}, map[string]struct{}{}, now
	}
	if now.Sub(s.rotated) >= 2*ReplayWindow {
		s.prev, s.cur, s.rotated = map[string]struct{}{}, map[string]struct{}{}, now
	} else if now.Sub(s.rotated) >= ReplayWindow {
		s.prev, s.cur, s.rotated = s.cur, map[string]struct{}{}, now
	}
	if _, ok := s.cur[key]; ok {
		return false, nil
	}
	if _, ok := s.prev[key]; ok {
		return false, nil
	}
	if len(s.cur)+len(s.prev) >= m.max {
		return false, ErrReplayCacheFull
	}
	s.cur[key] = struct{}{}
	return true, nil
}
