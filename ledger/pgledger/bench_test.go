package pgledger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
)

func benchEvent(i int) ledger.Event {
	return ledger.Event{EventType: "policy.evaluated", AgentID: "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
		TokenID: "01936d5e-0000-7000-8000-000000000001",
		Payload: map[string]any{"requestId": "01936d5e-0000-7000-8000-000000000002", "resource": "ros:///cmd_vel",
			"action": "publish", "decision": "allow", "tier": 1, "i": i}}
}

// BenchmarkAppend measures committed appends/s at 1, 16 and 64 concurrent
// appenders (one Store = one process) and with two Stores sharing the
// database (two processes, one chain). The busy cases add two goroutines
// that keep the CPUs busy (hashing), as a loaded gateway does: they starve
// the appenders and the database alike, which is when anything the client
// does while holding the cross-process lock costs the most.
func BenchmarkAppend(b *testing.B) {
	for _, tc := range []struct {
		procs, appenders int
		busy             bool
	}{{1, 1, false}, {1, 16, false}, {1, 64, false}, {2, 16, false}, {2, 64, false}, {2, 16, true}, {2, 64, true}} {
		name := fmt.Sprintf("procs=%d/appenders=%d", tc.procs, tc.appenders)
		if tc.busy {
			name += "/busy"
		}
		b.Run(name, func(b *testing.B) {
			url := testenv.FreshPGDatabase(b)
			if url == "" {
				b.Skip("no PostgreSQL")
			}
			stores := make([]*Store, tc.procs)
			for i := range stores {
				s, err := Open(context.Background(), url, Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				stores[i] = s
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			stop := make(chan struct{})
			var busy sync.WaitGroup
			if tc.busy {
				for range 2 {
					busy.Add(1)
					go func() {
						defer busy.Done()
						var buf [4096]byte
						for {
							select {
							case <-stop:
								return
							default:
								h := sha256.Sum256(buf[:])
								copy(buf[:], h[:])
							}
						}
					}()
				}
			}
			defer func() { close(stop); busy.Wait() }()
			b.ResetTimer()
			for g := 0; g < tc.appenders; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					s := stores[g%tc.procs]
					for {
						i := int(next.Add(1))
						if i > b.N {
							return
						}
						if _, err := s.Append(context.Background(), benchEvent(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}(g)
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkProof: inclusion proof on a 1,000,000-entry PostgreSQL ledger,
// with a cold hash cache (cleared before every proof) and warm, and a full
// Verify.
func BenchmarkProof(b *testing.B) {
	url := testenv.FreshPGDatabase(b)
	if url == "" {
		b.Skip("no PostgreSQL")
	}
	ctx := context.Background()
	s, err := Open(ctx, url, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if testing.Short() {
		b.Skip("builds a 1,000,000-entry ledger")
	}
	const n = 1_000_000
	evs := make([]ledger.Event, ledger.MaxBatch)
	for done := 0; done < n; done += len(evs) {
		for i := range evs {
			evs[i] = benchEvent(done + i)
		}
		if _, _, err := s.AppendBatch(ctx, evs[:min(len(evs), n-done)]); err != nil {
			b.Fatal(err)
		}
	}
	size, _ := s.Size(ctx)
	b.Run("inclusion/cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s.cacheMu.Lock()
			clear(s.cache)
			s.cacheMu.Unlock()
			if _, err := s.InclusionProof(ctx, uint64(i*7919)%size, size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inclusion/warm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.InclusionProof(ctx, uint64(i*7919)%size, size); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			res, err := s.Verify(ctx, 0, 0)
			if err != nil || !res.Valid {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(int(size)*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}
