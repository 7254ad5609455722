package policy

import (
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
)

const mappingPolicy = `version: 1
payloadMappings:
  - resource: "mqtt://**/conveyor*"
    actions: [publish]
    map:
      - {path: /cmd/speed, quantity: linearVelocity, unit: mm/s}
  - resource: "mqtt://plant/**"
    actions: ["*"]
    map:
      - {path: "grip.force", quantity: force, unit: N}
      - {quantity: position, x: /goal/x, y: /goal/y, unit: mm, frame: map}
`

func TestPayloadMappings(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(mappingPolicy))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, resource, action string
		want                   []string // canonical mapping descriptions
	}{
		{"one-entry", "mqtt://f/line1/conveyor2", "publish", []string{"/cmd/speed (linearVelocity, mm/s)"}},
		{"every-matching-entry-applies", "mqtt://plant/conveyor", "publish",
			[]string{"/cmd/speed (linearVelocity, mm/s)", "/grip/force (force, N)", "(/goal/x, /goal/y) (position, mm, frame map)"}},
		{"action-not-listed", "mqtt://f/line1/conveyor2", "subscribe", nil},
		{"any-action", "mqtt://plant/x", "subscribe", []string{"/grip/force (force, N)", "(/goal/x, /goal/y) (position, mm, frame map)"}},
		{"no-match", "ros:///cmd_vel", "publish", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := p.PayloadMappings(tc.resource, tc.action)
			if len(got) != len(tc.want) {
				t.Fatalf("PayloadMappings = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Fatalf("mapping %d = %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestPayloadMappingErrors(t *testing.T) {
	head := "version: 1\npayloadMappings:\n  - resource: \"mqtt://**\"\n    actions: [publish]\n    map:\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"reject/unknown-unit", head + "      - {path: /s, quantity: linearVelocity, unit: furlong/s}\n",
			`policy.yaml:6: payloadMappings[0].map[0]: payload mapping: linearVelocity cannot be given in unit "furlong/s"`},
		{"reject/unit-of-other-quantity", head + "      - {path: /s, quantity: force, unit: m/s}\n",
			`policy.yaml:6: payloadMappings[0].map[0]: payload mapping: force cannot be given in unit "m/s"`},
		{"reject/unknown-quantity", head + "      - {path: /s, quantity: speed, unit: m/s}\n",
			`policy.yaml:6: payloadMappings[0].map[0]: payload mapping: unknown quantity "speed"`},
		{"reject/bad-path", head + "      - {path: \"a..b\", quantity: force, unit: N}\n",
			`policy.yaml:6: payloadMappings[0].map[0]: payload mapping: path "a..b"`},
		{"reject/unknown-field", head + "      - {path: /s, quantity: force, unit: N, max: 3}\n",
			`policy.yaml:6: unknown field "max" in payloadMappings[0].map[0]`},
		{"reject/number-unit", head + "      - {path: /s, quantity: force, unit: 3}\n",
			`policy.yaml:6: payloadMappings[0].map[0].unit must be a string`},
		{"reject/empty-map", "version: 1\npayloadMappings:\n  - {resource: a, actions: [publish], map: []}\n",
			`policy.yaml:3: payloadMappings[0].map must not be empty`},
		{"reject/missing-actions", "version: 1\npayloadMappings:\n  - {resource: a, map: [{path: /s, quantity: force, unit: N}]}\n",
			`policy.yaml:3: missing field "actions" in payloadMappings[0]`},
		{"reject/missing-map", "version: 1\npayloadMappings:\n  - {resource: a, actions: [publish]}\n",
			`policy.yaml:3: missing field "map" in payloadMappings[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("policy.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("parsed: %+v", p)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error\n %s\nwant prefix\n %s", err, tc.want)
			}
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
		})
	}
}
