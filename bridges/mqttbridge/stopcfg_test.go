package mqttbridge

import (
	"strings"
	"testing"
)

// TestMotionRouteNeedsSafeStop: an MQTT route is a motion route unless it
// says motion=false (fail closed), and a motion route without a safe stop
// does not start.
func TestMotionRouteNeedsSafeStop(t *testing.T) {
	cfg := func(specs ...string) Config {
		rt, err := ParseRoute("agent/belt=line1/belt")
		if err != nil {
			t.Fatal(err)
		}
		rt.NonPhysical = true // payload mappings are another test's subject
		rs := []Route{rt}
		for _, s := range specs {
			if err := SetStopPolicy(rs, s); err != nil {
				t.Fatal(err)
			}
		}
		return Config{Broker: "mqtt://127.0.0.1:1", BrokerName: "b", Gateway: nopDecider{}, Verifier: nopVerifier{}, TokenID: "t", Routes: rs}
	}
	for _, tc := range []struct {
		name  string
		specs []string
		ok    bool
	}{
		{"default-is-motion-refused", nil, false},
		{"declared-motion-refused", []string{"line1/belt=motion=true"}, false},
		{"declared-non-motion-starts", []string{"line1/belt=motion=false"}, true},
		{"non-motion-but-stopping-policy-refused", []string{"line1/belt=motion=false,deny=safe-stop"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(cfg(tc.specs...))
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "safe stop") {
				t.Fatalf("New: %v does not say why", err)
			}
		})
	}
}
