package mqttbridge_test

import (
	"fmt"
	"testing"

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
