package gateway

import (
	"context"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/physics"
	"github.com/sintgate/sintgate/gateway/policy"
)

// mappedPolicy maps /cmd/speed (m/s) on the fixture's resource: a device
// payload that carries its speed under its own field name.
const mappedPolicy = testPolicy + `payloadMappings:
  - resource: "ros:///cmd_vel"
    actions: [publish]
    map:
      - {path: cmd.speed, quantity: linearVelocity, unit: m/s}
`

// TestPayloadMappingsInPipeline: the physics stage applies the policy's
// payload mappings exactly like the known shapes (the fixture's token allows
// 1 m/s), fails closed on a missing or non-numeric mapped value, and lists
// the mappings in the allow's envelope.
func TestPayloadMappingsInPipeline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		params  map[string]any
		status  int
		code    codes.Code
		reason  string
		quantit string
	}{
		{name: "deny/nested-speed-over-mapped-limit", params: map[string]any{"cmd": map[string]any{"speed": 2.5}},
			status: 403, code: codes.PhysicsConstraint, reason: "params/cmd/speed", quantit: physics.MaxVelocity},
		{name: "deny/mapped-path-missing", params: map[string]any{"cmd": map[string]any{"velocity": 0.2}},
			status: 403, code: codes.PhysicsConstraint, reason: "/cmd/speed is missing"},
		{name: "deny/mapped-value-not-a-number", params: map[string]any{"cmd": map[string]any{"speed": "fast"}},
			status: 400, code: codes.MalformedRequest, reason: "params/cmd/speed"},
		{name: "allow/nested-speed-within", params: map[string]any{"cmd": map[string]any{"speed": 0.5}}, status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			pol, err := policy.Parse("mapped.yaml", []byte(mappedPolicy))
			if err != nil {
				t.Fatal(err)
			}
			st := *f.p.State()
			st.Policy = pol
			f.p.SetState(&st)
			res := f.p.Intercept(context.Background(), f.input(func(m map[string]any) { m["params"] = tc.params }))
			if res.Status != tc.status || res.Outcome.Code != tc.code || !strings.Contains(res.Outcome.Reason, tc.reason) ||
				(tc.quantit != "" && res.Outcome.Physics.Quantity != tc.quantit) {
				t.Fatalf("got %d %s %q (quantity %q), want %d %s ~%q %q", res.Status, res.Outcome.Code, res.Outcome.Reason,
					res.Outcome.Physics.Quantity, tc.status, tc.code, tc.reason, tc.quantit)
			}
			if tc.status == 200 {
				want := `"payloadMap":[{"path":"/cmd/speed","quantity":"linearVelocity","unit":"m/s"}]`
				if !strings.Contains(string(res.Body.Envelope), want) {
					t.Fatalf("envelope %s lacks %s", res.Body.Envelope, want)
				}
				lim, maps, err := physics.ParseEnvelope(res.Body.Envelope)
				if err != nil || lim.MaxVelocityMps == nil || *lim.MaxVelocityMps != 1 || len(maps) != 1 {
					t.Fatalf("envelope %s → %+v %v %v", res.Body.Envelope, lim, maps, err)
				}
			}
		})
	}
}
