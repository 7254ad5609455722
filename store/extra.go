package store

import (
	"context"
	"time"
)

// RevocationFeed is an optional capability of a Store, found by type
// assertion: both store/embedded and store/pgstore implement it.
//
// RevokedSince returns the ids of tokens whose RevokedAt is at or after
// since, oldest revocation first (ties by token id). It is a catch-up helper
// for replicas that missed a pub/sub message: RevokedAt is the caller-supplied
// revocation time, not the commit time, so a poller must overlap its windows
// (ask from the last poll minus a margin) and treat the result as a set.
type RevocationFeed interface {
	RevokedSince(ctx context.Context, since time.Time) ([]string, error)
}

// TimePrecision is the precision of every time.Time a Store returns: both
// implementations truncate to whole microseconds (PostgreSQL's timestamptz
// resolution) and return times in UTC.
const TimePrecision = time.Microsecond

// NormTime returns t as a Store gives it back: UTC, truncated to
// TimePrecision, without a monotonic reading.
func NormTime(t time.Time) time.Time {
	return t.Truncate(TimePrecision).UTC()
}

// MaxIDBytes bounds every id a Store indexes (token, parent, approval,
// agent, request, API key ids and root public keys): longer ids are refused
// with an error. It keeps every key well inside bbolt's and a PostgreSQL
// B-tree's limits.
const MaxIDBytes = 512

// Repetitions is an optional capability of a Store, found by type
// assertion: both store/embedded and store/pgstore implement it. It holds
// the lifetime use counters of tokens' `maxRepetitions` (docs/policy.md), so
// that a budget survives restarts and is shared by a fleet's replicas.
//
// TakeRepetition counts one more use of key if fewer than max uses are
// counted, and reports whether it did; true is returned only once the new
// count is durable (a crash right after cannot give the use back). max ≤ 0
// answers false without writing. RepetitionCount returns the count of key,
// 0 when it was never used. Keys are at most MaxIDBytes.
type Repetitions interface {
	TakeRepetition(ctx context.Context, key string, max int64) (bool, error)
	RepetitionCount(ctx context.Context, key string) (int64, error)
}
