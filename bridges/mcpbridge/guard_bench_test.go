package mcpbridge_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/gateway/injection"
)

// benign is robot-host text the scanner passes (no finding: the full scan).
const benign = "joint 3 at 41.5 deg, gripper open, battery 87 %, next waypoint bay 4; log rotated at 12:00. "

// BenchmarkScanResult is the cost the bridge adds to a clean result of each
// size (text content plus the same text as structured content): the scan
// that decides whether anything is redacted.
func BenchmarkScanResult(b *testing.B) {
	sc := injection.New()
	for _, kb := range []int{1, 16, 256} {
		text := strings.Repeat(benign, kb*1024/len(benign)+1)[:kb*1024]
		res := &mcp.CallToolResult{
			Content:           []mcp.Content{&mcp.TextContent{Text: text}},
			StructuredContent: map[string]any{"log": text},
		}
		b.Run(fmt.Sprintf("%dKB", kb), func(b *testing.B) {
			b.SetBytes(int64(2 * len(text)))
			for b.Loop() {
				if _, found := mcpbridge.ScanResult(sc, res); len(found) != 0 {
					b.Fatal(found)
				}
			}
		})
	}
}

// BenchmarkVetTool is the list-time cost per tool: canonical definition,
// hash and scan of a tool with a typical schema.
func BenchmarkVetTool(b *testing.B) {
	sc := injection.New()
	tool := &mcp.Tool{
		Name:        "move_file",
		Description: "Move or rename a file or directory. Both source and destination must be within the allowed directories; fails if the destination exists.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"source":{"type":"string","description":"path of the file to move"},"destination":{"type":"string","description":"new path"},"mode":{"type":"string","enum":["move","copy"],"default":"move"}},"required":["source","destination"]}`),
	}
	for b.Loop() {
		canon, _, err := mcpbridge.Definition(tool)
		if err != nil {
			b.Fatal(err)
		}
		if f, err := mcpbridge.ScanTool(sc, canon); err != nil || f != nil {
			b.Fatal(f, err)
		}
	}
}
