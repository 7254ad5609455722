package filestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

func allocated(t *testing.T, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// dirTiles serves hash tiles from an archive directory (as a static file
// server would).
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return tileHeight }
func (d dirTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(t.Path())))
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestArchiveRoundTrip moves sealed entries to an archive directory and
// checks that everything keeps working across the boundary: reads by
// sequence and event id, List, duplicate checks, Verify, the NDJSON export
// (what `sintctl ledger verify` checks) against the signed checkpoint,
// inclusion and consistency proofs, proofs served from the archive's tiles
// alone, a reopen, a rebuild of the derived files from the archive, and
// that the log's blocks are released. A tampered bundle is reported by
// Verify at its entry.
func TestArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	signer, pub := ledgertest.Signer(t)
	dir, arch := t.TempDir(), t.TempDir()
	if _, err := Generate(ctx, dir, 3000, GenOptions{Signer: signer, CheckpointEvery: 1000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{CheckDuty: 1})
	if err != nil {
		t.Fatal(err)
	}
	var es []ledger.Entry
	for seq := uint64(1); seq <= 3000; seq++ {
		e, err := s.Get(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	l := &ledger.Ledger{Store: s}
	cp, err := l.LatestCheckpoint(ctx) // covers 2999
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, logName)
	before := allocated(t, logPath)
	// Asks for everything; gets the sealed whole bundles: 2999 → 2816.
	rep, err := s.Archive(ctx, arch, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if rep.UpTo != 2816 || rep.Bundles != 11 || rep.Tiles == 0 {
		t.Fatalf("archive %+v", rep)
	}
	if after := allocated(t, logPath); after > before-rep.FreedBytes+1<<16 {
		t.Fatalf("log blocks not released: %d → %d (freed %d)", before, after, rep.FreedBytes)
	}
	// Archiving again is a no-op.
	if rep2, err := s.Archive(ctx, arch, 1<<40); err != nil || rep2.Bundles != 0 || rep2.UpTo != 2816 {
		t.Fatalf("re-archive %+v %v", rep2, err)
	}

	check := func(t *testing.T, s *Store) {
		t.Helper()
		for _, seq := range []uint64{1, 256, 257, 2816, 2817, 3000} {
			e, err := s.Get(ctx, seq)
			if err != nil || e.Hash != es[seq-1].Hash {
				t.Fatalf("Get(%d): %v", seq, err)
			}
			if e, err := s.GetByEventID(ctx, es[seq-1].EventID); err != nil || e.SequenceNumber != seq {
				t.Fatalf("GetByEventID(%d): %v", seq, err)
			}
			if _, err := s.Append(ctx, ledger.Event{EventID: es[seq-1].EventID, EventType: "x.y", AgentID: "a"}); err != ledger.ErrDuplicateEvent {
				t.Fatalf("duplicate of archived/live id %d: %v", seq, err)
			}
		}
		page, _, err := s.List(ctx, ledger.ListQuery{After: 2810, Limit: 10})
		if err != nil || len(page) != 10 || page[0].SequenceNumber != 2811 || page[9].Hash != es[2819].Hash {
			t.Fatalf("List across the boundary: %d %v", len(page), err)
		}
		n, _ := s.Size(ctx)
		if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid || res.Checked != n {
			t.Fatalf("Verify %+v %v", res, err)
		}
		var buf bytes.Buffer
		if err := s.Export(ctx, &buf, 0, 0, nil); err != nil {
			t.Fatal(err)
		}
		size, root, err := ledger.VerifyCheckpoint(cp, signer.Name(), pub)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ledger.VerifyNDJSON(&buf, []uint64{size}, nil)
		if err != nil || !r.Valid || r.Roots[size] != root {
			t.Fatalf("export across the boundary: %+v %v", r, err)
		}
		for _, seq := range []uint64{5, 2816, 2900} {
			p, err := s.InclusionProof(ctx, seq-1, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := ledger.VerifyInclusion(p, size, seq-1, root, es[seq-1].Hash); err != nil {
				t.Fatalf("inclusion %d: %v", seq, err)
			}
		}
		oldRoot, _ := s.TreeHash(ctx, 100)
		p, err := s.ConsistencyProof(ctx, 100, size)
		if err != nil || ledger.VerifyConsistency(p, 100, size, oldRoot, root) != nil {
			t.Fatalf("consistency: %v", err)
		}
	}
	check(t, s)
	if err := s.WaitChecked(ctx); err != nil {
		t.Fatal(err)
	}
	// Proofs from the archive alone: tiles checked against the signed root.
	note, _ := os.ReadFile(filepath.Join(arch, "checkpoint"))
	if string(note) != cp.Note {
		t.Fatal("archive checkpoint differs")
	}
	tree := tlog.Tree{N: 2816, Hash: mustTreeHash(t, s, 2816)}
	hr := tlog.TileHashReader(tree, dirTiles{arch})
	p, err := tlog.ProveRecord(2816, 1000, hr)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyInclusion(p, 2816, 1000, tree.Hash, es[1000].Hash); err != nil {
		t.Fatalf("proof from archive tiles: %v", err)
	}
	s.Close()

	// Reopen, and rebuild the derived files from archive + live log.
	for _, name := range []string{"reopen", "rebuild"} {
		if name == "rebuild" {
			os.Truncate(filepath.Join(dir, offsName), 0)
			os.Truncate(filepath.Join(dir, idsName), 0)
		}
		s, err = Open(dir, Options{CheckDuty: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rebuilt := strings.Contains(strings.Join(s.Recovered(), ";"), "rebuilt"); rebuilt != (name == "rebuild") {
			t.Fatalf("%s: %v", name, s.Recovered())
		}
		check(t, s)
		if err := s.WaitChecked(ctx); err != nil {
			t.Fatalf("%s: background check: %v", name, err)
		}
		s.Close()
	}

	// A tampered archived entry is reported at its sequence.
	bp := bundlePath(arch, 3)
	b, _ := os.ReadFile(bp)
	lines := bytes.Split(b, []byte("\n"))
	lines[9] = bytes.Replace(lines[9], []byte(`"decision":"allow"`), []byte(`"decision":"deny!"`), 1)
	os.WriteFile(bp, bytes.Join(lines, []byte("\n")), 0o600)
	s, err = Open(dir, Options{CheckDuty: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Verify(ctx, 0, 0)
	if err != nil || res.Valid || *res.FirstBadSequence != 3*256+10 {
		t.Fatalf("tampered bundle: %+v %v", res, err)
	}
}

func mustTreeHash(t *testing.T, s *Store, n uint64) tlog.Hash {
	h, err := s.TreeHash(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestBundlePathsNest: bundle 1000 and later live in tlog-tiles
// subdirectories (x001/000), which Archive creates.
func TestBundlePathsNest(t *testing.T) {
	dir := t.TempDir()
	for n, want := range map[uint64]string{0: "tile/entries/000", 999: "tile/entries/999", 1000: "tile/entries/x001/000", 1234567: "tile/entries/x001/x234/567"} {
		p := bundlePath(dir, n)
		if p != filepath.Join(dir, filepath.FromSlash(want)) {
			t.Fatalf("bundle %d at %s, want %s", n, p, want)
		}
		if err := writeImmutable(p, []byte("x\n")); err != nil {
			t.Fatalf("bundle %d: %v", n, err)
		}
		if err := writeImmutable(p, []byte("y\n")); err == nil {
			t.Fatalf("bundle %d rewritten with other bytes", n)
		}
	}
}

// TestArchiveDuringTheBackgroundCheck: a long reader (here the background
// check, slowed down) holds the archive lock one chunk at a time, so
// Archive does not wait for it to finish (it used to wait for the whole
// check: an hour on a 40 M-entry store).
func TestArchiveDuringTheBackgroundCheck(t *testing.T) {
	signer, _ := ledgertest.Signer(t)
	dir := t.TempDir()
	if _, err := Generate(context.Background(), dir, 3*framesChunk, GenOptions{Signer: signer, CheckpointEvery: 1000, Seed: 4}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{CheckDuty: 0.0001}) // ≈ 10,000× its work asleep
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := s.Archive(ctx, t.TempDir(), 1<<40)
	if err != nil || rep.UpTo == 0 {
		t.Fatalf("archive while the check runs: %+v %v", rep, err)
	}
	select {
	case <-s.checkDone:
		t.Fatal("the check finished first; the test proves nothing")
	default:
	}
}
