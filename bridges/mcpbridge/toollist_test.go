package mcpbridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
)

// serveDownstream connects s on an in-memory transport and returns the
// bridge's end.
func serveDownstream(t *testing.T, s *mcp.Server) mcp.Transport {
	t.Helper()
	dct, dst := mcp.NewInMemoryTransports()
	ss, err := s.Connect(context.Background(), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	return dct
}

// TestToolListBounded: a downstream listing more than MaxTools tools, or
// paging without end, makes New fail (promptly: no hang on a looping
// cursor) rather than growing without bound.
func TestToolListBounded(t *testing.T) {
	many := func(n int) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: "many", Version: "v1"}, nil)
		for i := range n {
			s.AddTool(&mcp.Tool{Name: fmt.Sprintf("t%d", i), InputSchema: mcpbridgetest.AnySchema},
				func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
					return &mcp.CallToolResult{}, nil
				})
		}
		return s
	}
	t.Run("at-cap", func(t *testing.T) {
		cfg := offlineConfig(t)
		cfg.Downstream = serveDownstream(t, many(mcpbridge.MaxTools))
		b, err := mcpbridge.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if n := len(b.Tools()); n != mcpbridge.MaxTools {
			t.Errorf("%d tools exposed, want %d", n, mcpbridge.MaxTools)
		}
	})
	t.Run("over-cap", func(t *testing.T) {
		cfg := offlineConfig(t)
		cfg.Downstream = serveDownstream(t, many(mcpbridge.MaxTools+1))
		b, err := mcpbridge.New(context.Background(), cfg)
		if err == nil {
			b.Close()
			t.Fatal("New accepted more than MaxTools tools")
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("more than %d tools", mcpbridge.MaxTools)) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("looping-cursor", func(t *testing.T) {
		s := mcp.NewServer(&mcp.Implementation{Name: "loop", Version: "v1"}, nil)
		var lists atomic.Int64
		s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
			return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
				if method == "tools/list" {
					lists.Add(1)
					return &mcp.ListToolsResult{Tools: []*mcp.Tool{}, NextCursor: "again"}, nil
				}
				return next(ctx, method, req)
			}
		})
		cfg := offlineConfig(t)
		cfg.Downstream = serveDownstream(t, s)
		b, err := mcpbridge.New(context.Background(), cfg)
		if err == nil {
			b.Close()
			t.Fatal("New accepted an endless listing")
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("more than %d pages", mcpbridge.MaxToolPages)) {
			t.Errorf("err %v", err)
		}
		if n := lists.Load(); n != mcpbridge.MaxToolPages {
			t.Errorf("%d tools/list requests, want %d", n, mcpbridge.MaxToolPages)
		}
	})
}

// notifyingTransport injects a tools/list_changed notification right after
// the initialize response, i.e. while New is still inside Connect.
type notifyingTransport struct{ mcp.Transport }

func (t notifyingTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &notifyingConn{Connection: c}, nil
}

type notifyingConn struct {
	mcp.Connection
	sent atomic.Bool
	next chan jsonrpc.Message
}

func (c *notifyingConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	if c.next != nil {
		m := c.next
		c.next = nil
		return <-m, nil
	}
	m, err := c.Connection.Read(ctx)
	if _, ok := m.(*jsonrpc.Response); ok && err == nil && !c.sent.Swap(true) {
		c.next = make(chan jsonrpc.Message, 1)
		c.next <- &jsonrpc.Request{Method: "notifications/tools/list_changed", Params: json.RawMessage(`{}`)}
	}
	return m, err
}

// TestToolListChangedDuringNew: a tools/list_changed that arrives while New
// is connecting must not touch the bridge before New is done (it raced
// with New's assignment of the downstream session), and is acted on after.
func TestToolListChangedDuringNew(t *testing.T) {
	for range 20 {
		cfg := offlineConfig(t)
		cfg.Downstream = notifyingTransport{cfg.Downstream}
		b, err := mcpbridge.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(b.Tools()); n != 5 {
			t.Errorf("%d tools, want 5", n)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
