package rosbridge_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
	"github.com/sintgate/sintgate/bridges/rosbridge"
)

// timedDecider measures the gateway round trip of every intercept.
type timedDecider struct {
	rosbridge.Decider
	ns, n atomic.Int64
}

func (d *timedDecider) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	start := time.Now()
	dec, st, err := d.Decider.Intercept(ctx, r)
	d.ns.Add(int64(time.Since(start)))
	d.n.Add(1)
	return dec, st, err
}

// BenchmarkBridgeOverhead publishes b.N Twists on the agent topic at a fixed
// rate and measures, per message, the latency from the agent's Publish to
// its arrival on the actuator topic through the bridge and a real in-process
// gateway (HTTP intercept, durable embedded ledger, attestation verified
// against the cached JWKS). The master is the in-process fake (it is not on
// the data path); the TCPROS links are real loopback connections.
// Metrics: p50/p99 latency, the mean gateway round trip (intercept call as
// the bridge sees it) and its share of the mean latency, messages not
// forwarded and of those the ones coalesced (superseded while an intercept
// was in flight; Config.KeepAll unset).
func BenchmarkBridgeOverhead(b *testing.B) {
	for _, bc := range []struct {
		name string
		hz   int
		keep bool
	}{{"100Hz", 100, false}, {"1kHz", 1000, false}, {"1kHz-keepall", 1000, true}} {
		b.Run(bc.name, func(b *testing.B) {
			master := rosmastertest.Start()
			defer master.Close()
			var td *timedDecider
			r := newRig(b, rigOpts{master: master.URI(), keep: bc.keep, wrap: func(d rosbridge.Decider) rosbridge.Decider {
				td = &timedDecider{Decider: d}
				return td
			}})
			defer r.stop()
			// Warm up: JWKS fetch, connections.
			r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.1}})
			if r.next(0, 5*time.Second) == nil {
				b.Fatal("warm-up message lost")
			}
			td.ns.Store(0)
			td.n.Store(0)

			sent := make([]time.Time, b.N)
			lat := make([]time.Duration, 0, b.N)
			var mu sync.Mutex
			done := make(chan struct{})
			go func() { // receiver
				defer close(done)
				for len(lat) < b.N {
					m := r.next(0, 5*time.Second)
					if m == nil {
						return
					}
					i := int(math.Round(m.Linear.Z * 1e6))
					mu.Lock()
					if i >= 0 && i < b.N {
						lat = append(lat, time.Since(sent[i]))
					}
					mu.Unlock()
				}
			}()
			period := time.Second / time.Duration(bc.hz)
			b.ResetTimer()
			next := time.Now()
			for i := 0; i < b.N; i++ {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(period)
				mu.Lock()
				sent[i] = time.Now()
				mu.Unlock()
				r.publish(0, &msgs.Twist{Linear: msgs.Vector3{X: 0.1, Z: float64(i) * 1e-6}})
			}
			<-done
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			if len(lat) == 0 {
				b.Fatal("nothing arrived")
			}
			slices.Sort(lat)
			var sum time.Duration
			for _, l := range lat {
				sum += l
			}
			mean := sum / time.Duration(len(lat))
			gw := time.Duration(td.ns.Load() / max(td.n.Load(), 1))
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(mean.Microseconds()), "mean-µs")
			b.ReportMetric(float64(gw.Microseconds()), "gateway-µs")
			b.ReportMetric(100*float64(gw)/float64(mean), "gateway-%")
			b.ReportMetric(float64(b.N-len(lat)), "not-forwarded")
			b.ReportMetric(float64(r.bridge.Stats().Coalesced), "coalesced")
			if s := r.bridge.Stats(); s.Denied+s.Dropped > 0 {
				b.Logf("stats %+v", s)
			}
		})
	}
}

// BenchmarkEstopToSafeStop measures, per trip, the delay from the operator's
// trip request being sent to the zero Twist arriving on the actuator topic,
// with the bridge polling GET /v1/estop at the given interval, with or
// without the pushed trips of the approvals stream (real in-process
// gateway, fake master, loopback TCPROS). Each iteration waits a random
// fraction of the interval, trips, waits for the safe stop, resets and
// waits for the bridge to resume.
func BenchmarkEstopToSafeStop(b *testing.B) {
	for _, bc := range []struct {
		name  string
		every time.Duration
		push  bool
	}{
		{"poll-only/poll=20ms", 20 * time.Millisecond, false},
		{"poll-only/poll=50ms", 50 * time.Millisecond, false},
		{"push/poll=50ms", 50 * time.Millisecond, true},
	} {
		every := bc.every
		b.Run(bc.name, func(b *testing.B) {
			master := rosmastertest.Start()
			defer master.Close()
			r := newRig(b, rigOpts{master: master.URI(), poll: true, noPush: !bc.push, every: every})
			defer r.stop()
			if bc.push {
				r.gw.waitStreams(b, 1)
			}
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Trip at a random phase of the poll (the reset loop
				// below ends right after a poll).
				time.Sleep(time.Duration(rand.Int64N(int64(every))))
				sent := time.Now() // the operator presses: the stop may beat the trip\'s answer (journal fsync)
				if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("trip: %d", st)
				}
				if m := r.next(0, 5*time.Second); m == nil || *m != (msgs.Twist{}) {
					b.Fatalf("got %+v, want the zero Twist", m)
				}
				lat = append(lat, time.Since(sent))
				if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("reset: %d", st)
				}
				for latched, _ := r.bridge.Latched(); latched; latched, _ = r.bridge.Latched() {
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			var sum time.Duration
			for _, l := range lat {
				sum += l
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(len(lat)), "mean-µs")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds()), "p99-µs") // nearest rank
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}
