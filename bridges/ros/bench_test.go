package ros_test

import (
	"context"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros/msgs"
	"github.com/sintgate/sintgate/bridges/ros/rosmastertest"
)

// BenchmarkRoundTripTwist measures publish → TCPROS over loopback →
// decode → handler, one message in flight at a time, between two nodes of
// this process registered with the test master.
func BenchmarkRoundTripTwist(b *testing.B) {
	benchRoundTrip(b, msgs.TwistType, &msgs.Twist{Linear: msgs.Vector3{X: 1}, Angular: msgs.Vector3{Z: 0.5}})
}

// BenchmarkRoundTripJointTrajectory is the same with a 6-joint, 10-point
// trajectory (1,126 bytes).
func BenchmarkRoundTripJointTrajectory(b *testing.B) {
	jt := &msgs.JointTrajectory{JointNames: []string{"j1", "j2", "j3", "j4", "j5", "j6"}}
	for i := 0; i < 10; i++ {
		jt.Points = append(jt.Points, msgs.JointTrajectoryPoint{
			Positions: make([]float64, 6), Velocities: make([]float64, 6), TimeFromStart: msgs.Duration{Sec: int32(i)}})
	}
	benchRoundTrip(b, msgs.JointTrajectoryType, jt)
}

func benchRoundTrip(b *testing.B, typ msgs.Type, m msgs.Message) {
	fm := rosmastertest.Start()
	b.Cleanup(fm.Close)
	master := fm.URI()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pn, sn := newNode(b, ctx, master), newNode(b, ctx, master)
	topic := "/" + unique("bench")
	pub, err := pn.Publisher(ctx, topic, typ, false)
	if err != nil {
		b.Fatal(err)
	}
	got := make(chan struct{}, 1)
	if _, err := sn.Subscribe(ctx, topic, typ, func(msgs.Message) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	if err := pub.WaitForSubscribers(ctx, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := pub.Publish(ctx, m); err != nil {
			b.Fatal(err)
		}
		select {
		case <-got:
		case <-ctx.Done():
			b.Fatal("timeout")
		}
	}
	b.StopTimer()
	if pub.Dropped() != 0 {
		b.Fatalf("%d dropped", pub.Dropped())
	}
}
