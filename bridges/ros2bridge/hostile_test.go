//go:build cgo

package ros2bridge_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/ros2bridge/internal/fastddspeer"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
)

// hostilePayloads are agent samples that are no valid message of their
// topic's type.
var hostilePayloads = []struct{ name, hex string }{
	{"truncated-twist", "00010000 000000000000f03f"},
	{"big-endian", "00000000" + strings.Repeat("00", 48)},
	{"xcdr2", "00070000" + strings.Repeat("00", 48)},
	{"trailing-bytes", "00010000" + strings.Repeat("00", 48) + "00000000 00000000"},
}

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileAgentSamples: a sample that does not decode as the route's
// type (a broken or hostile node on the agent topic, Cyclone or Fast DDS)
// is refused before any intercept (MALFORMED_REQUEST), reported, and
// stops the motion route; nothing else reaches the actuator.
func TestHostileAgentSamples(t *testing.T) {
	for _, peer := range []string{"cyclone", "fastdds"} {
		t.Run(peer, func(t *testing.T) {
			r := newRig(t, rigOpts{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var write func([]byte) error
			if peer == "fastdds" {
				fastddspeer.Require(t)
				pub, err := fastddspeer.StartPublisher(ctx, t, fastddspeer.Options{Topic: r.routes[0].Agent, Type: msgs.TwistType.Name,
					Domain: testDomain, LoopbackOnly: true, Raw: true})
				if err != nil {
					t.Fatal(err)
				}
				if err := pub.WaitMatched(ctx, 1); err != nil {
					t.Fatal(err)
				}
				write = func(b []byte) error { return pub.PublishCDR(ctx, b) }
			} else {
				w, err := participant(t).Writer(dds.ROSTopic(r.routes[0].Agent), msgs.TwistType.DDSName(), dds.QoS{})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.WaitMatched(ctx, 1); err != nil {
					t.Fatal(err)
				}
				write = w.Write
			}
			if err := r.bridge.WaitAgents(ctx, 2); err != nil {
				t.Fatal(err)
			}
			for i, h := range hostilePayloads {
				if err := write(unhex(t, h.hex)); err != nil {
					t.Fatal(err)
				}
				rep := r.report(topicbridge.OutcomeDropped, "MALFORMED_REQUEST", wait)
				if rep.RequestID != "" || !strings.Contains(rep.Reason, "ros2 cdr") {
					t.Errorf("%s: report %+v", h.name, rep)
				}
				if i == 0 { // the first refusal stops the route
					if got := r.next(0, wait); !isZeroTwist(got) {
						t.Fatalf("%s: got %+v, want the zero Twist", h.name, got)
					}
				}
			}
			if got := r.next(0, 300*time.Millisecond); got != nil {
				t.Fatalf("a hostile sample reached the actuator: %+v", got)
			}
			if s := r.bridge.Stats(); s.Forwarded != 0 || s.Dropped != int64(len(hostilePayloads)) {
				t.Errorf("stats %+v", s)
			}
			// The route still works for a valid message.
			ok := &msgs.Twist{Linear: msgs.Vector3{X: 0.2}}
			r.publish(0, ok)
			if got := r.next(0, wait); got == nil || *got.(*msgs.Twist) != *ok {
				t.Fatalf("got %+v, want %+v", got, ok)
			}
		})
	}
}
