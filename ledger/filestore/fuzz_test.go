package filestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sintgate/sintgate/ledger"
)

// FuzzOpenDamagedLog opens a store whose log file is arbitrary bytes (seeded
// with a real log, a torn copy and a bit-flipped copy). Invariants: Open
// never panics; when it succeeds, Verify and List answer without panicking,
// a valid Verify covers every entry, and the store still appends and then
// verifies from the first entry Verify had accepted.
func FuzzOpenDamagedLog(f *testing.F) {
	preallocChunk = 4096 // many tiny stores: keep each fuzz execution cheap
	dir := f.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if _, err := s.Append(context.Background(), ledger.Event{EventType: "a.b", AgentID: "x", Payload: map[string]int{"i": i}}); err != nil {
			f.Fatal(err)
		}
	}
	s.mu.RLock()
	end := s.end
	s.mu.RUnlock()
	s.Close()
	log, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		f.Fatal(err)
	}
	log = log[:end]
	f.Add(log)
	f.Add(log[:len(log)-9])
	flipped := append([]byte(nil), log...)
	flipped[len(flipped)/2] ^= 4
	f.Add(flipped)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, logName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(d, Options{})
		if err != nil {
			return
		}
		defer s.Close()
		ctx := context.Background()
		n, _ := s.Size(ctx)
		res, err := s.Verify(ctx, 0, 0)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if res.Valid && res.Checked != n {
			t.Fatalf("valid Verify checked %d of %d", res.Checked, n)
		}
		_, _, _ = s.List(ctx, ledger.ListQuery{Limit: 10})
		if res.Valid {
			e, err := s.Append(ctx, ledger.Event{EventType: "a.b", AgentID: "x"})
			if err != nil || e.SequenceNumber != n+1 {
				t.Fatalf("append after open: %+v %v", e, err)
			}
			if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid {
				t.Fatalf("Verify after append: %+v %v", res, err)
			}
		}
	})
}
