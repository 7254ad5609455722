package policy

import "testing"

// TestDefaultPolicyNoGenericGet: the default policy does not auto-allow
// (tier ≤ 2) a generic get* MCP tool (nor read*, list*, search*, nor any
// resource read or prompt get): a server's get-env tool answers its
// environment, and the bridge host's secrets with it.
func TestDefaultPolicyNoGenericGet(t *testing.T) {
	p := Default()
	for _, tc := range []struct{ res, action string }{
		{"mcp://everything/get-env", "call"}, {"mcp://everything/getEnv", "call"}, {"mcp://robot/get_secret", "call"},
		{"mcp://robot/getConfig", "call"},
		// Other verbs name anything too: no generic read*, list*, search*.
		{"mcp://robot/readEnv", "call"}, {"mcp://robot/read_secret", "call"}, {"mcp://robot/list_credentials", "call"},
		{"mcp://robot/searchKeys", "call"}, {"mcp://filesystem/get_env", "call"},
		// Resources and prompts of any server: no generic rule either.
		{"mcp://everything/resource/env%3A%2F%2Fall", "read"}, {"mcp://everything/prompt/env", "get"},
	} {
		if got := p.Tier(tc.res, tc.action, false, false); got < 3 {
			t.Errorf("Tier(%s %s) = %d: auto-allowed", tc.res, tc.action, got)
		}
	}
}

// TestDefaultPolicyMCPBridgeActions: the MCP bridge's reports are recorded
// without an approval (tier 1), a changed tool definition needs one
// (tier ≥ 3), and the report rules grant nothing to tools/call.
func TestDefaultPolicyMCPBridgeActions(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		name, res, action string
		want              int
	}{
		{"report/flagged", "mcp://filesystem/write_file", "mcp.tool.flagged", 1},
		{"report/pinned", "mcp://robot/readSensor", "mcp.tool.pinned", 1},
		{"report/result", "mcp://robot/readNote", "mcp.result.flagged", 1},
		{"report/resource", "mcp://robot/resource/test%3A%2F%2Fx", "mcp.resource.flagged", 1},
		{"report/prompt", "mcp://robot/prompt/plan", "mcp.prompt.flagged", 1},
		{"repin", "mcp://filesystem/read_file", "mcp.tool.repin", 3},
		{"call-unchanged", "mcp://filesystem/write_file", "call", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Tier(tc.res, tc.action, false, false); got != tc.want {
				t.Errorf("Tier(%s %s) = %d, want %d", tc.res, tc.action, got, tc.want)
			}
		})
	}
}
