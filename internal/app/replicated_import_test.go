package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/pgstore"
)

// staleKeys is a store.APIKeys whose first GetAPIKey answers ErrNotFound
// although the key is stored: the view of a replica that read just before
// another replica's import committed.
type staleKeys struct {
	store.APIKeys
	mu    sync.Mutex
	stale bool
}

func (s *staleKeys) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	s.mu.Lock()
	stale := s.stale
	s.stale = false
	s.mu.Unlock()
	if stale {
		return store.APIKey{}, store.ErrNotFound
	}
	return s.APIKeys.GetAPIKey(ctx, id)
}

func TestImportAPIKeysRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, _, err := InitDataDir(ctx, dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	pg, err := pgstore.Open(ctx, testenv.FreshPGDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()

	t.Run("concurrent replicas all start", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 6)
		for i := range errs {
			wg.Go(func() { errs[i] = importAPIKeys(ctx, dir, pg) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		keys, err := pg.ListAPIKeys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys in PostgreSQL: %d, %v; want the one admin key", len(keys), err)
		}
	})
	t.Run("lost race to the same key is fine", func(t *testing.T) {
		if err := importAPIKeys(ctx, dir, &staleKeys{APIKeys: pg, stale: true}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("lost race to another secret fails", func(t *testing.T) {
		keys, _ := pg.ListAPIKeys(ctx)
		k := keys[0]
		if err := pg.DeleteAPIKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		k.SecretHash = make([]byte, len(k.SecretHash))
		if err := pg.PutAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		err := importAPIKeys(ctx, dir, &staleKeys{APIKeys: pg, stale: true})
		if err == nil || !strings.Contains(err.Error(), "another secret") {
			t.Fatalf("err = %v, want the key refused", err)
		}
	})
}
