package filestore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

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

// FuzzOpenDamagedDerived opens a valid 6-entry store whose mark, offsets
// file, first event id slots and ledger.archived are replaced by arbitrary
// bytes. Invariants: Open never panics; no read answers another entry's
// data; and after the background check and one more reopen (which rebuilds
// whatever the check refused) the store holds the 6 entries, verifies and
// appends.
func FuzzOpenDamagedDerived(f *testing.F) {
	preallocChunk = 4096
	src := f.TempDir()
	s, err := Open(src, Options{})
	if err != nil {
		f.Fatal(err)
	}
	var es []ledger.Entry
	for i := 0; i < 6; i++ {
		e, err := s.Append(context.Background(), ledger.Event{EventID: uuid.NewString(), EventType: "a.b", AgentID: "x", Payload: map[string]int{"i": i}})
		if err != nil {
			f.Fatal(err)
		}
		es = append(es, e)
	}
	s.Close()
	files := map[string][]byte{}
	for _, name := range []string{logName, hashName, markName, offsName, idsName} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			f.Fatal(err)
		}
		files[name] = b
	}
	f.Add(files[markName], files[offsName], []byte{}, []byte{})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0}, files[offsName][:20], make([]byte, 48), []byte(`{"upTo":0,"liveOffset":0,"dir":"/x"}`))
	f.Add([]byte{9}, []byte{1, 2, 3}, []byte{0xff}, []byte(`{"upTo":256,"liveOffset":5,"dir":"/nonexistent"}`))
	f.Fuzz(func(t *testing.T, mark, offs, idsHead, archived []byte) {
		if len(offs) > 4096 || len(idsHead) > 4096 || len(archived) > 4096 {
			return
		}
		ctx := context.Background()
		d := t.TempDir()
		for name, b := range files {
			os.WriteFile(filepath.Join(d, name), b, 0o600)
		}
		os.WriteFile(filepath.Join(d, markName), mark, 0o600)
		os.WriteFile(filepath.Join(d, offsName), offs, 0o600)
		if len(archived) > 0 {
			os.WriteFile(filepath.Join(d, archivedName), archived, 0o600)
		}
		if fi, err := os.OpenFile(filepath.Join(d, idsName), os.O_RDWR, 0); err == nil {
			fi.WriteAt(idsHead, 0)
			fi.Close()
		}
		s, err := Open(d, Options{CheckDuty: 1})
		if err != nil {
			return // refused (a damaged ledger.archived): nothing served
		}
		for i, want := range es {
			if e, err := s.Get(ctx, uint64(i+1)); err == nil && e.Hash != want.Hash {
				t.Fatalf("Get(%d) answered another entry", i+1)
			}
			if e, err := s.GetByEventID(ctx, want.EventID); err == nil && e.Hash != want.Hash {
				t.Fatalf("GetByEventID answered another entry")
			}
		}
		_ = s.WaitChecked(ctx)
		s.Close()
		if s, err = Open(d, Options{CheckDuty: 1}); err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer s.Close()
		if err := s.WaitChecked(ctx); err != nil {
			t.Fatalf("check after the second open: %v", err)
		}
		if n, _ := s.Size(ctx); n != 6 {
			t.Fatalf("size %d", n)
		}
		for i, want := range es {
			if e, err := s.GetByEventID(ctx, want.EventID); err != nil || e.Hash != want.Hash {
				t.Fatalf("GetByEventID(%d): %v", i+1, err)
			}
		}
		if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid {
			t.Fatalf("Verify %+v %v", res, err)
		}
		if _, err := s.Append(ctx, ledger.Event{EventID: es[2].EventID, EventType: "a.b", AgentID: "x"}); err != ledger.ErrDuplicateEvent {
			t.Fatalf("duplicate: %v", err)
		}
	})
}
