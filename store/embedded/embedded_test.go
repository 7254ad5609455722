package embedded

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
		if _, err := s.GetToken(t.Context(), "x"); err == nil {
			t.Fatal("GetToken on a closed store succeeded")
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
