package pgledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/ledgertest"
	"github.com/sintgate/sintgate/ledger/tlogarchive"
)

// archiveFixture is a ledger of 3000 events (every 100th a retained
// token.revoked, every 7th of type "rare.kind"), a checkpoint covering
// them, and 20 events after it.
type archiveFixture struct {
	s      *Store
	url    string
	es     []ledger.Entry // by seq-1
	cp     ledger.Checkpoint
	signer ledger.CheckpointSigner
}

func newArchiveFixture(t *testing.T, opts Options) *archiveFixture {
	t.Helper()
	ctx := context.Background()
	url := testenv.FreshPGDatabase(t)
	if url == "" {
		t.Skip("no PostgreSQL")
	}
	c := &ledgertest.Clock{}
	opts.Clock = c.Now
	s, err := Open(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &archiveFixture{s: s, url: url}
	f.signer, _ = ledgertest.Signer(t)
	appendN := func(n int) {
		evs := make([]ledger.Event, 0, n)
		for i := range n {
			k := len(f.es) + i
			typ := "decision.allow"
			switch {
			case k%100 == 0:
				typ = "token.revoked"
			case k == 7:
				typ = "rare.kind"
			}
			evs = append(evs, ledger.Event{EventType: typ, AgentID: fmt.Sprintf("agent-%d", k%5), Payload: map[string]any{"i": k}})
		}
		for lo := 0; lo < len(evs); lo += 500 {
			got, errs, err := s.AppendBatch(ctx, evs[lo:min(lo+500, len(evs))])
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range got {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				f.es = append(f.es, e)
			}
		}
	}
	appendN(2999)
	f.cp, err = (&ledger.Ledger{Store: s, Now: c.Now}).Checkpoint(ctx, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	cpe, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.es = append(f.es, cpe)
	appendN(20)
	return f
}

// check asserts that everything works across the archive boundary: reads
// by sequence and event id, listings, duplicate refusal, Verify, the
// export against the signed checkpoint (what `sintctl ledger verify`
// checks), inclusion and consistency proofs, Size/Head and appends.
func (f *archiveFixture) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	s := f.s
	for _, seq := range []uint64{1, 8, 256, 257, 2816, 2817, 3000, 3020} {
		e, err := s.Get(ctx, seq)
		if err != nil || e.Hash != f.es[seq-1].Hash {
			t.Fatalf("Get(%d): %v", seq, err)
		}
		if e, err := s.GetByEventID(ctx, f.es[seq-1].EventID); err != nil || e.SequenceNumber != seq {
			t.Fatalf("GetByEventID(%d): %v", seq, err)
		}
		if _, err := s.Append(ctx, ledger.Event{EventID: f.es[seq-1].EventID, EventType: "x.y", AgentID: "a"}); !errors.Is(err, ledger.ErrDuplicateEvent) {
			t.Fatalf("duplicate of the id of entry %d: %v", seq, err)
		}
	}
	page, next, err := s.List(ctx, ledger.ListQuery{After: 2810, Limit: 10})
	if err != nil || len(page) != 10 || page[0].SequenceNumber != 2811 || page[9].Hash != f.es[2819].Hash || next == nil {
		t.Fatalf("List across the boundary: %d %v", len(page), err)
	}
	page, _, err = s.List(ctx, ledger.ListQuery{After: 0, Limit: 3, EventType: "token.revoked"})
	if err != nil || len(page) != 3 || page[1].SequenceNumber != 101 {
		t.Fatalf("List of a retained type from the start: %d %v", len(page), err)
	}
	revs, err := s.EntriesOfTypes(ctx, []string{"token.revoked"}, 0, 1000)
	if err != nil || len(revs) != 31 {
		t.Fatalf("EntriesOfTypes of a retained type: %d %v", len(revs), err)
	}
	n, err := s.Size(ctx)
	if err != nil || n != uint64(len(f.es)) {
		t.Fatalf("Size %d %v", n, err)
	}
	if h, err := s.Head(ctx); err != nil || h.Hash != f.es[n-1].Hash {
		t.Fatalf("Head: %v", err)
	}
	if res, err := s.Verify(ctx, 0, 0); err != nil || !res.Valid || res.Checked != n {
		t.Fatalf("Verify %+v %v", res, err)
	}
	if res, err := s.Verify(ctx, 1000, 2900); err != nil || !res.Valid {
		t.Fatalf("Verify from inside the archive %+v %v", res, err)
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	_, pub := ledgertest.Signer(t)
	size, root, err := ledger.VerifyCheckpoint(f.cp, f.signer.Name(), pub)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ledger.VerifyNDJSON(&buf, []uint64{size}, nil)
	if err != nil || !r.Valid || r.Roots[size] != root {
		t.Fatalf("export across the boundary: %+v %v", r, err)
	}
	for _, seq := range []uint64{5, 2816, 2900} {
		p, err := s.InclusionProof(ctx, seq-1, size)
		if err != nil || ledger.VerifyInclusion(p, size, seq-1, root, f.es[seq-1].Hash) != nil {
			t.Fatalf("inclusion %d: %v", seq, err)
		}
	}
	oldRoot, _ := s.TreeHash(ctx, 100)
	p, err := s.ConsistencyProof(ctx, 100, size)
	if err != nil || ledger.VerifyConsistency(p, 100, size, oldRoot, root) != nil {
		t.Fatalf("consistency: %v", err)
	}
}

func liveRows(t *testing.T, s *Store) int64 {
	t.Helper()
	var n int64
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM sint_ledger_entries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestArchiveRoundTrip archives the sealed part of a PostgreSQL ledger to a
// tlog-tiles directory, removes its rows, and checks that every read, proof
// and verification keeps working across the boundary; that appends go on;
// that reads the rows left cannot answer fail with LEDGER_UNAVAILABLE
// instead of a shorter answer; that a tampered bundle is reported; and that
// the owner still cannot delete a row that is not archived.
func TestArchiveRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newArchiveFixture(t, Options{})
	s, arch := f.s, t.TempDir()
	before := liveRows(t, s)
	// Asks for everything; gets the sealed whole bundles: 2999 → 2816.
	rep, err := s.Archive(ctx, arch, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	if rep.UpTo != 2816 || rep.PurgedTo != 2816 || rep.Bundles != 11 || rep.Tiles == 0 {
		t.Fatalf("archive %+v", rep)
	}
	// 2816 archived, of which 29 token.revoked rows stay.
	if after := liveRows(t, s); rep.Removed != 2816-29 || after != before-rep.Removed {
		t.Fatalf("rows %d → %d, removed %d", before, after, rep.Removed)
	}
	if rep2, err := s.Archive(ctx, arch, 1<<40); err != nil || rep2.Bundles != 0 || rep2.Removed != 0 || rep2.UpTo != 2816 {
		t.Fatalf("re-archive %+v %v", rep2, err)
	}
	if _, err := s.Archive(ctx, t.TempDir(), 1<<40); err == nil {
		t.Fatal("archived to a second location")
	}
	f.check(t)
	// Appends go on, and the next archive run moves the boundary.
	if _, err := s.Append(ctx, ledger.Event{EventType: "decision.allow", AgentID: "a"}); err != nil {
		t.Fatal(err)
	}
	e, _ := s.Head(ctx)
	f.es = append(f.es, e)
	f.check(t)

	// What the rows left cannot answer is an error, never a shorter answer.
	for name, err := range map[string]error{
		"filtered list": func() error { _, _, err := s.List(ctx, ledger.ListQuery{AgentID: "agent-1"}); return err }(),
		"last of type":  func() error { _, err := s.LastOfType(ctx, "rare.kind"); return err }(),
		"by type":       func() error { _, err := s.EntriesOfTypes(ctx, []string{"decision.allow"}, 0, 10); return err }(),
	} {
		if codes.Of(err) != codes.LedgerUnavailable {
			t.Errorf("%s below the boundary: %v", name, err)
		}
	}
	// Without the archive: an error code, not ErrNotFound.
	s2, err := Open(ctx, f.url, Options{ArchiveDir: filepath.Join(t.TempDir(), "gone")})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Get(ctx, 5); codes.Of(err) != codes.LedgerUnavailable {
		t.Fatalf("archived read without the archive: %v", err)
	}
	if _, err := s2.GetByEventID(ctx, f.es[4].EventID); codes.Of(err) != codes.LedgerUnavailable {
		t.Fatalf("archived read by id without the archive: %v", err)
	}
	if _, err := s2.Get(ctx, 2900); err != nil {
		t.Fatalf("live read without the archive: %v", err)
	}
	// The owner cannot delete a row that is not archived, nor move the
	// boundary back.
	for _, q := range []string{
		`DELETE FROM sint_ledger_entries WHERE seq = 2900`,
		`DELETE FROM sint_ledger_entries WHERE seq = 101`, // archived, but retained
		`UPDATE sint_ledger_archive SET up_to = 256, purged_to = 256`,
		`UPDATE sint_ledger_archive SET up_to = 3072`, // would take the head
		`DELETE FROM sint_ledger_archived_ids`,
	} {
		if _, err := s.pool.Exec(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
	// A tampered archived entry: Verify reports it, a read refuses it.
	bp := tlogarchive.BundlePath(arch, 3)
	b, _ := os.ReadFile(bp)
	lines := bytes.Split(b, []byte("\n"))
	lines[9] = bytes.Replace(lines[9], []byte(`"agentId":"agent-`), []byte(`"agentId":"agent-X`), 1)
	if err := os.WriteFile(bp, bytes.Join(lines, []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := s.Verify(ctx, 0, 0)
	if err != nil || res.Valid || *res.FirstBadSequence != 3*256+10 {
		t.Fatalf("tampered bundle: %+v %v", res, err)
	}
	if _, err := s.Get(ctx, 3*256+10); codes.Of(err) != codes.LedgerUnavailable {
		t.Fatalf("tampered archived entry read: %v", err)
	}
}

// TestArchiveInterrupted stops Archive after each of its steps (and in the
// middle of the row removal) and checks that the ledger still verifies and
// reads completely at that point, and that running Archive again
// completes it.
func TestArchiveInterrupted(t *testing.T) {
	old := purgeBatch
	purgeBatch = 1000
	defer func() { purgeBatch = old }()
	for _, stop := range []string{"written", "checked", "recorded", "purged#1", "purged#2"} {
		t.Run(stop, func(t *testing.T) {
			ctx := context.Background()
			f := newArchiveFixture(t, Options{})
			s, arch := f.s, t.TempDir()
			seen := map[string]int{}
			boom := errors.New("interrupted")
			s.archiveHook = func(step string) error {
				seen[step]++
				if fmt.Sprintf("%s#%d", step, seen[step]) == stop || step == stop {
					return boom
				}
				return nil
			}
			if _, err := s.Archive(ctx, arch, 1<<40); !errors.Is(err, boom) {
				t.Fatalf("archive: %v", err)
			}
			f.check(t)
			s.archiveHook = nil
			rep, err := s.Archive(ctx, arch, 1<<40)
			if err != nil || rep.UpTo != 2816 || rep.PurgedTo != 2816 {
				t.Fatalf("resumed archive %+v %v", rep, err)
			}
			var ids int64
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sint_ledger_archived_ids`).Scan(&ids); err != nil || ids != 2816-29 {
				t.Fatalf("archived ids %d %v", ids, err)
			}
			f.check(t)
		})
	}
}

// TestArchiveRefusesBadRange: an entry that does not verify stops Archive
// before anything is recorded or removed.
func TestArchiveRefusesBadRange(t *testing.T) {
	ctx := context.Background()
	f := newArchiveFixture(t, Options{})
	s := f.s
	for _, q := range []string{
		`ALTER TABLE sint_ledger_entries DISABLE TRIGGER sint_ledger_entries_no_change`,
		`UPDATE sint_ledger_entries SET entry = convert_to(replace(convert_from(entry, 'UTF8'), '"i":99', '"i":98'), 'UTF8') WHERE seq = 100`,
		`ALTER TABLE sint_ledger_entries ENABLE TRIGGER sint_ledger_entries_no_change`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	before := liveRows(t, s)
	if _, err := s.Archive(ctx, t.TempDir(), 1<<40); err == nil {
		t.Fatal("archived a range that does not verify")
	}
	var n int64
	s.pool.QueryRow(ctx, `SELECT count(*) FROM sint_ledger_archive`).Scan(&n)
	if after := liveRows(t, s); after != before || n != 0 {
		t.Fatalf("rows %d → %d, boundary rows %d", before, after, n)
	}
	_ = uuid.Nil
}

// TestArchiveWhileServing runs Archive (small removal batches) while a
// second store on the same database — a running gateway — appends, lists
// from the start and verifies in a loop: every append succeeds, every
// unfiltered page is gap-free, every Verify is valid.
func TestArchiveWhileServing(t *testing.T) {
	old := purgeBatch
	purgeBatch = 256
	defer func() { purgeBatch = old }()
	ctx := context.Background()
	f := newArchiveFixture(t, Options{})
	gw, err := Open(ctx, f.url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	done := make(chan struct{})
	errc := make(chan error, 3)
	go func() { // appender
		for i := 0; ; i++ {
			select {
			case <-done:
				errc <- nil
				return
			default:
			}
			if _, err := gw.Append(ctx, ledger.Event{EventType: "decision.allow", AgentID: "a", Payload: map[string]any{"x": i}}); err != nil {
				errc <- fmt.Errorf("append: %w", err)
				return
			}
		}
	}()
	go func() { // reader
		for {
			select {
			case <-done:
				errc <- nil
				return
			default:
			}
			for after := uint64(0); after < 3000; after += 997 {
				page, _, err := gw.List(ctx, ledger.ListQuery{After: after, Limit: 300})
				if err != nil {
					errc <- fmt.Errorf("list after %d: %w", after, err)
					return
				}
				for i, e := range page {
					if e.SequenceNumber != after+1+uint64(i) || (e.SequenceNumber <= uint64(len(f.es)) && e.Hash != f.es[e.SequenceNumber-1].Hash) {
						errc <- fmt.Errorf("list after %d: entry %d is %d", after, i, e.SequenceNumber)
						return
					}
				}
			}
		}
	}()
	go func() { // verifier
		for {
			select {
			case <-done:
				errc <- nil
				return
			default:
			}
			res, err := gw.Verify(ctx, 0, 3000)
			if err != nil || !res.Valid {
				errc <- fmt.Errorf("verify: %+v %v", res, err)
				return
			}
		}
	}()
	rep, err := f.s.Archive(ctx, t.TempDir(), 1<<40)
	close(done)
	for range 3 {
		if e := <-errc; e != nil {
			t.Error(e)
		}
	}
	if err != nil || rep.PurgedTo != 2816 {
		t.Fatalf("archive %+v %v", rep, err)
	}
	if res, err := gw.Verify(ctx, 0, 0); err != nil || !res.Valid {
		t.Fatalf("verify after: %+v %v", res, err)
	}
}
