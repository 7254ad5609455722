//go:build cgo

package ros2bridge_test

import (
	"context"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
)

// BenchmarkFastDDSThroughBridge100Hz is the figure of docs/ros2.md: a
// Fast DDS publisher on the agent topic and a Fast DDS subscriber on the
// actuator topic, a Twist at 100 Hz (ROS 2's default QoS, loopback), from
// the publisher's write to the subscriber's take (both peers stamp
// CLOCK_REALTIME), through the bridge and an in-process gateway (tier 2:
// allowed, attested, verified, clamped), beside the direct Fast DDS →
// Fast DDS path in the same run; then trips of the gateway's e-stop
// (pushed to the bridge) until the zero Twist reaches the subscriber.
// b.N messages per path; run with -benchtime=500x.
//
// Besides the end-to-end figures it decomposes every bridged message: its
// end-to-end latency minus the time its own intercept spent in the HTTP
// exchange with the gateway, as the bridge measured it around that call
// (topicbridge.Timing.Gateway). That difference is what the bridge adds
// (two DDS hops instead of one, the take, the request's encoding and
// signature, the answer's decoding, the attestation check, the clamp, the
// actuator write, the scheduling between them); its p50/p99 are reported
// beside direct p50/p99 + 0.5 ms.
//
//	go test -run '^$' -bench FastDDSThroughBridge -benchtime=500x ./bridges/ros2bridge/
func metOr(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

func BenchmarkFastDDSThroughBridge100Hz(b *testing.B) {
	fastddspeer.Require(b)
	// The gateway runs in this process and shares its heap with the
	// bridge; deployed, each is its own process and `sint-gateway serve`
	// collects at GOGC=400 (cmd/sint-gateway). At the test binary's default
	// (100) the in-process gateway's collections and their assists land on
	// the bridge's goroutines too. GOGC in the environment overrides this.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var omu sync.Mutex
	var timings []topicbridge.Timing
	observe := func(t topicbridge.Timing) {
		omu.Lock()
		timings = append(timings, t)
		omu.Unlock()
	}
	// SINT_ROS2_BENCH_GATEWAY=process serves the gateway as its own
	// sint-gateway process, as deployed (default: in-process).
	r := newRig(b, rigOpts{fastdds: true, keepPeers: true, poll: true, every: 50 * time.Millisecond, observe: observe,
		processGateway: os.Getenv("SINT_ROS2_BENCH_GATEWAY") == "process"})
	r.gw.waitStreams(b, 1)
	msg := []byte(`{"linear":{"x":0.5,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.25}}`)

	o := fastddspeer.Options{Topic: prefix() + "/direct/cmd_vel", Type: msgs.TwistType.Name, Domain: testDomain, LoopbackOnly: true}
	dsub, err := fastddspeer.StartSubscriber(ctx, b, o)
	if err != nil {
		b.Fatal(err)
	}
	dpub, err := fastddspeer.StartPublisher(ctx, b, o)
	if err != nil {
		b.Fatal(err)
	}
	if err := dpub.WaitMatched(ctx, 1); err != nil {
		b.Fatal(err)
	}
	if err := dsub.WaitMatched(ctx, 1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	direct, err := fastddspeer.MeasureLatency(ctx, dpub, dsub, msg, b.N, 10*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	omu.Lock()
	timings = nil
	omu.Unlock()
	bt, err := fastddspeer.MeasureTrips(ctx, r.pubs[0], r.subs[0], msg, b.N, 10*time.Millisecond)
	if err != nil {
		b.Fatal(err)
	}
	// The last message's timing is recorded after its publish returned:
	// the subscriber may have taken it first.
	var got []topicbridge.Timing
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		omu.Lock()
		got = append(got[:0], timings...)
		omu.Unlock()
		if len(got) >= len(bt) || time.Now().After(deadline) {
			break
		}
	}
	if len(got) != len(bt) {
		b.Fatalf("%d messages received, %d forwarded by the bridge", len(bt), len(got))
	}
	// Per message (one at a time: the i-th forwarded is the i-th received):
	// end to end, its HTTP exchange, the bridge's share (the difference),
	// and that share's parts: publisher write → the core's start (DDS hop
	// in, take, decode, hand-over), the client's encoding/signature/decoding
	// around the exchange, the core's own work before and after the call
	// (params, attestation check, clamp, actuator write), the actuator
	// write's return → the subscriber's take (DDS hop out).
	var lats, gws, own, in, client, pre, core, out []time.Duration
	for i, t := range got {
		tr := bt[i]
		lats = append(lats, tr.Latency())
		gws = append(gws, t.Gateway)
		own = append(own, tr.Latency()-t.Gateway)
		in = append(in, t.Start.Sub(tr.Sent))
		client = append(client, t.Call-t.Gateway)
		pre = append(pre, t.BeforeHTTP)
		core = append(core, t.Published.Sub(t.Start)-t.Call)
		out = append(out, tr.Received.Sub(t.Published))
	}
	bridged := fastddspeer.Summarise(lats)
	ownS, gwS := fastddspeer.Summarise(own), fastddspeer.Summarise(gws)
	inS, clientS, preS, coreS, outS := fastddspeer.Summarise(in), fastddspeer.Summarise(client), fastddspeer.Summarise(pre), fastddspeer.Summarise(core), fastddspeer.Summarise(out)
	// The gateway round trip alone (the same intercept the bridge sends).
	var rtts []time.Duration
	tick := time.NewTicker(10 * time.Millisecond)
	for range b.N {
		<-tick.C
		req := api.InterceptRequest{RequestID: uuid.Must(uuid.NewV7()).String(), TokenID: r.tokenID,
			Resource: r.routes[0].Resource(), Action: "publish", Params: msg}
		t0 := time.Now()
		d, _, err := r.client.Intercept(ctx, req)
		if err != nil || d.Decision != "allow" {
			b.Fatalf("intercept: %v %+v", err, d)
		}
		rtts = append(rtts, time.Since(t0))
	}
	tick.Stop()
	rtt := fastddspeer.Summarise(rtts)
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, m := range []struct {
		name string
		s    fastddspeer.LatencyStats
	}{{"direct", direct}, {"bridge", bridged}, {"gateway-rtt", rtt}, {"bridge-http", gwS}, {"bridge-own", ownS}} {
		b.ReportMetric(ms(m.s.P50), m.name+"-p50-ms")
		b.ReportMetric(ms(m.s.P99), m.name+"-p99-ms")
	}
	if b.N > 1 { // the benchmark's first, one-message round says nothing
		limit := func(d time.Duration) time.Duration { return d + 500*time.Microsecond }
		b.Logf("direct Fast DDS → Fast DDS at 100 Hz: %s", direct)
		b.Logf("Fast DDS → bridge → Fast DDS at 100 Hz: %s", bridged)
		b.Logf("gateway intercept round trip alone (client call, same params, after the bridged run): %s", rtt)
		b.Logf("whole-path view: bridged − direct − gateway round trip alone: p50 %v, p99 %v (target ≤ 0.5 ms)",
			bridged.P50-direct.P50-rtt.P50, bridged.P99-direct.P99-rtt.P99)
		b.Logf("per message: its HTTP exchange as the bridge measured it: %s", gwS)
		b.Logf("per message: end to end − its HTTP exchange (the bridge's share): %s; target p50 ≤ %v (%s), p99 ≤ %v (%s)",
			ownS, limit(direct.P50), metOr(ownS.P50 <= limit(direct.P50)), limit(direct.P99), metOr(ownS.P99 <= limit(direct.P99)))
		b.Logf("  share's parts p50/p99: DDS in → core %v/%v, client encode+sign+decode %v/%v (before the exchange %v/%v), core work %v/%v, write → DDS out %v/%v",
			inS.P50, inS.P99, clientS.P50, clientS.P99, preS.P50, preS.P99, coreS.P50, coreS.P99, outS.P50, outS.P99)
	}

	// Trip → zero Twist at the actuator.
	var trips []time.Duration
	for range 10 {
		t0 := time.Now()
		if st := r.gw.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
			b.Fatalf("trip: %d", st)
		}
		got, err := r.subs[0].Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if m, err := msgs.Decode(msgs.TwistType, got.CDR); err != nil || !isZeroTwist(m) {
			b.Fatalf("after the trip got %s", got.JSON)
		}
		trips = append(trips, got.At.Sub(t0))
		if st := r.gw.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
			b.Fatalf("reset: %d", st)
		}
		// The watch unlatches at its next read of the armed breaker; an
		// allowed message then moves the actuator again.
		for {
			time.Sleep(60 * time.Millisecond)
			if latched, _ := r.bridge.Latched(); !latched {
				break
			}
		}
		if err := r.pubs[0].Publish(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := r.subs[0].Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(trips)
	b.ReportMetric(float64(trips[len(trips)/2].Microseconds())/1000, "trip-stop-p50-ms")
	b.ReportMetric(float64(trips[len(trips)-1].Microseconds())/1000, "trip-stop-max-ms")
	if b.N > 1 {
		b.Logf("trip (POST /v1/estop/trip sent) → zero Twist at the Fast DDS actuator, %d trips: p50 %v max %v", len(trips), trips[len(trips)/2], trips[len(trips)-1])
	}
}
