package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/ledger"
)

// ReplayLookback is how far back RecoverReplay reads the ledger. A request
// accepted at t (gateway clock) carries a timestamp of at most
// t + FreshnessMs, and is refused STALE_REQUEST once the clock passes that
// timestamp + FreshnessMs: it can only be replayed until t + 2×FreshnessMs
// (60 s). Five more seconds cover the clock differences of replicas. A
// replay later than that is refused as stale whatever the replay cache
// holds, so this keeps the 120 s promise of PROTOCOL.md §4 at half the
// start-up cost of reading 120 s.
const ReplayLookback = 2*FreshnessMs*time.Millisecond + 5*time.Second

// replayFields are the fields RecoverReplay reads from an entry's payload.
type replayFields struct {
	RequestID string `json:"requestId"`
	AgentID   string `json:"agentId"`
	Code      string `json:"code"`
}

var requestIDKey = []byte(`"requestId"`)

// RecoverReplay calls remember with the (agentId, requestId) of every
// ledger entry timestamped at or after now − lookback whose payload names a
// requestId (the decision of every intercept that got past stage 3, economy
// spends, approvals), except decisions refused before the signature held
// (UNAUTHENTICATED, MALFORMED_REQUEST, STALE_REQUEST). The agent is the payload's agentId when present, else
// the entry's. It is how a replay cache refills after it was lost (a
// restart, a Redis without persistence): the ledger holds every decision
// before it was answered, so every request that was answered in the window
// is found. It returns how many pairs it passed to remember.
//
// Entry timestamps never decrease along the chain (ledger.Prepared.Next),
// so the first entry of the window is found by binary search and only the
// window is read.
func RecoverReplay(ctx context.Context, lg ledger.Store, now time.Time, lookback time.Duration, remember func(agentID, requestID string) error) (int, error) {
	size, err := lg.Size(ctx)
	if err != nil || size == 0 {
		return 0, err
	}
	cutoff := ledger.FormatTimestamp(now.Add(-lookback))
	lo, hi := uint64(1), size+1 // the first seq in [lo, hi) with timestamp ≥ cutoff; hi = none
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := lg.Get(ctx, mid)
		if err != nil {
			return 0, fmt.Errorf("replay recovery: entry %d: %w", mid, err)
		}
		if e.Timestamp >= cutoff {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	n := 0
	after := lo - 1
	for after < size {
		es, next, err := lg.List(ctx, ledger.ListQuery{After: after, Limit: ledger.MaxListLimit})
		if err != nil {
			return n, fmt.Errorf("replay recovery: list after %d: %w", after, err)
		}
		for i := range es {
			if !bytes.Contains(es[i].Payload, requestIDKey) {
				continue
			}
			var f replayFields
			if err := json.Unmarshal(es[i].Payload, &f); err != nil || f.RequestID == "" || unauthenticated(f.Code) {
				continue
			}
			if f.AgentID == "" {
				f.AgentID = es[i].AgentID
			}
			if err := remember(f.AgentID, f.RequestID); err != nil {
				return n, fmt.Errorf("replay recovery: %w", err)
			}
			n++
		}
		if next == nil || len(es) == 0 {
			break
		}
		after = *next
	}
	return n, nil
}

// unauthenticated reports whether a decision with this code was made
// before the signature was checked or because it was wrong: its requestId
// was never remembered, and whoever sent it need not be the agent.
func unauthenticated(code string) bool {
	switch codes.Code(code) {
	case codes.Unauthenticated, codes.MalformedRequest, codes.StaleRequest:
		return true
	}
	return false
}

// RecoverMemoryReplay refills m from the ledger at start (see
// RecoverReplay): the pairs are remembered as first seen at now.
func RecoverMemoryReplay(ctx context.Context, m *MemoryReplay, lg ledger.Store, now time.Time) (int, error) {
	return RecoverReplay(ctx, lg, now, ReplayLookback, func(agentID, requestID string) error {
		_, err := m.FirstSeen(ctx, agentID, requestID, now)
		return err
	})
}
