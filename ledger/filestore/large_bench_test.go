package filestore

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/sintgate/sintgate/ledger"
)

// Benchmarks on a large store made by ledgergen:
//
//	go run ./ledger/filestore/ledgergen -dir /tmp/ledgerb-10m -n 10000000
//	SINT_BENCH_LEDGER=/tmp/ledgerb-10m go test -run '^$' -bench Large -benchtime 20x ./ledger/filestore/
//
// Without SINT_BENCH_LEDGER they are skipped (benchmarks only; no test
// depends on them).
func largeDir(b *testing.B) string {
	dir := os.Getenv("SINT_BENCH_LEDGER")
	if dir == "" {
		b.Skip("SINT_BENCH_LEDGER is not set")
	}
	return dir
}

// BenchmarkLargeOpen measures Open (restart to ready) and reports the heap
// in use after it.
func BenchmarkLargeOpen(b *testing.B) {
	dir := largeDir(b)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		if i == b.N-1 {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heapMiB")
			n, _ := s.Size(context.Background())
			b.ReportMetric(float64(n), "entries")
		}
		b.ReportMetric(float64(el.Microseconds())/1000, "open-ms")
		s.Close()
	}
}

// BenchmarkLargeProofs measures inclusion and consistency proofs and
// GetByEventID at random positions of the large store.
func BenchmarkLargeProofs(b *testing.B) {
	dir := largeDir(b)
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	n, _ := s.Size(ctx)
	root, _ := s.TreeHash(ctx, n)
	e, _ := s.Get(ctx, n/3)
	// Positions differ from run to run (SINT_BENCH_SEED), so that a run
	// does not find the pages of the previous one in the page cache.
	seed, _ := strconv.Atoi(os.Getenv("SINT_BENCH_SEED"))
	if os.Getenv("SINT_BENCH_SERIAL") != "" {
		parallelReads = 1 << 30 // one pread after the other, as before
	}
	b.Run("inclusion", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			idx := uint64(i*7919+seed*104723) % n
			if _, err := s.InclusionProof(ctx, idx, n); err != nil {
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
			from := 1 + uint64(i*104729+seed*7919)%(n-1)
			if _, err := s.ConsistencyProof(ctx, from, n); err != nil {
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

// BenchmarkLargeAppend appends from 16 goroutines to the large store (the
// entries stay: run it on a copy, or regenerate).
func BenchmarkLargeAppend(b *testing.B) {
	dir := largeDir(b)
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	runConcurrent(b, 16, func(i int) error {
		_, err := s.Append(context.Background(), benchEvent(i))
		return err
	})
	b.ReportMetric(float64(b.N)/float64(s.groups.Load()), "entries/fsync")
}
