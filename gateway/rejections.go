package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// Rejections aggregates requests rejected before authentication completed
// (stages 1–3) into request.rejected summaries, one per (code, source) per
// window, so that nobody can flood the ledger with unauthenticated traffic
// (PROTOCOL.md §5.1). Memory is bounded by MaxRejectionKeys; past it further
// sources are folded into the source "other".
type Rejections struct {
	mu      sync.Mutex
	window  time.Duration
	started time.Time
	counts  map[rejKey]int64
}

// MaxRejectionKeys bounds the distinct (code, source) pairs kept per window.
const MaxRejectionKeys = 4096

type rejKey struct {
	code   codes.Code
	source string
}

// NewRejections returns an aggregator with the given summary window.
func NewRejections(window time.Duration) *Rejections {
	return &Rejections{window: window, counts: map[rejKey]int64{}}
}

// Add counts one rejection.
func (r *Rejections) Add(c codes.Code, source string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.counts) == 0 {
		r.started = now
	}
	k := rejKey{c, source}
	if _, ok := r.counts[k]; !ok && len(r.counts) >= MaxRejectionKeys {
		k.source = "other"
	}
	r.counts[k]++
}

// Flush appends one summary event per (code, source) counted since the last
// flush. Counts that could not be appended are kept for the next flush.
func (r *Rejections) Flush(ctx context.Context, l Ledger, now time.Time) error {
	r.mu.Lock()
	counts, started := r.counts, r.started
	r.counts = map[rejKey]int64{}
	r.mu.Unlock()
	var firstErr error
	for k, n := range counts {
		_, err := l.Append(ctx, ledger.Event{EventType: "request.rejected", AgentID: "system", Payload: map[string]any{
			"code": string(k.code), "source": k.source, "count": n,
			"windowStart": started.UnixMilli(), "windowEnd": now.UnixMilli(),
		}})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			r.mu.Lock()
			if len(r.counts) == 0 {
				r.started = started
			}
			r.counts[k] += n
			r.mu.Unlock()
		}
	}
	return firstErr
}

// Run flushes every window until ctx ends, then flushes once more.
func (r *Rejections) Run(ctx context.Context, l Ledger, clock func() time.Time) {
	t := time.NewTicker(r.window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = r.Flush(context.WithoutCancel(ctx), l, clock())
			return
		case <-t.C:
			_ = r.Flush(ctx, l, clock())
		}
	}
}
