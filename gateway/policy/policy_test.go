package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// protocolExample is the policy file of PROTOCOL.md §5.3.
const protocolExample = `version: 1
defaultTier: 4
tripOnSevereViolation: false
rules:
  - resource: "ros:///sensors/**"
    actions: [subscribe, read]
    tier: 1
  - resource: "ros:///cmd_vel"
    actions: [publish]
    tier: 2
    escalateOnHumanPresence: true
injection:
  exempt: ["ros:///diagnostics/**"]
approvalTimeoutsMs: {3: 60000, 4: 300000, 5: 900000}
`

// parseErrorCases are invalid files with the exact error each must produce.
var parseErrorCases = []struct {
	name string
	yaml string
	want string
}{
	{"reject/unknown-field-in-rule", "version: 1\nrules:\n  - resource: \"a\"\n    actions: [read]\n    tier: 1\n  - resource: \"b\"\n    tierr: 2\n",
		`policy.yaml:7: unknown field "tierr" in rules[1]`},
	{"reject/unknown-top-field", "version: 1\ndefaultTeir: 3\n", `policy.yaml:2: unknown field "defaultTeir"`},
	{"reject/unknown-injection-field", "version: 1\ninjection:\n  exempts: []\n", `policy.yaml:3: unknown field "exempts" in injection`},
	{"reject/unknown-anomaly-field", "version: 1\nanomaly: {treshold: 0.5}\n", `policy.yaml:2: unknown field "treshold" in anomaly`},
	{"reject/missing-version", "defaultTier: 3\n", `policy.yaml:1: missing field "version" (must be 1)`},
	{"reject/version-2", "version: 2\n", `policy.yaml:1: unsupported version 2 (this gateway reads version 1)`},
	{"reject/version-string", "version: \"1\"\n", `policy.yaml:1: unsupported version 1 (this gateway reads version 1)`},
	{"reject/default-tier-0", "version: 1\ndefaultTier: 0\n", `policy.yaml:2: defaultTier must be an integer in 1..5, got 0`},
	{"reject/default-tier-float", "version: 1\ndefaultTier: 2.5\n", `policy.yaml:2: defaultTier must be an integer`},
	{"reject/trip-not-bool", "version: 1\ntripOnSevereViolation: yes\n", `policy.yaml:2: tripOnSevereViolation must be true or false`},
	{"reject/rules-not-list", "version: 1\nrules: {}\n", `policy.yaml:2: rules must be a list`},
	{"reject/rule-not-mapping", "version: 1\nrules: [3]\n", `policy.yaml:2: rules[0] must be a mapping`},
	{"reject/tier-6", "version: 1\nrules:\n  - {resource: a, actions: [read], tier: 6}\n", `policy.yaml:3: rules[0].tier must be an integer in 1..5, got 6`},
	{"reject/missing-tier", "version: 1\nrules:\n  - {resource: a, actions: [read]}\n", `policy.yaml:3: missing field "tier" in rules[0]`},
	{"reject/missing-actions", "version: 1\nrules:\n  - {resource: a, tier: 1}\n", `policy.yaml:3: missing field "actions" in rules[0]`},
	{"reject/missing-resource", "version: 1\nrules:\n  - {actions: [read], tier: 1}\n", `policy.yaml:3: missing field "resource" in rules[0]`},
	{"reject/empty-actions", "version: 1\nrules:\n  - {resource: a, actions: [], tier: 1}\n", `policy.yaml:3: rules[0].actions must not be empty (use ["*"] for any action)`},
	{"reject/star-with-others", "version: 1\nrules:\n  - {resource: a, actions: [\"*\", read], tier: 1}\n", `policy.yaml:3: rules[0].actions[0]: "*" must be the only action`},
	{"reject/estop-rule", "version: 1\nrules:\n  - {resource: a, actions: [estop], tier: 3}\n", `policy.yaml:3: rules[0].actions[0]: action "estop" is always tier 1; rules cannot apply to it`},
	{"reject/uppercase-action", "version: 1\nrules:\n  - {resource: a, actions: [Move], tier: 3}\n", `policy.yaml:3: rules[0].actions[0]: invalid action "Move" (want [a-z0-9._-]{1,64} or "*")`},
	{"reject/duplicate-action", "version: 1\nrules:\n  - {resource: a, actions: [read, read], tier: 3}\n", `policy.yaml:3: rules[0].actions[1]: duplicate action "read"`},
	{"reject/resource-with-space", "version: 1\nrules:\n  - {resource: \"a b\", actions: [read], tier: 3}\n", `policy.yaml:3: rules[0].resource: pattern contains character ' '; patterns are printable ASCII without spaces`},
	{"reject/resource-empty", "version: 1\nrules:\n  - {resource: \"\", actions: [read], tier: 3}\n", `policy.yaml:3: rules[0].resource: pattern must not be empty`},
	{"reject/resource-triple-star", "version: 1\nrules:\n  - {resource: \"a/***\", actions: [read], tier: 3}\n", `policy.yaml:3: rules[0].resource: pattern contains "***"; use "*" or "**"`},
	{"reject/resource-number", "version: 1\nrules:\n  - {resource: 7, actions: [read], tier: 3}\n", `policy.yaml:3: rules[0].resource must be a string`},
	{"reject/duplicate-key", "version: 1\nversion: 1\n", `policy.yaml:2: duplicate field "version"`},
	{"reject/duplicate-key-in-rule", "version: 1\nrules:\n  - {resource: a, resource: b, actions: [read], tier: 3}\n", `policy.yaml:3: duplicate field "resource" in rules[0]`},
	{"reject/anchor", "version: 1\nrules:\n  - &r {resource: a, actions: [read], tier: 3}\n  - *r\n", `policy.yaml:3: anchors are not supported in rules[0]`},
	{"reject/multiple-documents", "version: 1\n---\nversion: 1\n", `policy.yaml:2: more than one YAML document`},
	{"reject/bad-yaml", "version: 1\nrules: [\n", `policy.yaml:2: invalid YAML: did not find expected node content`},
	{"reject/empty-file", "", `policy.yaml: empty policy file`},
	{"reject/comment-only", "# nothing\n", `policy.yaml: empty policy file`},
	{"reject/root-list", "- 1\n", `policy.yaml:1: policy must be a mapping`},
	{"reject/timeout-tier-2", "version: 1\napprovalTimeoutsMs: {2: 1000}\n", `policy.yaml:2: unknown field "2" in approvalTimeoutsMs (tiers 3, 4, 5 need approval)`},
	{"reject/timeout-zero", "version: 1\napprovalTimeoutsMs: {3: 0}\n", `policy.yaml:2: approvalTimeoutsMs.3 must be an integer in 1000..604800000, got 0`},
	{"reject/timeout-duplicate-tier", "version: 1\napprovalTimeoutsMs: {3: 1000, 0x3: 2000}\n", `policy.yaml:2: duplicate field "0x3" in approvalTimeoutsMs`},
	{"reject/rate-limit-half", "version: 1\nagentRateLimit: {maxCalls: 10}\n", `policy.yaml:2: agentRateLimit needs both maxCalls and windowMs`},
	{"reject/rate-limit-zero", "version: 1\nagentRateLimit: {maxCalls: 0, windowMs: 10}\n", `policy.yaml:2: agentRateLimit.maxCalls must be an integer in 1..1000000000, got 0`},
	{"reject/anomaly-out-of-range", "version: 1\nanomaly: {threshold: 1.5}\n", `policy.yaml:2: anomaly.threshold must be a number in (0, 1], got 1.5`},
	{"reject/nan", "version: 1\nanomaly: {threshold: .nan}\n", `policy.yaml:2: number ".nan" is not a finite number in anomaly.threshold`},
	{"reject/timestamp", "version: 1\nnote: 2026-01-01\n", `policy.yaml:2: unsupported value "2026-01-01" (tag !!timestamp) in note`},
	{"reject/huge-float", "version: 1\nanomaly: {threshold: 1e400}\n", `policy.yaml:2: anomaly.threshold must be a number in (0, 1], got 1e400`},
	{"reject/exempt-not-string", "version: 1\ninjection: {exempt: [1]}\n", `policy.yaml:2: injection.exempt[0] must be a string`},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range parseErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("policy.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded (hash %s), want error %q", p.Hash(), tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n got: %s\nwant: %s", err, tc.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, want *ParseError", err)
			}
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("codes.Of = %s, want MALFORMED_REQUEST", codes.Of(err))
			}
		})
	}
}

func TestParseProtocolExample(t *testing.T) {
	p, err := Parse("policy.yaml", []byte(protocolExample))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Rules()); got != 2 {
		t.Fatalf("rules = %d", got)
	}
	if p.DefaultTier() != 4 || p.TripOnSevereViolation() {
		t.Fatal("defaultTier/tripOnSevereViolation not read")
	}
	if !p.InjectionExempt("ros:///diagnostics/motor/temp") || p.InjectionExempt("ros:///cmd_vel") {
		t.Fatal("injection.exempt not applied")
	}
	if _, _, ok := p.AgentRateLimit(); ok {
		t.Fatal("no agent rate limit was configured")
	}
	if p.AnomalyThreshold() != DefaultAnomalyThreshold {
		t.Fatal("anomaly threshold default")
	}
	if p.Name() != "policy.yaml" || string(p.Raw()) != protocolExample {
		t.Fatal("Name/Raw")
	}
}

func TestTier(t *testing.T) {
	const file = `version: 1
rules:
  - resource: "ros:///**"
    actions: ["*"]
    tier: 3
  - resource: "ros:///sensors/**"
    actions: [subscribe, read]
    tier: 1
  - resource: "ros:///cmd_vel"
    actions: [publish]
    tier: 2
    escalateOnHumanPresence: true
  - resource: "ros:///arm/*"
    actions: [move]
    tier: 4
  - resource: "ros:///*/joint1"
    actions: [move]
    tier: 2
  - resource: "ros:///arm/joint*"
    actions: [move]
    tier: 5
    escalateOnHumanPresence: true
`
	p, err := Parse("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		resource, action string
		human, anomalous bool
		want             int
		wantRuleIndex    int // -1: no rule
	}{
		{"tier/sensor-read", "ros:///sensors/lidar/front", "read", false, false, 1, 1},
		{"tier/sensor-unlisted-action-falls-to-catch-all", "ros:///sensors/lidar", "publish", false, false, 3, 0},
		{"tier/exact-beats-wildcard", "ros:///cmd_vel", "publish", false, false, 2, 2},
		{"tier/human-bump-with-flag", "ros:///cmd_vel", "publish", true, false, 3, 2},
		{"tier/no-human-bump-without-flag", "ros:///sensors/x", "read", true, false, 1, 1},
		{"tier/anomaly-bump", "ros:///sensors/x", "read", false, true, 2, 1},
		{"tier/both-bumps", "ros:///cmd_vel", "publish", true, true, 4, 2},
		{"tier/capped-at-5", "ros:///arm/joint1", "move", true, true, 5, 5},
		{"tier/most-literal-wins", "ros:///arm/joint1", "move", false, false, 5, 5},
		{"tier/tie-first-in-file", "ros:///arm/x", "move", false, false, 4, 3},
		{"tier/unmatched-other-scheme-default-4", "mqtt://a/b", "publish", false, false, 4, -1},
		{"tier/unmatched-anomalous-default-5", "mqtt://a/b", "publish", false, true, 5, -1},
		{"tier/unmatched-human-no-bump", "mqtt://a/b", "publish", true, false, 4, -1},
		{"tier/estop-always-1", "ros:///arm/joint1", "estop", true, true, 1, -1},
		{"tier/estop-unmatched-resource-1", "gpio://x/y", "estop", false, false, 1, -1},
		{"tier/case-sensitive", "ROS:///cmd_vel", "publish", false, false, 4, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Tier(tc.resource, tc.action, tc.human, tc.anomalous); got != tc.want {
				t.Errorf("Tier = %d, want %d", got, tc.want)
			}
			r := p.MatchRule(tc.resource, tc.action)
			switch {
			case tc.wantRuleIndex < 0 && r != nil:
				t.Errorf("MatchRule = rules[%d], want none", r.Index)
			case tc.wantRuleIndex >= 0 && (r == nil || r.Index != tc.wantRuleIndex):
				t.Errorf("MatchRule = %v, want rules[%d]", r, tc.wantRuleIndex)
			}
		})
	}
}

func TestTieBreakFirstInFile(t *testing.T) {
	// Two rules of equal specificity; the first one in the file wins
	// whichever order they are written in.
	a := "  - {resource: \"x/*/c\", actions: [\"*\"], tier: 2}\n"
	b := "  - {resource: \"x/b/*\", actions: [\"*\"], tier: 5}\n"
	for _, tc := range []struct {
		name, rules string
		want        int
	}{{"tie/a-first", a + b, 2}, {"tie/b-first", b + a, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte("version: 1\nrules:\n"+tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Tier("x/b/c", "set", false, false); got != tc.want {
				t.Fatalf("Tier = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestDefaultTierConfigured(t *testing.T) {
	p, err := Parse("t.yaml", []byte("version: 1\ndefaultTier: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Tier("anything", "move", false, false); got != 2 {
		t.Fatalf("Tier = %d, want 2", got)
	}
}

func TestApprovalTimeoutAndRateLimit(t *testing.T) {
	p, err := Parse("t.yaml", []byte("version: 1\napprovalTimeoutsMs: {4: 1000}\nagentRateLimit: {maxCalls: 50, windowMs: 1000}\nanomaly: {threshold: 0.5}\ntripOnSevereViolation: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]time.Duration{0: 0, 1: 0, 2: 0, 3: 60 * time.Second, 4: time.Second, 5: 900 * time.Second, 6: 0}
	for tier, d := range want {
		if got := p.ApprovalTimeout(tier); got != d {
			t.Errorf("ApprovalTimeout(%d) = %v, want %v", tier, got, d)
		}
	}
	if m, w, ok := p.AgentRateLimit(); !ok || m != 50 || w != 1000 {
		t.Errorf("AgentRateLimit = %d, %d, %v", m, w, ok)
	}
	if p.AnomalyThreshold() != 0.5 || !p.TripOnSevereViolation() {
		t.Error("anomaly threshold / tripOnSevereViolation not read")
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestHash(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		jcs  string // the canonical JSON the hash is computed over
	}{
		{"hash/minimal", "version: 1\n", `{"version":1}`},
		{"hash/keys-sorted", "version: 1\ndefaultTier: 4\n", `{"defaultTier":4,"version":1}`},
		{"hash/int-keys-are-strings-and-big-ints-plain", "version: 1\napprovalTimeoutsMs: {3: 60000, 4: 100000, 5: 900000}\n",
			`{"approvalTimeoutsMs":{"3":60000,"4":100000,"5":900000},"version":1}`},
		{"hash/keys-as-written", "version: 1\napprovalTimeoutsMs: {0x3: 1000}\n", `{"approvalTimeoutsMs":{"0x3":1000},"version":1}`},
		{"hash/float", "version: 1\nanomaly: {threshold: 0.50}\n", `{"anomaly":{"threshold":0.5},"version":1}`},
		{"hash/float-integral", "version: 1\nanomaly: {threshold: 1.0}\n", `{"anomaly":{"threshold":1},"version":1}`},
		{"hash/bool-and-list", "version: 1\ntripOnSevereViolation: false\ninjection: {exempt: [\"a/**\"]}\n",
			`{"injection":{"exempt":["a/**"]},"tripOnSevereViolation":false,"version":1}`},
		{"hash/rule", "version: 1\nrules:\n  - resource: ros:///cmd_vel\n    actions: [publish]\n    tier: 2\n",
			`{"rules":[{"actions":["publish"],"resource":"ros:///cmd_vel","tier":2}],"version":1}`},
		{"hash/unicode-string", "version: 1\nrules:\n  - {resource: \"ros:///é\", actions: [\"*\"], tier: 1}\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(tc.yaml))
			if tc.jcs == "" {
				// Only checks that a non-ASCII pattern is refused.
				if err == nil {
					t.Fatal("non-ASCII pattern accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.Hash(), sha(tc.jcs); got != want {
				t.Fatalf("Hash = %s, want sha256(%s) = %s", got, tc.jcs, want)
			}
		})
	}
}

func TestHashIgnoresFormattingNotContent(t *testing.T) {
	a, err := Parse("a", []byte(protocolExample))
	if err != nil {
		t.Fatal(err)
	}
	reformatted := "# comment\n" + strings.ReplaceAll(protocolExample, "{3: 60000, 4: 300000, 5: 900000}", "\n  5: 900000\n  3: 60000\n  4: 300000")
	b, err := Parse("b", []byte(reformatted))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Fatal("comments, flow style and key order must not change the hash")
	}
	// An explicit default is content: the hash covers the file as written.
	c, err := Parse("c", []byte(strings.Replace(protocolExample, "injection:", "anomaly: {threshold: 0.8}\ninjection:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() == a.Hash() {
		t.Fatal("adding a field must change the hash")
	}
	if len(a.Hash()) != 64 || strings.ToLower(a.Hash()) != a.Hash() {
		t.Fatalf("hash %q is not 64 lowercase hex", a.Hash())
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(good, []byte(protocolExample), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tier("ros:///cmd_vel", "publish", false, false) != 2 {
		t.Fatal("loaded policy does not apply")
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || err.Error() != bad+`:2: unknown field "bogus"` {
		t.Fatalf("Load(bad) error = %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Fatalf("Load(missing) error = %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Load(big) error = %v", err)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	if p.DefaultTier() != 4 {
		t.Fatal("default policy must keep defaultTier 4")
	}
	tests := []struct {
		name, resource, action string
		want                   int
	}{
		{"sensor/lidar", "ros:///sensors/lidar_front", "subscribe", 1},
		{"sensor/scan", "ros:///scan", "subscribe", 1},
		{"sensor/camera", "ros:///camera/rgb/image_raw", "subscribe", 1},
		{"sensor/odom", "ros:///odom", "read", 1},
		{"sensor/tf", "ros:///tf", "subscribe", 1},
		{"sensor/namespaced-joint-states", "ros:///ur5/joint_states", "subscribe", 1},
		{"sensor/diagnostics", "ros:///diagnostics/motors", "subscribe", 1},
		{"observe/other-topic", "ros:///rosout", "subscribe", 2},
		{"planning/make-plan", "ros:///move_base/make_plan", "call", 2},
		{"planning/moveit-plan", "ros:///move_group/plan", "call", 2},
		{"planning/ik", "ros:///compute_ik", "call", 2},
		{"motion/cmd-vel", "ros:///cmd_vel", "publish", 3},
		{"motion/namespaced-cmd-vel", "ros:///base/cmd_vel", "publish", 3},
		{"motion/nav-goal", "ros:///move_base_simple/goal", "publish", 3},
		{"motion/cancel-goal", "ros:///move_base/cancel", "publish", 2},
		{"motion/arm-trajectory", "ros:///arm/joint_trajectory", "publish", 3},
		{"motion/controller-trajectory", "ros:///ur5/arm_controller/joint_trajectory", "publish", 3},
		{"motion/robot-arm-joint", "robot:arm:joint_1", "move", 3},
		{"tool/gripper-ros", "ros:///gripper/command", "publish", 3},
		{"tool/gripper-gpio", "gpio://cell1/gripper", "set", 3},
		{"tool/relay-gpio", "gpio://cell1/relay2", "set", 3},
		{"config/ros-param", "ros:///move_base/set_parameters", "call", 4},
		{"config/ros-set", "ros:///arm/max_payload", "set", 4},
		{"safety/ros-safety", "ros:///safety/zone_config", "publish", 5},
		{"safety/ros-estop-reset", "ros:///estop/reset", "call", 5},
		{"safety/speed-limit", "ros:///base/speed_limit", "set", 5},
		{"safety/gpio-estop", "gpio://cell1/estop_relay", "set", 5},
		{"safety/gpio-interlock", "gpio://cell1/interlock_door", "set", 5},
		{"gpio/read", "gpio://cell1/door_sensor", "read", 1},
		{"gpio/led", "gpio://cell1/led_green", "set", 2},
		{"gpio/unknown-output", "gpio://cell1/pump", "set", 4},
		{"mqtt/telemetry", "mqtt://factory/line1/telemetry/temp", "subscribe", 1},
		{"mqtt/other-subscribe", "mqtt://factory/line1/events", "subscribe", 2},
		{"mqtt/valve", "mqtt://factory/line1/valve7", "publish", 3},
		{"mqtt/conveyor", "mqtt://factory/line1/conveyor_a", "publish", 3},
		{"mqtt/cmd", "mqtt://factory/line1/cmd/start", "publish", 3},
		{"mqtt/config", "mqtt://factory/line1/config/setpoints", "publish", 4},
		{"mqtt/safety-beats-valve", "mqtt://factory/line1/safety/valve7", "publish", 5},
		{"mqtt/firmware", "mqtt://factory/plc3/firmware/update", "publish", 5},
		{"mcp/read-file", "mcp://filesystem/readFile", "call", 2},
		{"mcp/list", "mcp://filesystem/listDirectory", "call", 2},
		{"mcp/write-file", "mcp://filesystem/writeFile", "call", 4},
		{"mcp/delete", "mcp://filesystem/deleteFile", "call", 4},
		{"mcp/shell", "mcp://shell/run", "call", 5},
		{"mcp/exec", "mcp://robot/executeScript", "call", 5},
		{"unmatched/unknown-scheme", "can://bus0/0x123", "write", 4},
		{"estop/any-resource", "ros:///safety/estop", "estop", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Tier(tc.resource, tc.action, false, false); got != tc.want {
				r := p.MatchRule(tc.resource, tc.action)
				t.Fatalf("Tier(%s %s) = %d, want %d (rule %+v)", tc.resource, tc.action, got, tc.want, r)
			}
		})
	}
	if !p.InjectionExempt("ros:///diagnostics/cpu") {
		t.Fatal("diagnostics must be exempt from the injection scan")
	}
	if p.Tier("ros:///cmd_vel", "publish", true, false) != 4 {
		t.Fatal("cmd_vel must escalate with a human present")
	}
	if !strings.Contains(string(DefaultYAML()), "version: 1") {
		t.Fatal("DefaultYAML")
	}
}

func BenchmarkTierDefaultPolicy(b *testing.B) {
	p := Default()
	for i := 0; i < b.N; i++ {
		p.Tier("ros:///ur5/arm_controller/joint_trajectory", "publish", i%2 == 0, false)
	}
}

// TestDefaultPolicyMCPFilesystemTools: the default policy's MCP filesystem
// rules match the tool names of the reference MCP filesystem server
// (snake_case) as well as the camelCase spelling. A file-changing tool must
// be decided by its own tier-4 rule, not by the default tier, so it stays
// tier 4 when an operator copies the file and lowers defaultTier.
func TestDefaultPolicyMCPFilesystemTools(t *testing.T) {
	lowered, err := Parse("default-lowered", bytes.Replace(DefaultYAML(), []byte("\ndefaultTier: 4\n"), []byte("\ndefaultTier: 2\n"), 1))
	if err != nil {
		t.Fatal(err)
	}
	if lowered.DefaultTier() != 2 {
		t.Fatalf("lowered default tier = %d", lowered.DefaultTier())
	}
	tests := []struct {
		name, tool string
		want       int
	}{
		{"snake/write_file", "write_file", 4},
		{"snake/edit_file", "edit_file", 4},
		{"snake/move_file", "move_file", 4},
		{"camel/writeFile", "writeFile", 4},
		{"camel/editFile", "editFile", 4},
		{"camel/moveFile", "moveFile", 4},
		{"snake/create_directory", "create_directory", 4},
		{"snake/read_file", "read_file", 2},
		{"snake/read_text_file", "read_text_file", 2},
		{"snake/read_media_file", "read_media_file", 2},
		{"snake/read_multiple_files", "read_multiple_files", 2},
		{"snake/list_directory", "list_directory", 2},
		{"snake/list_directory_with_sizes", "list_directory_with_sizes", 2},
		{"snake/directory_tree", "directory_tree", 2},
		{"snake/search_files", "search_files", 2},
		{"snake/get_file_info", "get_file_info", 2},
		{"snake/list_allowed_directories", "list_allowed_directories", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := "mcp://filesystem/" + tc.tool
			r := Default().MatchRule(res, "call")
			if r == nil {
				t.Fatalf("no rule of the default policy matches %s (it falls to defaultTier)", res)
			}
			if r.Tier != tc.want {
				t.Fatalf("%s: rule %q tier %d, want %d", res, r.Resource, r.Tier, tc.want)
			}
			if r.Resource != res {
				t.Fatalf("%s: decided by the generic rule %q, not by a rule naming the tool", res, r.Resource)
			}
			if got := lowered.Tier(res, "call", false, false); got != tc.want {
				t.Fatalf("%s with defaultTier 2: tier %d, want %d", res, got, tc.want)
			}
		})
	}
}

// TestTripOnInjectionFlood: the injection-flood action is a policy choice,
// off (open the agent's circuit, alert) unless the file says true.
func TestTripOnInjectionFlood(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      bool
		err       string
	}{
		{name: "default-off", doc: "version: 1\n"},
		{name: "explicit-off", doc: "version: 1\ntripOnInjectionFlood: false\n"},
		{name: "on", doc: "version: 1\ntripOnInjectionFlood: true\n", want: true},
		{name: "reject/not-bool", doc: "version: 1\ntripOnInjectionFlood: 1\n", err: "tripOnInjectionFlood must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("policy.yaml", []byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.TripOnInjectionFlood() != tc.want {
				t.Fatalf("TripOnInjectionFlood = %v, want %v", p.TripOnInjectionFlood(), tc.want)
			}
		})
	}
}
