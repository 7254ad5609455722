package embedded

import (
	"context"
	"encoding/binary"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// bRepetitions holds the lifetime use counters (store.Repetitions):
// key → count (8 bytes, big-endian). It is created at Open.
var bRepetitions = []byte("repetitions")

var _ store.Repetitions = (*Store)(nil)

// TakeRepetition implements store.Repetitions. The increment commits in the
// writer's group commit (fsynced) before true is returned.
func (s *Store) TakeRepetition(ctx context.Context, key string, max int64) (bool, error) {
	if err := check.ID("repetition key", key); err != nil {
		return false, wrap("take repetition", err)
	}
	if max <= 0 {
		return false, nil
	}
	var took bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		took = false // fn may run more than once (group retry)
		b := tx.Bucket(bRepetitions)
		n := count(b.Get([]byte(key)))
		if n >= max {
			return nil
		}
		if err := b.Put([]byte(key), binary.BigEndian.AppendUint64(nil, uint64(n+1))); err != nil {
			return err
		}
		took = true
		return nil
	})
	if err != nil {
		return false, wrap("take repetition", err)
	}
	return took, nil
}

// RepetitionCount implements store.Repetitions.
func (s *Store) RepetitionCount(ctx context.Context, key string) (int64, error) {
	if check.ID("repetition key", key) != nil {
		return 0, nil
	}
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		n = count(tx.Bucket(bRepetitions).Get([]byte(key)))
		return nil
	})
	return n, wrap("repetition count", err)
}

func count(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
