package filestore

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

// slotOf returns the file position of the event id slot holding id.
func slotOf(t *testing.T, dir string, id string) int64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, idsName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := [16]byte(uuid.MustParse(id))
	x := &idIndex{f: f}
	pos := int64(-1)
	if err := x.walk(0, u, nil, func(p int64, sid [16]byte, seq uint64) bool {
		if sid == u {
			pos = p
			return true
		}
		return seq == 0
	}); err != nil || pos < 0 {
		t.Fatalf("slot of %s not found: %v", id, err)
	}
	return pos
}

func writeAt(t *testing.T, dir, name string, b []byte, off int64) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// TestDerivedFiles damages the offsets, event id index, stored hashes and
// mark between a clean close and a reopen, as a crash in the middle of
// their writes or an edit behind the store's back would. Whatever the
// damage: no read answers another entry's data, damage at the mark is found
// by Open (which rebuilds from the log), damage before it is found by the
// background check (which fails the store: appends refused), and the next
// Open rebuilds everything and the store is whole again.
func TestDerivedFiles(t *testing.T) {
	const n = 40
	for _, tc := range []struct {
		name string
		// damage gets the entries and the frame offsets.
		damage    func(t *testing.T, dir string, es []ledger.Entry, offs []int64)
		rebuilt   bool // Open rebuilds from the log
		replayed  bool // Open recomputes past a mark behind the log
		checkFail bool // the background check fails the store
	}{
		{"clean", func(*testing.T, string, []ledger.Entry, []int64) {}, false, false, false},
		{"offsets/lost", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			os.Truncate(filepath.Join(dir, offsName), 0)
		}, true, false, false},
		{"ids/lost", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			os.Truncate(filepath.Join(dir, idsName), 0)
		}, true, false, false},
		{"offsets/wrong-at-mark", func(t *testing.T, dir string, _ []ledger.Entry, offs []int64) {
			writeAt(t, dir, offsName, u64(uint64(offs[n-2])), 8*(n-1))
		}, true, false, false},
		{"hashes/wrong-leaf-at-mark", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			writeAt(t, dir, hashName, make([]byte, 32), 32*tlog.StoredHashIndex(0, n-1))
		}, true, false, false},
		{"mark/past-the-log", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			writeAt(t, dir, markName, u64(n+5), 0)
		}, true, false, false},
		{"crash/mark-behind", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			writeAt(t, dir, markName, u64(10), 0)
		}, false, true, false},
		{"crash/derived-torn-past-mark", func(t *testing.T, dir string, es []ledger.Entry, _ []int64) {
			// A crash after the mark at 10 while entries 11.. were being
			// indexed: offsets cut mid-value, a slot of a later entry
			// pointing past the log, stored hashes cut.
			writeAt(t, dir, markName, u64(10), 0)
			os.Truncate(filepath.Join(dir, offsName), 8*13+3)
			os.Truncate(filepath.Join(dir, hashName), 32*tlog.StoredHashCount(12)+7)
			pos := slotOf(t, dir, es[20].EventID)
			writeAt(t, dir, idsName, u64(n+100), pos+16)
		}, false, true, false},
		{"offsets/wrong-in-the-middle", func(t *testing.T, dir string, _ []ledger.Entry, offs []int64) {
			writeAt(t, dir, offsName, u64(uint64(offs[5])), 8*4) // entry 5 → entry 6's frame
		}, false, false, true},
		{"ids/slot-cleared", func(t *testing.T, dir string, es []ledger.Entry, _ []int64) {
			writeAt(t, dir, idsName, make([]byte, slotSize), slotOf(t, dir, es[4].EventID))
		}, false, false, true},
		{"ids/slot-redirected", func(t *testing.T, dir string, es []ledger.Entry, _ []int64) {
			writeAt(t, dir, idsName, u64(7), slotOf(t, dir, es[4].EventID)+16) // entry 5's id → 7
		}, false, false, true},
		{"hashes/wrong-leaf-in-the-middle", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			writeAt(t, dir, hashName, make([]byte, 32), 32*tlog.StoredHashIndex(0, 4))
		}, false, false, true},
		{"hashes/wrong-interior-node", func(t *testing.T, dir string, _ []ledger.Entry, _ []int64) {
			writeAt(t, dir, hashName, make([]byte, 32), 32*tlog.StoredHashIndex(2, 1))
		}, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var es []ledger.Entry
			for i := 0; i < n; i++ {
				// Caller-chosen ids for half (looked up for duplicates).
				ev := ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]int{"i": i}}
				if i%2 == 0 {
					ev.EventID = uuid.NewString()
				}
				e, err := s.Append(ctx, ev)
				if err != nil {
					t.Fatal(err)
				}
				es = append(es, e)
			}
			root, _ := s.TreeHash(ctx, n)
			offs := make([]int64, n)
			for i := range offs {
				offs[i], _ = s.offsets.at(uint64(i + 1))
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir, es, offs)

			s, err = Open(dir, Options{CheckDuty: 1})
			if err != nil {
				t.Fatal(err)
			}
			rec := strings.Join(s.Recovered(), "; ")
			if got := strings.Contains(rec, "rebuilt from the log"); got != tc.rebuilt {
				t.Fatalf("rebuilt %v, want %v: %s", got, tc.rebuilt, rec)
			}
			if got := strings.Contains(rec, "recomputed for entries 11..40"); got != tc.replayed {
				t.Fatalf("replayed %v, want %v: %s", got, tc.replayed, rec)
			}
			if size, _ := s.Size(ctx); size != n {
				t.Fatalf("size %d", size)
			}
			// No read answers another entry's data, damaged or not.
			for i, want := range es {
				if e, err := s.Get(ctx, uint64(i+1)); err == nil && e.Hash != want.Hash {
					t.Fatalf("Get(%d) answered entry %d", i+1, e.SequenceNumber)
				}
				if e, err := s.GetByEventID(ctx, want.EventID); err == nil && e.Hash != want.Hash {
					t.Fatalf("GetByEventID(%s) answered entry %d", want.EventID, e.SequenceNumber)
				}
			}
			cerr := s.WaitChecked(ctx)
			if tc.checkFail != (cerr != nil) || (cerr != nil && !errors.Is(cerr, ErrDerivedMismatch)) {
				t.Fatalf("background check: %v, want failure %v", cerr, tc.checkFail)
			}
			if tc.checkFail {
				if _, err := s.Append(ctx, ledger.Event{EventType: "x.y", AgentID: "a"}); !errors.Is(err, ledger.ErrFailed) {
					t.Fatalf("append after a failed check: %v", err)
				}
				if _, err := s.Append(ctx, ledger.Event{EventID: es[4].EventID, EventType: "x.y", AgentID: "a"}); err == nil {
					t.Fatal("a duplicate id was appended after a failed check")
				}
				s.Close()
				if s, err = Open(dir, Options{CheckDuty: 1}); err != nil {
					t.Fatal(err)
				}
				if rec := strings.Join(s.Recovered(), "; "); !strings.Contains(rec, "rebuilt from the log") {
					t.Fatalf("reopen after a failed check did not rebuild: %s", rec)
				}
				if err := s.WaitChecked(ctx); err != nil {
					t.Fatalf("check after the rebuild: %v", err)
				}
			}
			defer s.Close()
			// Whole again.
			if got, _ := s.TreeHash(ctx, n); got != root {
				t.Fatal("root changed")
			}
			for i, want := range es {
				if e, err := s.GetByEventID(ctx, want.EventID); err != nil || e.Hash != want.Hash {
					t.Fatalf("GetByEventID(%d): %v", i+1, err)
				}
				if e, err := s.Get(ctx, uint64(i+1)); err != nil || e.Hash != want.Hash {
					t.Fatalf("Get(%d): %v", i+1, err)
				}
			}
			if _, err := s.Append(ctx, ledger.Event{EventID: es[4].EventID, EventType: "x.y", AgentID: "a"}); err != ledger.ErrDuplicateEvent {
				t.Fatalf("duplicate of entry 5's id: %v", err)
			}
			if e, err := s.Append(ctx, ledger.Event{EventType: "x.y", AgentID: "a"}); err != nil || e.SequenceNumber != n+1 || e.PreviousHash != es[n-1].Hash {
				t.Fatalf("append: %+v %v", e, err)
			}
			if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid {
				t.Fatalf("Verify %+v %v", res, err)
			}
		})
	}
}

// rchar is how many bytes this process has read through read syscalls.
func rchar(t *testing.T) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Fatalf("/proc/self/io: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// TestOpenReadsOnlyPastTheMark: restarting does not read the log it already
// indexed (Open used to scan every frame: restart time grew with the
// ledger). A 70,000-entry store (about 50 MB of log) opens reading less
// than a tenth of it, with nothing per entry in memory.
func TestOpenReadsOnlyPastTheMark(t *testing.T) {
	ctx := context.Background()
	signer, _ := ledgertest.Signer(t)
	dir := t.TempDir()
	if _, err := Generate(ctx, dir, 70000, GenOptions{Signer: signer, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	before := rchar(t)
	s, err := Open(dir, Options{CheckDuty: 0.01})
	read := rchar(t) - before
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("log %d bytes, Open read %d bytes", fi.Size(), read)
	if read > fi.Size()/10 {
		t.Fatalf("Open read %d bytes of a %d-byte log", read, fi.Size())
	}
	if size, _ := s.Size(ctx); size != 70000 {
		t.Fatalf("size %d", size)
	}
}

// TestCheckpointRefusesADivergedTree: a stored hash edited behind the
// store's back (here an interior node under the latest checkpoint, which
// no leaf check sees and the new root does not read) stops checkpointing: the
// next root is signed only if it extends the latest checkpoint's tree.
func TestCheckpointRefusesADivergedTree(t *testing.T) {
	ctx := context.Background()
	signer, _ := ledgertest.Signer(t)
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := &ledger.Ledger{Store: s, Now: time.Now}
	appendN(t, s, 20)
	if _, err := l.Checkpoint(ctx, signer); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 20)
	// The node of entries 1..16: under the checkpoint at 20, read by neither
	// the root at 41 (it reads the node of 1..32) nor any leaf check.
	writeAt(t, dir, hashName, make([]byte, 32), 32*tlog.StoredHashIndex(4, 0))
	if _, err := l.Checkpoint(ctx, signer); !errors.Is(err, ledger.ErrTreeDiverges) {
		t.Fatalf("checkpoint over a diverged tree: %v", err)
	}
}
