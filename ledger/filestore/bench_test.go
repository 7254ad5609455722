package filestore

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/ledger"
)

// benchEvent is a typical policy.evaluated payload (~300 bytes entry).
func benchEvent(i int) ledger.Event {
	return ledger.Event{EventType: "policy.evaluated", AgentID: "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
		TokenID: "01936d5e-0000-7000-8000-000000000001",
		Payload: map[string]any{"requestId": "01936d5e-0000-7000-8000-000000000002", "resource": "ros:///cmd_vel",
			"action": "publish", "decision": "allow", "tier": 1, "i": i}}
}

// runConcurrent runs b.N operations from c goroutines.
func runConcurrent(b *testing.B, c int, op func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := 0; g < c; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > b.N {
					return
				}
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// BenchmarkAppend measures durable appends/s (fdatasync per group) at 1, 16
// and 64 concurrent appenders.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("appenders=%d", c), func(b *testing.B) {
			s, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			runConcurrent(b, c, func(i int) error {
				_, err := s.Append(context.Background(), benchEvent(i))
				return err
			})
			b.ReportMetric(float64(b.N)/float64(s.groups.Load()), "entries/fsync")
		})
	}
}

// BenchmarkBboltBatch is the alternative measured for the embedded store:
// bbolt's own group commit (DB.Batch) storing the same encoded entries under
// sequential keys plus an eventId index, fsync on commit.
func BenchmarkBboltBatch(b *testing.B) {
	for _, c := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("appenders=%d", c), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "l.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.MaxBatchDelay = 0
			enc := ledger.EncodeEntry(&ledger.Entry{EventID: "01936d5e-0000-7000-8000-000000000002", SequenceNumber: 1,
				Timestamp: "2026-11-23T20:15:00.123456Z", EventType: "policy.evaluated", AgentID: strings.Repeat("a", 64),
				Payload:      []byte(`{"action":"publish","decision":"allow","requestId":"01936d5e-0000-7000-8000-000000000002","resource":"ros:///cmd_vel","tier":1}`),
				PreviousHash: ledger.ZeroHash, Hash: ledger.ZeroHash})
			var seq atomic.Uint64
			runConcurrent(b, c, func(i int) error {
				return db.Batch(func(tx *bolt.Tx) error {
					bk, err := tx.CreateBucketIfNotExists([]byte("e"))
					if err != nil {
						return err
					}
					ix, err := tx.CreateBucketIfNotExists([]byte("i"))
					if err != nil {
						return err
					}
					var k [8]byte
					binary.BigEndian.PutUint64(k[:], seq.Add(1))
					if err := bk.Put(k[:], enc); err != nil {
						return err
					}
					return ix.Put([]byte(fmt.Sprintf("%016d", i)), k[:])
				})
			})
		})
	}
}

// bigStore builds (once per process) a store with n entries in a temp dir.
var big struct {
	once sync.Once
	dir  string
	err  error
}

const bigN = 1_000_000

func bigStore(b *testing.B) *Store {
	if testing.Short() {
		b.Skip("builds a 1,000,000-entry ledger")
	}
	big.once.Do(func() {
		big.dir, big.err = os.MkdirTemp("", "filestore-bench-")
		if big.err != nil {
			return
		}
		s, err := Open(big.dir, Options{})
		if err != nil {
			big.err = err
			return
		}
		defer s.Close()
		evs := make([]ledger.Event, ledger.MaxBatch)
		for done := 0; done < bigN; done += len(evs) {
			for i := range evs {
				evs[i] = benchEvent(done + i)
			}
			if rest := bigN - done; rest < len(evs) {
				evs = evs[:rest]
			}
			if _, _, err := s.AppendBatch(context.Background(), evs); err != nil {
				big.err = err
				return
			}
		}
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
	s, err := Open(big.dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkProof1M: inclusion and consistency proofs at 1,000,000 entries.
func BenchmarkProof1M(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	b.Run("inclusion", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			idx := uint64(i*7919) % bigN
			if _, err := s.InclusionProof(ctx, idx, bigN); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("consistency", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			from := 1 + uint64(i*7919)%(bigN-1)
			if _, err := s.ConsistencyProof(ctx, from, bigN); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get-by-event-id", func(b *testing.B) {
		e, _ := s.Get(ctx, 123456)
		for i := 0; i < b.N; i++ {
			if _, err := s.GetByEventID(ctx, e.EventID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExportVerify1M: full NDJSON export and full Verify at 1,000,000
// entries (entries/s reported).
func BenchmarkExportVerify1M(b *testing.B) {
	s := bigStore(b)
	ctx := context.Background()
	b.Run("export", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := s.Export(ctx, io.Discard, 0, 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(bigN*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := s.Verify(ctx, 0, 0)
			if err != nil || !res.Valid {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(bigN*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("open", func(b *testing.B) {
		s.Close()
		for i := 0; i < b.N; i++ {
			s2, err := Open(big.dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			s2.Close()
		}
	})
}

// BenchmarkVerify10k: Verify of a 10,000-entry store (entries/s).
func BenchmarkVerify10k(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	evs := make([]ledger.Event, 1000)
	for done := 0; done < 10000; done += len(evs) {
		for i := range evs {
			evs[i] = benchEvent(done + i)
		}
		if _, _, err := s.AppendBatch(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res, err := s.Verify(context.Background(), 0, 0); err != nil || !res.Valid {
			b.Fatal(res, err)
		}
	}
	b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkFdatasync is the floor: one 4 KiB write + fdatasync into a
// preallocated file, as the writer does per group. Appends/s at c appenders
// is bounded by about (c/2) / this, since closed-loop appenders alternate
// between two groups.
func BenchmarkFdatasync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "f"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 64<<20)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(buf, int64(i%16000)*4096); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
}
