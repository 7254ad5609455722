package gateway

import (
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"
)

// oracle is the payload as the generic path builds it: a map, marshalled by
// encoding/json and canonicalised by the JCS library.
func (p *decisionPayload) oracle(t interface{ Fatal(...any) }) []byte {
	m := map[string]any{
		"requestId": p.RequestID, "agentId": p.AgentID, "resource": p.Resource, "action": p.Action,
		"decision": p.Decision, "tier": p.Tier, "code": nil,
		"paramsHash": p.ParamsHash, "policyHash": p.PolicyHash, "stage": p.Stage,
	}
	if p.Code != "" {
		m["code"] = p.Code
	}
	if p.ApprovalID != "" {
		m["approvalId"] = p.ApprovalID
	}
	if p.Charged != 0 {
		m["charged"] = p.Charged
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jcs.Transform(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecisionPayloadIsJCS(t *testing.T) {
	base := decisionPayload{
		RequestID: "01936d5e-0000-7000-8000-000000000002", AgentID: "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
		Resource: "ros:///cmd_vel", Action: "publish", Decision: "allow", Tier: 2,
		ParamsHash: "ab", PolicyHash: "cd", Stage: 11,
	}
	cases := map[string]func(p *decisionPayload){
		"allow":          func(p *decisionPayload) {},
		"deny with code": func(p *decisionPayload) { p.Decision, p.Code, p.Stage = "deny", "PHYSICS_CONSTRAINT", 6 },
		"escalate with approval": func(p *decisionPayload) {
			p.Decision, p.ApprovalID = "escalate", "01936d5e-0000-7000-8000-000000000003"
		},
		"charged":               func(p *decisionPayload) { p.Charged = 12 },
		"resource with escapes": func(p *decisionPayload) { p.Resource = "mcp://x/\"q\"\\\b\f\n\r\t\x01\x1f\x7f<>&\u2028é😀" },
		"invalid utf-8":         func(p *decisionPayload) { p.Resource = "a\xffb\xc3" },
		"negative tier":         func(p *decisionPayload) { p.Tier, p.Stage = -1, 0 },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := base
			mutate(&p)
			if got, want := string(p.raw()), string(p.oracle(t)); got != want {
				t.Fatalf("payload\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestDecisionPayloadProperty(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.StringMatching(`[\x00-\x20"\\a-z]{0,12}`),
		rapid.Custom(func(t *rapid.T) string { return string(rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")) }))
	rapid.Check(t, func(t *rapid.T) {
		p := decisionPayload{
			Action: str.Draw(t, "action"), AgentID: str.Draw(t, "agent"), ApprovalID: str.Draw(t, "approval"),
			Charged: rapid.Int64().Draw(t, "charged"), Code: str.Draw(t, "code"), Decision: str.Draw(t, "decision"),
			ParamsHash: str.Draw(t, "ph"), PolicyHash: str.Draw(t, "pol"), RequestID: str.Draw(t, "req"),
			Resource: str.Draw(t, "res"), Stage: rapid.Int().Draw(t, "stage"), Tier: rapid.Int().Draw(t, "tier"),
		}
		if got, want := string(p.raw()), string(p.oracle(t)); got != want {
			t.Fatalf("payload\n got %q\nwant %q", got, want)
		}
	})
}

func FuzzDecisionPayload(f *testing.F) {
	f.Add("ros:///cmd_vel", "publish", "PHYSICS_CONSTRAINT", int64(3))
	f.Add("a\x00\"\\\u2028\xff", "x", "", int64(0))
	f.Fuzz(func(t *testing.T, res, action, code string, charged int64) {
		p := decisionPayload{Resource: res, Action: action, Code: code, Charged: charged, Decision: "deny", Stage: 3}
		if got, want := string(p.raw()), string(p.oracle(t)); got != want {
			t.Fatalf("payload\n got %q\nwant %q", got, want)
		}
	})
}
