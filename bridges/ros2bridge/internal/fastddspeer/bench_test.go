package fastddspeer_test

import (
	"context"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
)

// BenchmarkDirectLatency100Hz measures the direct Fast DDS → Fast DDS path
// the ROS 2 bridge's figure is compared with: a Twist published at 100 Hz
// on a reliable, keep-last 10 topic (ROS 2's default QoS), from the
// publisher's write to the subscriber's take, both stamped by the peers
// with CLOCK_REALTIME. Reported as p50-ms / p99-ms / max-ms over b.N
// messages; run with e.g. -benchtime=500x.
//
//	go test -run '^$' -bench DirectLatency -benchtime=500x ./bridges/ros2bridge/internal/fastddspeer/
func BenchmarkDirectLatency100Hz(b *testing.B) {
	for _, c := range []struct {
		name     string
		loopback bool
	}{{"default", false}, {"loopback", true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			o := fastddspeer.Options{Topic: "/sint_bench/cmd_vel", Type: "geometry_msgs/msg/Twist",
				Domain: fastddspeer.RandomDomain(), LoopbackOnly: c.loopback}
			sub, err := fastddspeer.StartSubscriber(ctx, b, o)
			if err != nil {
				b.Fatal(err)
			}
			pub, err := fastddspeer.StartPublisher(ctx, b, o)
			if err != nil {
				b.Fatal(err)
			}
			if err := pub.WaitMatched(ctx, 1); err != nil {
				b.Fatal(err)
			}
			if err := sub.WaitMatched(ctx, 1); err != nil {
				b.Fatal(err)
			}
			msg := []byte(`{"linear":{"x":0.5,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.25}}`)
			b.ResetTimer()
			st, err := fastddspeer.MeasureLatency(ctx, pub, sub, msg, b.N, 10*time.Millisecond)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(st.P50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(st.P99.Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(st.Max.Microseconds())/1000, "max-ms")
			b.Logf("direct Fast DDS → Fast DDS at 100 Hz (%s): %s", c.name, st)
		})
	}
}
