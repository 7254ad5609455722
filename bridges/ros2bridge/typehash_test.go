//go:build cgo

package ros2bridge_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
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

// TestTypeHashFastDDS: against Fast DDS peers set up like Iron-or-later
// rmw_fastrtps nodes (typehash in USER_DATA): the peer receives our
// "typehash=…;" through discovery; a controller announcing our hash gets
// motion, one announcing another hash gets none and latches the fault.
func TestTypeHashFastDDS(t *testing.T) {
	fastddspeer.Require(t)
	twist := &msgs.Twist{Linear: msgs.Vector3{X: 0.2}}
	start := func(t *testing.T, r *rig, hash string) *fastddspeer.Subscriber {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sub, err := fastddspeer.StartSubscriber(ctx, t, fastddspeer.Options{Topic: r.routes[0].Actuator, Type: msgs.TwistType.Name,
			Domain: testDomain, LoopbackOnly: true, TypeHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		want := "typehash=" + msgs.TwistType.Hash() + ";"
		if _, err := sub.WaitDiscovered(ctx, func(d fastddspeer.Discovered) bool {
			return d.Kind == "writer" && string(d.UserData) == want
		}); err != nil {
			t.Fatalf("Fast DDS never saw the bridge's writer announce %q: %v", want, err)
		}
		if err := sub.WaitMatched(ctx, 1); err != nil {
			t.Fatal(err)
		}
		return sub
	}

	t.Run("same-hash", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		sub := start(t, r, msgs.TwistType.Hash())
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.bridge.WaitActuators(ctx, 2); err != nil {
			t.Fatal(err)
		}
		r.publish(0, twist)
		got, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := msgs.Decode(msgs.TwistType, got.CDR); err != nil || *m.(*msgs.Twist) != *twist {
			t.Fatalf("Fast DDS controller got %+v, %v", m, err)
		}
	})

	t.Run("another-hash", func(t *testing.T) {
		r := newRig(t, rigOpts{})
		sub := start(t, r, otherHash)
		rep := r.report(topicbridge.OutcomeSafeStop, "", wait)
		if !strings.Contains(rep.Reason, string(ros2bridge.CodeTypeHashMismatch)) || !strings.Contains(rep.Reason, otherHash) {
			t.Fatalf("latch report %+v", rep)
		}
		r.publish(0, twist)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for {
			got, err := sub.Next(ctx)
			if err != nil {
				break // nothing more within the second
			}
			if m, err := msgs.Decode(msgs.TwistType, got.CDR); err != nil || !isZeroTwist(m) {
				t.Fatalf("the Fast DDS reader with another hash got %+v, %v", m, err)
			}
		}
		if s := r.bridge.Stats(); s.Forwarded != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}
