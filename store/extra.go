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
