package pgledger

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

// Benchmarks on a large PostgreSQL ledger, loaded once (COPY) from an
// embedded store made by ledgergen, into a database of your own:
//
//	go run ./ledger/filestore/ledgergen -dir /tmp/ledgerb-10m -n 10000000
//	createdb ledgerb_bench
//	SINT_BENCH_PG_URL=postgres://…/ledgerb_bench SINT_BENCH_LEDGER=/tmp/ledgerb-10m \
//	  go test -run '^$' -bench LargePG -benchtime 200x ./ledger/pgledger/
//
// Skipped without SINT_BENCH_PG_URL (benchmarks only).
func largePG(b *testing.B) string {
	url := os.Getenv("SINT_BENCH_PG_URL")
	if url == "" {
		b.Skip("SINT_BENCH_PG_URL is not set")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(seq),0) FROM sint_ledger_entries`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n > 0 {
		return url
	}
	src := os.Getenv("SINT_BENCH_LEDGER")
	if src == "" {
		b.Skip("empty database and no SINT_BENCH_LEDGER to load it from")
	}
	loadFromFilestore(b, pool, src)
	return url
}

// loadFromFilestore copies the entries and stored hashes of the embedded
// store at src into the (empty, migrated) ledger tables of pool.
func loadFromFilestore(b testing.TB, pool *pgxpool.Pool, src string) {
	ctx := context.Background()
	start := time.Now()
	fs, err := filestore.Open(src, filestore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	size, _ := fs.Size(ctx)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(fs.Export(ctx, pw, 0, 0, nil)) }()
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 1<<20), ledger.MaxEntryBytes+1)
	rows, err := pool.CopyFrom(ctx, pgx.Identifier{"sint_ledger_entries"}, []string{"seq", "event_id", "event_type", "agent_id", "ts", "hash", "entry"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					return nil, err
				}
				return nil, nil
			}
			line := append([]byte(nil), sc.Bytes()...)
			e, err := ledger.DecodeEntry(line)
			if err != nil {
				return nil, err
			}
			raw, _ := ledger.RawHash(e.Hash)
			return []any{int64(e.SequenceNumber), uuid.MustParse(e.EventID), e.EventType, e.AgentID, e.Timestamp, raw[:], line}, nil
		}))
	fs.Close()
	if err != nil {
		b.Fatal(err)
	}
	// The stored hashes are the embedded store's ledger.hashes, in the same
	// tlog layout.
	hf, err := os.Open(filepath.Join(src, "ledger.hashes"))
	if err != nil {
		b.Fatal(err)
	}
	defer hf.Close()
	hr := bufio.NewReaderSize(hf, 1<<20)
	var idx int64
	buf := make([]byte, 32)
	tree, err := pool.CopyFrom(ctx, pgx.Identifier{"sint_ledger_tree"}, []string{"idx", "hash"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if idx >= tlog.StoredHashCount(int64(size)) {
				return nil, nil
			}
			if _, err := io.ReadFull(hr, buf); err != nil {
				return nil, err
			}
			idx++
			return []any{idx - 1, append([]byte(nil), buf...)}, nil
		}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE sint_ledger_entries; ANALYZE sint_ledger_tree`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d entries, %d tree rows in %v", rows, tree, time.Since(start))
}

// BenchmarkLargePGOpen measures restart to ready (pool, migrations check,
// Size) on the large database.
func BenchmarkLargePGOpen(b *testing.B) {
	url := largePG(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Open(ctx, url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n, err := s.Size(ctx)
		if err != nil || n == 0 {
			b.Fatal(err)
		}
		if _, err := s.Head(ctx); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

func BenchmarkLargePGProofs(b *testing.B) {
	url := largePG(b)
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n, _ := s.Size(ctx)
	root, _ := s.TreeHash(ctx, n)
	e, _ := s.Get(ctx, n/3)
	b.Run("inclusion", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.InclusionProof(ctx, uint64(i*7919)%n, n); err != nil {
				b.Fatal(err)
			}
		}
		p, _ := s.InclusionProof(ctx, e.SequenceNumber-1, n)
		if err := ledger.VerifyInclusion(p, n, e.SequenceNumber-1, root, e.Hash); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.ConsistencyProof(ctx, 1+uint64(i*104729)%(n-1), n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-by-event-id", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.GetByEventID(ctx, e.EventID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLargePGAppend appends from 16 goroutines (the entries stay).
func BenchmarkLargePGAppend(b *testing.B) {
	url := os.Getenv("SINT_BENCH_PG_URL")
	if os.Getenv("SINT_BENCH_PG_EMPTY") == "" {
		url = largePG(b)
	} else if url == "" {
		b.Skip("SINT_BENCH_PG_URL is not set")
	}
	s, err := Open(context.Background(), url, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(next.Add(1)) <= b.N {
				if _, err := s.Append(context.Background(), benchEvent(0)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}
