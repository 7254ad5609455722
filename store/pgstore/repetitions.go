package pgstore

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

var _ store.Repetitions = (*Store)(nil)

// TakeRepetition implements store.Repetitions: one statement, atomic under
// concurrent replicas (the row lock of the upsert), committed before true is
// returned.
func (s *Store) TakeRepetition(ctx context.Context, key string, max int64) (bool, error) {
	if err := check.ID("repetition key", key); err != nil {
		return false, wrap("take repetition", err)
	}
	if max <= 0 {
		return false, nil
	}
	var n int64
	err := s.pool.QueryRow(ctx, `INSERT INTO repetitions (key, count) VALUES ($1, 1)
ON CONFLICT (key) DO UPDATE SET count = repetitions.count + 1 WHERE repetitions.count < $2
RETURNING count`, key, max).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("take repetition", err)
	}
	return true, nil
}

// RepetitionCount implements store.Repetitions.
func (s *Store) RepetitionCount(ctx context.Context, key string) (int64, error) {
	if !findable(key) {
		return 0, nil
	}
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT count FROM repetitions WHERE key = $1`, key).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, wrap("repetition count", err)
}
