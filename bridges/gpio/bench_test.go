package gpio_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	pgpio "periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/gpio"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app/apptest"
)

// BenchmarkEstopToHalt measures, per trip, the delay from the operator's
// trip request being sent to every pin halted and inert (Halted), with
// WatchEstop polling GET /v1/estop every 50 ms, with or without the pushed
// trips of the approvals stream (real in-process gateway, fake pins). Each
// iteration waits a random fraction of the interval, trips, waits for the
// halt, resets and waits for the bridge to resume.
func BenchmarkEstopToHalt(b *testing.B) {
	for _, bc := range []struct {
		name string
		push bool
	}{{"poll-only/poll=50ms", false}, {"push/poll=50ms", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const every = 50 * time.Millisecond
			g := apptest.Start(b, "testdata/policy.yaml")
			g.G.Approvals.Events().SetLimits(approvals.Limits{Heartbeat: 100 * time.Millisecond})
			var key struct{ Key string }
			if st := g.Admin("POST", "/v1/apikeys", map[string]any{"operatorId": "gpio", "scopes": []string{"read"}}, &key); st != 201 {
				b.Fatalf("apikey: %d", st)
			}
			grip := &gpiotest.Pin{N: "GPIO17"}
			br, err := gpio.New(gpio.Config{AgentID: "a", Verifier: attest.NewJWKSCache(nil, g.URL+"/.well-known/jwks.json"),
				Actuators: []gpio.Actuator{{Resource: gripper, Pin: grip}}})
			if err != nil {
				b.Fatal(err)
			}
			var r gpio.EstopReader = bridges.OperatorEstop{Op: &client.Operator{BaseURL: g.URL, APIKey: key.Key, HTTP: &http.Client{Timeout: 5 * time.Second}}}
			if !bc.push {
				r = bridges.PollOnly{EstopReader: r}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- br.WatchEstop(ctx, r, every) }()
			defer func() { cancel(); <-done }()
			if bc.push {
				for subs, _ := g.G.Approvals.Events().Stats(); subs < 1; subs, _ = g.G.Approvals.Events().Stats() {
					time.Sleep(5 * time.Millisecond)
				}
			}
			wait := func(halted bool) {
				deadline := time.Now().Add(5 * time.Second)
				for br.Halted() != halted {
					if time.Now().After(deadline) {
						b.Fatalf("halted still %v after 5 s", !halted)
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			wait(false)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = grip.Out(pgpio.High)
				time.Sleep(time.Duration(rand.Int64N(int64(every))))
				sent := time.Now() // the operator presses: the stop may beat the trip\'s answer (journal fsync)
				if st := g.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("trip: %d", st)
				}
				wait(true)
				lat = append(lat, time.Since(sent))
				if grip.Read() != pgpio.Low {
					b.Fatal("halted but the pin is not inert")
				}
				if st := g.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("reset: %d", st)
				}
				wait(false)
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
