//go:build cgo

package ros2bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/codes"
)

// TestOutputRefusesMotionOnMismatch: the actuator output itself (not only
// the periodic link check) refuses motion while a matched reader announces
// another type hash, still writes the safe stop to the readers of our type,
// and writes nothing at all when only the other reader is there.
func TestOutputRefusesMotionOnMismatch(t *testing.T) {
	dom := 150 + int(time.Now().UnixNano()%50)
	p, err := dds.NewParticipant(dds.Config{Domain: dom, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := fmt.Sprintf("rt/out_%d", time.Now().UnixNano())
	r := Route{Actuator: "/out", Type: msgs.TwistType}
	w, err := p.Writer(topic, r.Type.DDSName(), r.qos())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out := ddsOutput{w: w, topic: r.Actuator, hash: r.Type.Hash(), stop: msgs.Encode(&msgs.Twist{})}
	motion := &msgs.Twist{Linear: msgs.Vector3{X: 1}}

	bad, err := p.Reader(topic, r.Type.DDSName(), dds.QoS{TypeHash: msgs.WrenchType.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var ce *codes.Error
	if err := out.Publish(ctx, motion); !errors.As(err, &ce) || ce.Code != CodeTypeHashMismatch {
		t.Fatalf("motion with only a mismatched reader: %v", err)
	}
	if err := out.Stop(ctx); !errors.Is(err, errNoReader) {
		t.Fatalf("stop with only a mismatched reader: %v, want no reader", err)
	}

	good, err := p.Reader(topic, r.Type.DDSName(), dds.QoS{}) // Humble: no hash
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := waitAccepted(ctx, w, 1); err != nil {
		t.Fatal(err)
	}
	if err := out.Publish(ctx, motion); !errors.As(err, &ce) || ce.Code != CodeTypeHashMismatch {
		t.Fatalf("motion beside a mismatched reader: %v", err)
	}
	if err := out.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if s, err := good.Take(ctx); err != nil || !isZero(t, s.Data) {
		t.Fatalf("the controller got %x, %v; want the zero Twist", s.Data, err)
	}

	_ = bad.Close() // the other definition leaves: motion flows again
	for {
		c, err := w.CheckPeers()
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Mismatched) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the mismatched reader never left")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := out.Publish(ctx, motion); err != nil {
		t.Fatal(err)
	}
	if s, err := good.Take(ctx); err != nil || isZero(t, s.Data) {
		t.Fatalf("got %x, %v; want the motion", s.Data, err)
	}
}

func isZero(t *testing.T, b []byte) bool {
	m, err := msgs.Decode(msgs.TwistType, b)
	if err != nil {
		t.Fatal(err)
	}
	return *m.(*msgs.Twist) == msgs.Twist{}
}
