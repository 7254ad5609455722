package pgledger

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/ledgertest"
)

// BenchmarkPGArchive measures archiving on a PostgreSQL ledger of
// SINT_BENCH_ARCHIVE_N generated allow decisions (loaded by COPY into a
// fresh database of the shared server, dropped after): disk before and
// after, archive throughput, proof and archived-read times before and
// after, and whether appends after the archive reuse the freed space.
// One run; the figures are logged.
//
//	SINT_BENCH_ARCHIVE_N=300000 go test -run '^$' -bench PGArchive -benchtime 1x ./ledger/pgledger/
func BenchmarkPGArchive(b *testing.B) {
	n, _ := strconv.ParseUint(os.Getenv("SINT_BENCH_ARCHIVE_N"), 10, 64)
	if n == 0 {
		b.Skip("SINT_BENCH_ARCHIVE_N is not set")
	}
	ctx := context.Background()
	url := testenv.FreshPGDatabase(b)
	if url == "" {
		b.Skip("no PostgreSQL")
	}
	signer, _ := ledgertest.Signer(b)
	src := b.TempDir()
	t0 := time.Now()
	if _, err := filestore.Generate(ctx, src, n, filestore.GenOptions{Signer: signer, CheckpointEvery: 10000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d entries in %v", n, time.Since(t0))
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	loadFromFilestore(b, pool, src)
	s, err := Open(ctx, url, Options{HashCache: 1 << 10})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sizes := func(what string) int64 {
		var e, t, ids int64
		if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('sint_ledger_entries'), pg_total_relation_size('sint_ledger_tree'),
			pg_total_relation_size('sint_ledger_archived_ids')`).Scan(&e, &t, &ids); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: entries %.1f MB, tree %.1f MB, archived ids %.1f MB, total %.1f MB",
			what, float64(e)/1e6, float64(t)/1e6, float64(ids)/1e6, float64(e+t+ids)/1e6)
		return e
	}
	size, _ := s.Size(ctx)
	probe := func(what string) {
		const k = 200
		root, err := s.TreeHash(ctx, size)
		if err != nil {
			b.Fatal(err)
		}
		var proof, get time.Duration
		for i := range k {
			seq := 1 + uint64(i*7919)%(size/2) // the first half: archived below
			t := time.Now()
			e, err := s.Get(ctx, seq)
			get += time.Since(t)
			if err != nil {
				b.Fatal(err)
			}
			t = time.Now()
			p, err := s.InclusionProof(ctx, seq-1, size)
			proof += time.Since(t)
			if err != nil || ledger.VerifyInclusion(p, size, seq-1, root, e.Hash) != nil {
				b.Fatalf("proof %d: %v", seq, err)
			}
		}
		b.Logf("%s: inclusion proof %v, Get %v (average of %d, entries in the first half)", what, proof/k, get/k, k)
	}
	appendMore := func(more int) time.Duration {
		t0 := time.Now()
		for lo := 0; lo < more; lo += 1000 {
			evs := make([]ledger.Event, min(1000, more-lo))
			for i := range evs {
				evs[i] = ledger.Event{EventType: "decision.allow", AgentID: "agent-1",
					Payload: map[string]any{"decision": "allow", "i": lo + i, "resource": "ros2:///cmd_vel", "action": "publish"}}
			}
			if _, _, err := s.AppendBatch(ctx, evs); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(t0)
	}
	// Control: the same appends before the archive grow the table by
	// their own size.
	more := int(size / 4)
	c0 := sizes("before")
	el := appendMore(more)
	before := sizes(fmt.Sprintf("after %d appends before archiving (%v)", more, el))
	b.Logf("control: entries table +%d bytes for %d appends", before-c0, more)
	size, _ = s.Size(ctx)
	probe("before")
	steps := map[string]time.Duration{}
	last := time.Now()
	s.archiveHook = func(step string) error {
		steps[step] += time.Since(last)
		last = time.Now()
		return nil
	}
	t0 = time.Now()
	rep, err := s.Archive(ctx, b.TempDir(), size/2)
	if err != nil {
		b.Fatal(err)
	}
	el = time.Since(t0)
	b.Logf("archive %+v in %v: %.0f entries/s; steps (read+check+write / read back / record / removal): %v",
		rep, el, float64(rep.UpTo)/el.Seconds(), steps)
	b.ReportMetric(float64(rep.UpTo)/el.Seconds(), "archived-entries/s")
	sizes("after archive")
	if _, err := pool.Exec(ctx, `VACUUM sint_ledger_entries`); err != nil {
		b.Fatal(err)
	}
	vac := sizes("after VACUUM")
	probe("after")
	// The same appends after the archive: into the freed pages.
	el = appendMore(more)
	after := sizes(fmt.Sprintf("after %d appends after archiving (%v)", more, el))
	b.Logf("entries table: %d → %d (archive, VACUUM) → %d bytes after %d appends (control: +%d)", before, vac, after, more, before-c0)
}
