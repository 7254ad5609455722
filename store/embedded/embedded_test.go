package embedded

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/storetest"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTemp(t)
		return s
	})
	storetest.RunDurable(t, func(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
		s, path := openTemp(t)
		return s, func(t *testing.T) store.Store {
			s, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	})
}

func TestOpen(t *testing.T) {
	t.Run("error/second-open-of-locked-file", func(t *testing.T) {
		_, path := openTemp(t)
		if s, err := Open(path); err == nil {
			_ = s.Close()
			t.Fatal("a second Open of a file in use succeeded")
		}
	})
	t.Run("error/newer-schema", func(t *testing.T) {
		s, path := openTemp(t)
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bMeta).Put(keySchema, []byte("99"))
		}); err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if s, err := Open(path); err == nil {
			_ = s.Close()
			t.Fatal("Open accepted a file with a newer schema")
		}
	})
	t.Run("error/not-a-bolt-file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "junk.db")
		if err := os.WriteFile(path, bytes.Repeat([]byte("junk"), 2048), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(path); err == nil {
			_ = s.Close()
			t.Fatal("Open accepted a file that is not a bolt database")
		}
	})
	t.Run("error/closed-store", func(t *testing.T) {
		s, _ := openTemp(t)
		_ = s.Close()
		if _, err := s.GetToken(t.Context(), "x"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetToken on a closed store: %v, want a plain error", err)
		}
		if _, err := s.RevokeToken(t.Context(), "x", time.Now()); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RevokeToken on a closed store: %v, want a plain error", err)
		}
		if _, err := s.GetEstop(t.Context()); err == nil {
			t.Fatal("GetEstop on a closed store succeeded (would report armed)")
		}
		if err := s.Ping(t.Context()); err == nil {
			t.Fatal("Ping on a closed store succeeded")
		}
	})
}

func TestKeyEncoding(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix []byte
		want   []byte
	}{
		{"simple", []byte("ab"), []byte("ac")},
		{"trailing-ff", []byte{'a', 0xff, 0xff}, []byte{'b'}},
		{"all-ff", []byte{0xff, 0xff}, nil},
		{"empty", nil, nil},
	} {
		t.Run("successor/"+tc.name, func(t *testing.T) {
			if got := prefixSuccessor(tc.prefix); !bytes.Equal(got, tc.want) {
				t.Fatalf("prefixSuccessor(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
		})
	}
	t.Run("ordered/is-numeric-order", func(t *testing.T) {
		xs := []int64{-1 << 63, -5, -1, 0, 1, 1000, 1<<63 - 1}
		for i := 1; i < len(xs); i++ {
			if bytes.Compare(ordered(xs[i-1]), ordered(xs[i])) >= 0 {
				t.Fatalf("ordered(%d) >= ordered(%d)", xs[i-1], xs[i])
			}
		}
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		s, err := Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestGroupCommit(t *testing.T) {
	t.Run("failed-write-rolls-back-only-itself", func(t *testing.T) {
		s, _ := openTemp(t)
		runs := make([]int, 4)
		put := func(i int, key string, fail error) *write {
			return &write{result: make(chan error, 1), fn: func(tx *bolt.Tx) error {
				runs[i]++
				if key != "" {
					if err := tx.Bucket(bMeta).Put([]byte(key), []byte("v")); err != nil {
						return err
					}
				}
				return fail
			}}
		}
		boom := errors.New("boom")
		group := []*write{put(0, "a", nil), put(1, "b", boom), put(2, "", store.ErrExists), put(3, "c", nil)}
		s.commit(group)
		want := []error{nil, boom, store.ErrExists, nil}
		for i, w := range group {
			if err := <-w.result; !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
				t.Fatalf("write %d: %v, want %v", i, err, want[i])
			}
		}
		if err := s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bMeta)
			if b.Get([]byte("a")) == nil || b.Get([]byte("c")) == nil || b.Get([]byte("b")) != nil {
				t.Fatalf("after rollback and retry: a=%q b=%q c=%q, want a and c only", b.Get([]byte("a")), b.Get([]byte("b")), b.Get([]byte("c")))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(runs, []int{2, 2, 1, 1}) {
			t.Fatalf("runs = %v, want [2 2 1 1]: the group aborts at the failure, then each write runs alone", runs)
		}
	})
	t.Run("refusals-do-not-roll-back-the-group", func(t *testing.T) {
		s, _ := openTemp(t)
		runs := 0
		group := []*write{
			{result: make(chan error, 1), fn: func(tx *bolt.Tx) error { runs++; return tx.Bucket(bMeta).Put([]byte("a"), nil) }},
			{result: make(chan error, 1), fn: func(*bolt.Tx) error { return store.ErrConflict }},
		}
		s.commit(group)
		if err := <-group[0].result; err != nil {
			t.Fatal(err)
		}
		if err := <-group[1].result; !errors.Is(err, store.ErrConflict) {
			t.Fatalf("refusal: %v", err)
		}
		if runs != 1 {
			t.Fatalf("write ran %d times, want once", runs)
		}
	})
	t.Run("ctx/cancelled-while-waiting", func(t *testing.T) {
		s, _ := openTemp(t)
		ctx, cancel := context.WithCancel(t.Context())
		release := make(chan struct{})
		started := make(chan struct{})
		go func() {
			_ = s.update(t.Context(), func(*bolt.Tx) error { close(started); <-release; return nil })
		}()
		<-started // the writer is busy with the first write
		errc := make(chan error, 1)
		go func() { errc <- s.update(ctx, func(*bolt.Tx) error { return nil }) }()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("update with a cancelled ctx: %v", err)
		}
		close(release)
	})
}
