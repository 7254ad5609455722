package estop

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWakeFloor1000 is the floor under the gateway's
// BenchmarkTripPreempt1000: 1,000 goroutines each hold a tracked context
// and wait, the breaker trips, and each goroutine stamps the time it
// resumed and returns, doing no other work. It reports p50/p99 of the
// per-goroutine delay from Trip, measured as the gateway benchmark measures
// its answers, so the two can be compared:
//
//   - bare: each waits on ctx.Done() alone, with a small stack;
//   - shared-select: each waits in a select on a channel shared by all of
//     them and ctx.Done(), as an append waits at the ledger's serialisation
//     point (the fake ledger's hold channel, the stores' request queue);
//   - shared-select-deep: the same from under a call chain with ~3 KiB of
//     frames, after its stack grew to 16 KiB (an intercept waiting at the
//     ledger in the gateway's benchmark holds 16–18 KiB of stack), so that
//     each wake-up returns through cold stack memory.
func BenchmarkWakeFloor1000(b *testing.B) {
	for _, mode := range []string{"bare", "shared-select", "shared-select-deep"} {
		b.Run(mode, func(b *testing.B) {
			const n = 1000
			var delays []time.Duration
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				br := NewBreaker()
				hold := make(chan struct{})
				var ready, wg sync.WaitGroup
				ready.Add(n)
				wg.Add(n)
				resumed := make([]time.Time, n)
				for i := range n {
					go func() {
						defer wg.Done()
						ctx, done := br.Track(context.Background())
						defer done()
						switch mode {
						case "bare":
							ready.Done()
							<-ctx.Done()
						case "shared-select":
							waitShared(ctx, hold, &ready)
						default:
							growStack(12 << 10) // a 16 KiB stack
							deepWait(ctx, hold, &ready, 6)
						}
						resumed[i] = time.Now()
					}()
				}
				ready.Wait()
				b.StartTimer()
				c0 := processCPU()
				t0 := time.Now()
				_, _ = br.Trip(context.Background(), srcAPI, "bench")
				wg.Wait()
				b.StopTimer()
				cpu += processCPU() - c0
				for _, t := range resumed {
					delays = append(delays, t.Sub(t0))
				}
				close(hold)
				b.StartTimer()
			}
			slices.Sort(delays)
			if len(delays) > 0 {
				b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(delays))/1000, "cpu-µs/answer")
			}
		})
	}
}

func waitShared(ctx context.Context, hold chan struct{}, ready *sync.WaitGroup) {
	ready.Done()
	select {
	case <-hold:
	case <-ctx.Done():
	}
}

// deepWait waits in waitShared under depth frames of ~512 bytes each.
//
//go:noinline
func deepWait(ctx context.Context, hold chan struct{}, ready *sync.WaitGroup, depth int) byte {
	var pad [512]byte
	if depth == 0 {
		waitShared(ctx, hold, ready)
		return pad[0]
	}
	pad[depth] = byte(depth)
	return deepWait(ctx, hold, ready, depth-1) + pad[depth]
}

// growStack makes the goroutine's stack at least size bytes.
//
//go:noinline
func growStack(size int) byte {
	var pad [1024]byte
	if size <= 1024 {
		return pad[0]
	}
	pad[size%1024] = 1
	return growStack(size-1024) + pad[1]
}

// processCPU is the CPU time (user + system) the process has used: the
// trip window's CPU per woken goroutine is meaningful on a shared machine,
// where wall-clock delays are not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
