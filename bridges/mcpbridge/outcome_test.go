package mcpbridge_test

import (
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
)

func TestOutcomeRoundTrip(t *testing.T) {
	o := mcpbridge.Outcome{Outcome: mcpbridge.OutcomeDeny, Code: "TIER_EXCEEDED", Reason: "r", Resource: "mcp://fs/x", RequestID: "id", ApprovalID: "a"}
	for _, tc := range []struct {
		name string
		res  func() *mcp.CallToolResult
		ok   bool
	}{
		{"in-process", o.Result, true},
		{"over-the-wire", func() *mcp.CallToolResult {
			b, err := json.Marshal(o.Result())
			if err != nil {
				t.Fatal(err)
			}
			var r mcp.CallToolResult
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			return &r
		}, true},
		{"not-an-error", func() *mcp.CallToolResult { r := o.Result(); r.IsError = false; return r }, false},
		{"no-meta", func() *mcp.CallToolResult { return &mcp.CallToolResult{IsError: true} }, false},
		{"nil", func() *mcp.CallToolResult { return nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := mcpbridge.OutcomeOf(tc.res())
			if ok != tc.ok || (ok && got != o) {
				t.Errorf("OutcomeOf = %+v, %v; want %+v, %v", got, ok, o, tc.ok)
			}
		})
	}
}

func FuzzOutcomeOf(f *testing.F) {
	f.Add([]byte(`{"outcome":"deny","code":"TIER_EXCEEDED","reason":"r"}`))
	f.Add([]byte(`{"code":""}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`"x"`))
	f.Add([]byte(`{"code":7}`))
	f.Fuzz(func(t *testing.T, meta []byte) {
		var v any
		if json.Unmarshal(meta, &v) != nil {
			return
		}
		res := &mcp.CallToolResult{IsError: true, Meta: mcp.Meta{mcpbridge.MetaKey: v}}
		o, ok := mcpbridge.OutcomeOf(res)
		if ok && o.Code == "" {
			t.Fatalf("an outcome without a code from %s", meta)
		}
	})
}
