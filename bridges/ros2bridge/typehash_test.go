//go:build cgo

package ros2bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
)

// otherHash is a valid RIHS01 hash that is not geometry_msgs/msg/Twist's:
// a peer announcing it has another definition under the name Twist.
var otherHash = msgs.TwistStampedType.Hash()

// takeTwists collects what rd receives until ctx ends.
func takeTwists(ctx context.Context, t *testing.T, rd *dds.Reader) <-chan msgs.Message {
	ch := make(chan msgs.Message, 64)
	go func() {
		for {
			s, err := rd.Take(ctx)
			if err != nil {
				return
			}
			if m, err := msgs.Decode(msgs.TwistType, s.Data); err == nil {
				ch <- m
			}
		}
	}()
	return ch
}

// TestTypeHashMismatch: the bridge's endpoints announce the type's RIHS01
// hash; a matched endpoint that announces the same hash or none (the rig's
// own endpoints are set up like Humble's, without USER_DATA) is accepted,
// one that announces another hash for the same type name is refused with
// ROS2_TYPE_HASH_MISMATCH.
func TestTypeHashMismatch(t *testing.T) {
	twist := &msgs.Twist{Linear: msgs.Vector3{X: 0.2}}

	t.Run("same-hash-controller-accepted", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rd, err := participant(t).Reader(dds.ROSTopic(r.routes[0].Actuator), msgs.TwistType.DDSName(), dds.QoS{TypeHash: msgs.TwistType.Hash()})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		if err := r.bridge.WaitActuators(ctx, 2); err != nil {
			t.Fatal(err)
		}
		got := takeTwists(ctx, t, rd)
		r.publish(0, twist)
		if m := r.next(0, wait); m == nil || *m.(*msgs.Twist) != *twist {
			t.Fatalf("Humble-like controller got %+v", m)
		}
		select {
		case m := <-got:
			if *m.(*msgs.Twist) != *twist {
				t.Fatalf("Iron-like controller got %+v", m)
			}
		case <-time.After(wait):
			t.Fatal("the controller announcing our hash got nothing")
		}
	})

	t.Run("actuator-reader-with-another-hash", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r.publish(0, twist) // before: forwarded
		if m := r.next(0, wait); m == nil || *m.(*msgs.Twist) != *twist {
			t.Fatalf("got %+v", m)
		}
		rd, err := participant(t).Reader(dds.ROSTopic(r.routes[0].Actuator), msgs.TwistType.DDSName(), dds.QoS{TypeHash: otherHash})
		if err != nil {
			t.Fatal(err)
		}
		defer rd.Close()
		if err := rd.WaitMatched(ctx, 1); err != nil {
			t.Fatal(err)
		}
		got := takeTwists(ctx, t, rd)
		// The link check latches a fault naming the code.
		rep := r.report(topicbridge.OutcomeSafeStop, "", wait)
		if !strings.Contains(rep.Reason, string(ros2bridge.CodeTypeHashMismatch)) || !strings.Contains(rep.Reason, otherHash) {
			t.Fatalf("latch report %+v", rep)
		}
		if m := r.next(0, wait); !isZeroTwist(m) {
			t.Fatalf("got %+v, want the zero Twist", m)
		}
		// Motion is refused while the reader is there, whatever the gateway says.
		r.publish(0, twist)
		deadline := time.After(time.Second)
	drain:
		for {
			select {
			case m := <-r.actuator[0]:
				if !isZeroTwist(m) {
					t.Fatalf("motion reached the actuator: %+v", m)
				}
			case m := <-got:
				if !isZeroTwist(m) {
					t.Fatalf("motion reached the reader with another hash: %+v", m)
				}
			case <-deadline:
				break drain
			}
		}
		if s := r.bridge.Stats(); s.Forwarded != 1 {
			t.Fatalf("stats %+v", s)
		}
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		defer scancel()
		if err := r.bridge.WaitActuators(sctx, 2); err == nil {
			t.Fatal("the reader with another hash counted as a controller")
		}
	})

	t.Run("agent-writer-with-another-hash", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		w, err := participant(t).Writer(dds.ROSTopic(r.routes[0].Agent), msgs.TwistType.DDSName(), dds.QoS{TypeHash: otherHash})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if err := w.WaitMatched(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := r.bridge.WaitAgents(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := w.Write(msgs.Encode(twist)); err != nil {
			t.Fatal(err)
		}
		rep := r.report(topicbridge.OutcomeDropped, "MALFORMED_REQUEST", wait)
		if !strings.Contains(rep.Reason, string(ros2bridge.CodeTypeHashMismatch)) {
			t.Fatalf("report %+v", rep)
		}
		if m := r.next(0, wait); !isZeroTwist(m) { // the route's stop policy
			t.Fatalf("got %+v, want the zero Twist", m)
		}
		// The agent without a type hash still gets through.
		ok := &msgs.Twist{Linear: msgs.Vector3{X: 0.1}}
		r.publish(0, ok)
		if m := r.next(0, wait); m == nil || *m.(*msgs.Twist) != *ok {
			t.Fatalf("got %+v, want %+v", m, ok)
		}
	})
}
