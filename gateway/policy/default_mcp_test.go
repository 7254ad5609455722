package policy

import "testing"

// TestDefaultPolicyNoGenericGet: the default policy does not auto-allow
// (tier ≤ 2) a generic get* MCP tool: a server's get-env tool answers its
// environment, and the bridge host's secrets with it.
func TestDefaultPolicyNoGenericGet(t *testing.T) {
	p := Default()
	for _, res := range []string{"mcp://everything/get-env", "mcp://everything/getEnv", "mcp://robot/get_secret", "mcp://robot/getConfig"} {
		if got := p.Tier(res, "call", false, false); got < 3 {
			t.Errorf("Tier(%s call) = %d: auto-allowed", res, got)
		}
	}
}
