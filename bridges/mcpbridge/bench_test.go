package mcpbridge_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
)

// BenchmarkCall measures one allowed tools/call through the bridge (agent →
// bridge over the in-memory transport → intercept over loopback HTTP to the
// in-process gateway with its durable embedded ledger → attestation
// verification → downstream tool), against the same call made directly to
// the downstream server.
func BenchmarkCall(b *testing.B) {
	args := map[string]any{"path": "/etc/robot.yaml"}
	b.Run("through-bridge", func(b *testing.B) {
		r := newRig(b, rigOpts{})
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			res, err := r.agent.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args})
			if err != nil || res.IsError {
				b.Fatalf("call: %v %+v", err, res)
			}
		}
	})
	b.Run("intercept-only", func(b *testing.B) {
		// The gateway round trip alone, as the bridge makes it.
		g := newGateway(b)
		agent, tokenID, _ := g.agentToken()
		ctx := context.Background()
		params := json.RawMessage(`{"path":"/etc/robot.yaml"}`)
		b.ResetTimer()
		for b.Loop() {
			d, _, err := agent.Intercept(ctx, api.InterceptRequest{TokenID: tokenID, Resource: "mcp://testfs/readFile", Action: "call", Params: params})
			if err != nil || d.Decision != "allow" {
				b.Fatalf("intercept: %v %+v", err, d)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		ctx := context.Background()
		ct, st := mcp.NewInMemoryTransports()
		ss, err := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(nil)).Connect(ctx, st, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ss.Close()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
