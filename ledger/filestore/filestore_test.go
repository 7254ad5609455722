package filestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

func TestContract(t *testing.T) {
	ledgertest.Run(t, ledgertest.Options{
		Open: func(t *testing.T, clock func() time.Time) ledger.Store {
			s, err := Open(t.TempDir(), Options{Clock: clock})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Tamper: func(t *testing.T, s ledger.Store, seq uint64) {
			fs := s.(*Store)
			flipByteInEntry(t, fs, seq)
		},
	})
}

// flipByteInEntry flips one byte inside the JSON of entry seq, in the file,
// behind the store's back.
func flipByteInEntry(t *testing.T, s *Store, seq uint64) {
	t.Helper()
	off, err := s.offsets.at(seq)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(s.dir, logName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pos := off + hdrSize + fixedBody + 30 // inside the canonical JSON
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func appendN(t *testing.T, s *Store, n int) []ledger.Entry {
	t.Helper()
	var out []ledger.Entry
	for i := 0; i < n; i++ {
		e, err := s.Append(context.Background(), ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]int{"i": i}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestReopenKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	es := appendN(t, s, 50)
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("second Open of a directory in use succeeded")
	}
	root, _ := s.TreeHash(context.Background(), 50)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Recovered()) != 0 {
		t.Fatalf("clean reopen repaired: %v", s.Recovered())
	}
	root2, _ := s.TreeHash(context.Background(), 50)
	if root != root2 {
		t.Fatal("root changed across reopen")
	}
	e, err := s.Append(context.Background(), ledger.Event{EventType: "x.y", AgentID: "a"})
	if err != nil || e.SequenceNumber != 51 || e.PreviousHash != es[49].Hash {
		t.Fatalf("append after reopen %+v %v", e, err)
	}
	got, err := s.GetByEventID(context.Background(), es[10].EventID)
	if err != nil || got.Hash != es[10].Hash {
		t.Fatalf("index lost: %v", err)
	}
}

func TestRecovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string, size int64)
		wantN   uint64
		badSeq  uint64 // 0 = Verify valid
		repairs bool
	}{
		{"torn/half-frame", func(t *testing.T, dir string, size int64) {
			os.Truncate(filepath.Join(dir, logName), size-7)
		}, 19, 0, true},
		{"torn/half-frame-before-zeros", func(t *testing.T, dir string, size int64) {
			f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
			f.WriteAt(make([]byte, 7), size-7)
			f.Close()
		}, 19, 0, true},
		{"torn/garbage-tail", func(t *testing.T, dir string, size int64) {
			f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_APPEND, 0)
			f.Write(bytes.Repeat([]byte{0xff}, 100)) // implausible frame length
			f.Close()
		}, 20, 0, true},
		{"torn/frame-then-zeros", func(t *testing.T, dir string, size int64) {
			f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
			// A header announcing 200 bytes, followed by preallocated zeros.
			f.WriteAt([]byte{200, 0, 0, 0, 1, 2, 3, 4, 9, 9}, size)
			f.Close()
		}, 20, 0, true},
		{"clean/preallocated-zeros", func(t *testing.T, dir string, size int64) {
			f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_WRONLY|os.O_APPEND, 0)
			f.Write(make([]byte, 4096))
			f.Close()
		}, 20, 0, false},
		{"hashes/lost", func(t *testing.T, dir string, size int64) {
			os.Truncate(filepath.Join(dir, hashName), 0)
			os.WriteFile(filepath.Join(dir, markName), nil, 0o600)
		}, 20, 0, true},
		{"hashes/behind-mark-lost", func(t *testing.T, dir string, size int64) {
			os.Remove(filepath.Join(dir, markName))
			os.Truncate(filepath.Join(dir, hashName), 32*5)
		}, 20, 0, true},
		{"tamper/middle-frame-kept", func(t *testing.T, dir string, size int64) {
			f, _ := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
			// entry 3: all frames before it have the same size in this test
			b := make([]byte, 1)
			pos := size/20*2 + hdrSize + fixedBody + 40
			f.ReadAt(b, pos)
			b[0] ^= 0x20
			f.WriteAt(b, pos)
			f.Close()
		}, 20, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			// Equal-size payloads so frame offsets are predictable.
			for i := 0; i < 20; i++ {
				if _, err := s.Append(context.Background(), ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]int{"i": 10 + i}}); err != nil {
					t.Fatal(err)
				}
			}
			s.mu.RLock()
			end := s.end
			s.mu.RUnlock()
			s.Close()
			tc.damage(t, dir, end)
			s, err = Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// A frame before the mark that fails its CRC is found by the
			// background check, not by Open.
			if err := s.WaitChecked(context.Background()); err != nil {
				t.Fatalf("background check: %v", err)
			}
			if tc.repairs != (len(s.Recovered()) > 0) {
				t.Fatalf("recovered %v", s.Recovered())
			}
			n, _ := s.Size(context.Background())
			if n != tc.wantN {
				t.Fatalf("size %d want %d", n, tc.wantN)
			}
			res, err := s.Verify(context.Background(), 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if tc.badSeq == 0 && !res.Valid {
				t.Fatalf("Verify %+v %s", res, res.Reason)
			}
			if tc.badSeq != 0 && (res.Valid || *res.FirstBadSequence != tc.badSeq) {
				t.Fatalf("Verify %+v, want bad %d", res, tc.badSeq)
			}
			if tc.badSeq == 0 {
				// Still appendable and chained.
				e, err := s.Append(context.Background(), ledger.Event{EventType: "x.y", AgentID: "a"})
				if err != nil || e.SequenceNumber != n+1 {
					t.Fatalf("append after recovery: %+v %v", e, err)
				}
				if res, _ := s.Verify(context.Background(), 0, 0); !res.Valid {
					t.Fatalf("after append: %+v", res)
				}
			}
		})
	}
}

func TestTamperStoredHash(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN(t, s, 12)
	f, _ := os.OpenFile(filepath.Join(dir, hashName), os.O_RDWR, 0)
	b := []byte{0}
	pos := int64(32*7 + 3) // stored index of leaf... some hash inside the file
	f.ReadAt(b, pos)
	b[0] ^= 1
	f.WriteAt(b, pos)
	f.Close()
	res, err := s.Verify(context.Background(), 0, 0)
	if err != nil || res.Valid {
		t.Fatalf("tampered stored hash not detected: %+v %v", res, err)
	}
}
