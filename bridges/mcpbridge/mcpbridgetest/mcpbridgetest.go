// Package mcpbridgetest is a downstream MCP server for tests of the MCP
// bridge: a few tools that record every call they receive (tool name and
// the exact argument bytes) and answer predictably.
//
// Tools (all take a JSON object):
//
//   - readFile {"path"}: answers the text "contents of <path>".
//   - echo {...}: answers its arguments as structured content.
//   - moveArm {"joint","angle"}: answers "moved".
//   - deleteFile {"path"}: answers "deleted".
//   - slow {}: signals Started, then waits until its context ends (the
//     bridge cancelled it) or Release is closed; records which.
//   - "bad/name": a tool whose name the bridge must not expose.
package mcpbridgetest

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Call is one recorded tool call.
type Call struct {
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments"`
	// Cancelled is set for the slow tool when its context ended before
	// Release was closed.
	Cancelled bool `json:"cancelled,omitempty"`
}

// Recorder records calls. The zero value is not usable; use NewRecorder.
// It is safe for concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
	sink  io.Writer // optional: every call as one JSON line

	// Started receives one value when the slow tool starts (buffer 16;
	// when full, the signal is dropped rather than blocking the tool).
	Started chan struct{}
	// Release, when closed, lets the slow tool return normally.
	Release chan struct{}
	// SlowDone receives the slow tool's call when it returns (buffer 16;
	// when full, it is dropped rather than blocking the tool; Calls still
	// has the call, without Cancelled).
	SlowDone chan Call
}

// NewRecorder returns a recorder that also writes every call as a JSON line
// to sink if it is not nil.
func NewRecorder(sink io.Writer) *Recorder {
	return &Recorder{sink: sink, Started: make(chan struct{}, 16), Release: make(chan struct{}), SlowDone: make(chan Call, 16)}
}

// Calls returns a copy of the calls so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

func (r *Recorder) record(c Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	if r.sink != nil {
		b, _ := json.Marshal(c)
		_, _ = r.sink.Write(append(b, '\n'))
	}
}

// Schemas of the tools, as the bridge must mirror them.
var (
	PathSchema = json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"file path"}},"required":["path"]}`)
	AnySchema  = json.RawMessage(`{"type":"object"}`)
	ArmSchema  = json.RawMessage(`{"type":"object","properties":{"joint":{"type":"string"},"angle":{"type":"number"}}}`)
)

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// NewServer returns the test server; every call is recorded in r.
func NewServer(r *Recorder) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "mcpbridgetest", Version: "v1"}, nil)
	rec := func(req *mcp.CallToolRequest) json.RawMessage {
		args := append(json.RawMessage(nil), req.Params.Arguments...)
		r.record(Call{Tool: req.Params.Name, Arguments: args})
		return args
	}
	path := func(args json.RawMessage) string {
		var a struct{ Path string }
		_ = json.Unmarshal(args, &a)
		return a.Path
	}
	s.AddTool(&mcp.Tool{Name: "readFile", Description: "Read a file on the robot host.", InputSchema: PathSchema},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("contents of " + path(rec(req))), nil
		})
	s.AddTool(&mcp.Tool{Name: "echo", Description: "Answer the arguments.", InputSchema: AnySchema},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			args := rec(req)
			res := text(string(args))
			res.StructuredContent = args
			return res, nil
		})
	s.AddTool(&mcp.Tool{Name: "moveArm", Description: "Move one arm joint.", InputSchema: ArmSchema},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			rec(req)
			return text("moved"), nil
		})
	s.AddTool(&mcp.Tool{Name: "deleteFile", Description: "Delete a file.", InputSchema: PathSchema},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			rec(req)
			return text("deleted"), nil
		})
	s.AddTool(&mcp.Tool{Name: "slow", Description: "Run until cancelled or released.", InputSchema: AnySchema},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			c := Call{Tool: req.Params.Name, Arguments: rec(req)}
			select {
			case r.Started <- struct{}{}:
			default:
			}
			select {
			case <-ctx.Done():
				c.Cancelled = true
			case <-r.Release:
			}
			select {
			case r.SlowDone <- c:
			default:
			}
			return text("slow done"), nil
		})
	s.AddTool(&mcp.Tool{Name: "bad/name", Description: "Must not be exposed.", InputSchema: AnySchema},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			rec(req)
			return text("bad"), nil
		})
	return s
}
