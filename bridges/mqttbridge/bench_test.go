package mqttbridge_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/testenv"
)

// BenchmarkBridgeRoundTrip: one command at a time, agent publish → broker →
// bridge → intercept (real in-process gateway, durable ledger) → JWKS
// verification → device publish → broker → device subscriber. ns/op is the
// end-to-end latency of one allowed command.
func BenchmarkBridgeRoundTrip(b *testing.B) {
	r := newRig(b, rigOpts{})
	b.ResetTimer()
	for i := range b.N {
		payload := fmt.Sprintf(`{"state":"on","level":%d}`, i%100)
		r.send("lamp1", payload)
		m := r.peer.next(wait)
		if m == nil || string(m.Payload) != payload {
			b.Fatalf("got %v, want %s", m, payload)
		}
	}
}

// BenchmarkBrokerRoundTrip is the floor of BenchmarkBridgeRoundTrip: the
// same peer publishes on a device topic and receives it, no bridge.
func BenchmarkBrokerRoundTrip(b *testing.B) {
	r := newRig(b, rigOpts{})
	dev := r.routes["lamp1"].Device
	b.ResetTimer()
	for i := range b.N {
		payload := fmt.Sprintf(`{"state":"on","level":%d}`, i%100)
		r.peer.send(dev, []byte(payload))
		m := r.peer.next(wait)
		if m == nil || string(m.Payload) != payload {
			b.Fatalf("got %v, want %s", m, payload)
		}
	}
}

// BenchmarkBridgeRoundTripTwoClients is BenchmarkBridgeRoundTrip with the
// agent and the device on separate MQTT connections (as in a deployment).
func BenchmarkBridgeRoundTripTwoClients(b *testing.B) {
	r := newRig(b, rigOpts{})
	agent := newPeer(b, testenv.MQTTAddr(b), prefix())
	b.ResetTimer()
	for i := range b.N {
		payload := fmt.Sprintf(`{"state":"on","level":%d}`, i%100)
		agent.send(r.routes["lamp1"].Agent, []byte(payload))
		m := r.peer.next(wait)
		if m == nil || string(m.Payload) != payload {
			b.Fatalf("got %v, want %s", m, payload)
		}
	}
}

// BenchmarkEstopToSafeStop measures, per trip, the delay from the
// operator's trip request being sent to the safe stop arriving at the device
// (the rig's peer subscribed to the device topic, through the real broker),
// polling GET /v1/estop every 50 ms, with or without the pushed trips of
// the approvals stream (real in-process gateway). Each iteration waits a
// random fraction of the interval, trips, waits for the latch, resets and
// waits for the bridge to resume.
func BenchmarkEstopToSafeStop(b *testing.B) {
	for _, bc := range []struct {
		name string
		push bool
	}{{"poll-only/poll=50ms", false}, {"push/poll=50ms", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const every = 50 * time.Millisecond
			r := newRig(b, rigOpts{poll: true, noPush: !bc.push, every: every, routes: []string{"lamp1"},
				safeStops: map[string]string{"lamp1": lampOff}})
			defer r.stop()
			if bc.push {
				r.gw.waitStreams(b, 1)
			}
			waitLatched := func(want bool) {
				deadline := time.Now().Add(5 * time.Second)
				for latched, _ := r.bridge.Latched(); latched != want; latched, _ = r.bridge.Latched() {
					if time.Now().After(deadline) {
						b.Fatalf("latched still %v after 5 s", !want)
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			waitLatched(false)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				time.Sleep(time.Duration(rand.Int64N(int64(every))))
				sent := time.Now() // the operator presses: the stop may beat the trip\'s answer (journal fsync)
				if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("trip: %d", st)
				}
				for {
					m := r.peer.next(5 * time.Second)
					if m == nil {
						b.Fatal("no safe stop at the device within 5 s")
					}
					if string(m.Payload) == lampOff {
						break
					}
				}
				lat = append(lat, time.Since(sent))
				waitLatched(true)
				if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("reset: %d", st)
				}
				waitLatched(false)
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
