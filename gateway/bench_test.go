package gateway

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

// BenchmarkDecide measures the pure core (stages 4–7, 9–10) on the allow
// path with a depth-3 chain and a warm verified-token cache.
func BenchmarkDecide(b *testing.B) {
	f := newFixture(b)
	in := f.input(nil)
	req, perr := ParseRequest(in.Body)
	if perr != nil {
		b.Fatal(perr)
	}
	st := f.p.State()
	facts := Facts{NowMs: f.now.UnixMilli(), Policy: st.Policy, Verifier: st.Verifier, Roots: st.Roots,
		Revocations: st.Revocations, Tokens: st.Tokens, Scanner: st.Scanner, Suspended: f.p.Circuits}
	if o := Decide(req, &facts); o.Verdict != Allow {
		b.Fatalf("not an allow: %s", o.Code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Decide(req, &facts)
	}
}

// BenchmarkInterceptAllow measures the whole pipeline without HTTP: parse,
// agent signature, replay, Decide, rate, an in-memory ledger append and the
// attestation.
func BenchmarkInterceptAllow(b *testing.B) {
	f := newFixture(b)
	ins := make([]Input, 0, 4096)
	for range 4096 {
		ins = append(ins, f.input(nil))
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(ins) {
			b.StopTimer()
			f.p.Replay = NewMemoryReplay(1 << 20)
			i = 0
			b.StartTimer()
		}
		if r := f.p.Intercept(context.Background(), ins[i]); r.Status != 200 {
			b.Fatalf("status %d %s", r.Status, r.Outcome.Code)
		}
		i++
	}
}

// BenchmarkTripPreempt1000 holds 1,000 allows in flight at the ledger and
// measures, per trip, the time from Trip to every one being answered
// ESTOP_ENGAGED; it reports p50 and p99 of the per-request answer delay.
func BenchmarkTripPreempt1000(b *testing.B) {
	const n = 1000
	var delays []time.Duration
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b)
		f.l.hold = make(chan struct{})
		f.l.waiting.Add(n)
		ins := make([]Input, n)
		for i := range ins {
			ins[i] = f.input(nil)
		}
		answered := make([]time.Time, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = f.p.Intercept(context.Background(), ins[i])
				answered[i] = time.Now()
			}()
		}
		f.l.waiting.Wait()
		b.StartTimer()
		c0 := processCPU()
		t0 := time.Now()
		_, _ = f.b.Trip(context.Background(), estop.Source{ID: "bench", Kind: estop.KindAPI}, "bench")
		wg.Wait()
		b.StopTimer()
		cpu += processCPU() - c0
		for _, t := range answered {
			delays = append(delays, t.Sub(t0))
		}
		close(f.l.hold)
		b.StartTimer()
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	if len(delays) > 0 {
		b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(delays))/1000, "cpu-µs/answer")
	}
}

// processCPU is the CPU time (user + system) the process has used: the
// trip window's CPU per answer is meaningful on a shared machine, where
// wall-clock delays are not.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// stampedLedger stamps, in the *time.Time the request's context carries
// under stampKey, when the append returned; with hide it also hides
// ledger.Event.Sequenced from the store, so the pipeline signs the
// attestation after the commit (as a store without the hook, and the gateway
// before presign, do).
type stampedLedger struct {
	s    *filestore.Store
	hide bool
}

type stampKey struct{}

func (l stampedLedger) Append(ctx context.Context, ev ledger.Event) (ledger.Entry, error) {
	if l.hide {
		ev.Sequenced = nil
	}
	e, err := l.s.Append(ctx, ev)
	if t, ok := ctx.Value(stampKey{}).(*time.Time); ok {
		*t = time.Now()
	}
	return e, err
}

// BenchmarkAllowDurable runs the whole pipeline without HTTP on the embedded
// store (write + fdatasync per group commit) with 16 concurrent callers, the
// attestation signed after the commit ("sign-after-commit") or while it is in
// flight ("sign-during-commit"); the two alternate within one run. It reports
// decisions/s, the p50 and p99 of one Intercept, the p50 of the time from
// the append's return to the answer (what presign shortens), and the process
// CPU per decision. Run with -cpu 2 and a fixed -benchtime, e.g.
//
//	go test -run '^$' -bench AllowDurable -benchtime 3000x -count 3 -cpu 2 ./gateway/
func BenchmarkAllowDurable(b *testing.B) {
	for _, mode := range []string{"sign-after-commit", "sign-during-commit"} {
		b.Run(mode, func(b *testing.B) {
			f := newFixture(b)
			st, err := filestore.Open(b.TempDir(), filestore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			f.p.Ledger = stampedLedger{s: st, hide: mode == "sign-after-commit"}
			ins := make([]Input, b.N)
			for i := range ins {
				ins[i] = f.input(nil)
			}
			const clients = 16
			lat := make([]time.Duration, b.N)
			tail := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			c0, t0 := processCPU(), time.Now()
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= len(ins) {
							return
						}
						var appended time.Time
						ctx := context.WithValue(context.Background(), stampKey{}, &appended)
						s := time.Now()
						if r := f.p.Intercept(ctx, ins[i]); r.Status != 200 || r.Body.Attestation == nil {
							b.Errorf("status %d %s", r.Status, r.Outcome.Code)
							return
						}
						end := time.Now()
						lat[i], tail[i] = end.Sub(s), end.Sub(appended)
					}
				}()
			}
			wg.Wait()
			wall, cpu := time.Since(t0), processCPU()-c0
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			sort.Slice(tail, func(i, j int) bool { return tail[i] < tail[j] })
			b.ReportMetric(float64(tail[len(tail)/2].Nanoseconds())/1000, "after-commit-p50-µs")
			b.ReportMetric(float64(b.N)/wall.Seconds(), "decisions/s")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1000, "cpu-µs/decision")
		})
	}
}
