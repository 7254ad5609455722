package mcpbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// GroupSeparator joins a server name and a downstream tool name into the
// tool name an agent sees behind a Group: "<server>__<tool>". Server names
// in a Group contain no "_", so the first "__" always ends the server name
// and the name is unambiguous.
const GroupSeparator = "__"

// Group is several downstream MCP servers behind one MCP server for the
// agent. Each downstream server has its own Bridge (its own Config: server
// name, transport, pins, allow list, latch, counters) and its tools are
// offered as "<server>__<tool>"; a call is gated as
// mcp://<server>/<tool>, exactly as behind a Bridge of its own. Create it
// with NewGroup, serve it with Run or ServeHTTP, release it with Close.
type Group struct {
	server  *mcp.Server
	bridges []*Bridge
	log     *slog.Logger
}

// ValidGroupServerName reports whether s can name a server in a Group:
// ValidServerName without "_" (GroupSeparator).
func ValidGroupServerName(s string) error {
	if err := ValidServerName(s); err != nil {
		return err
	}
	if strings.Contains(s, "_") {
		return fmt.Errorf("server name %q: no \"_\" in a server name behind a group (the tool names would be ambiguous)", s)
	}
	return nil
}

// NewGroup connects every downstream server of cfgs (distinct
// ValidGroupServerName names, at least one) and mirrors their tools on one
// MCP server named impl (nil: sint-mcpbridge v1). If one fails, those
// already connected are closed and the error names the server.
func NewGroup(ctx context.Context, impl *mcp.Implementation, log *slog.Logger, cfgs []Config) (*Group, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("mcpbridge: a group needs at least one downstream server")
	}
	if impl == nil {
		impl = &mcp.Implementation{Name: "sint-mcpbridge", Version: "v1"}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, c := range cfgs {
		if err := ValidGroupServerName(c.ServerName); err != nil {
			return nil, fmt.Errorf("mcpbridge: %w", err)
		}
		if seen[c.ServerName] {
			return nil, fmt.Errorf("mcpbridge: server name %q given twice", c.ServerName)
		}
		seen[c.ServerName] = true
	}
	g := &Group{server: mcp.NewServer(impl, &mcp.ServerOptions{Logger: log}), log: log}
	for _, c := range cfgs {
		b, err := newBridge(ctx, c, g.server, c.ServerName+GroupSeparator)
		if err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("mcpbridge: server %s: %w", c.ServerName, err)
		}
		g.bridges = append(g.bridges, b)
	}
	return g, nil
}

// Bridges returns the group's bridges, in the order of NewGroup's cfgs.
func (g *Group) Bridges() []*Bridge { return g.bridges }

// Close closes every bridge; it returns the first error.
func (g *Group) Close() error {
	var first error
	for _, b := range g.bridges {
		if err := b.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Run serves the group on upstream as Bridge.Run does: every bridge's
// e-stop watch runs, and on return every bridge is latched.
func (g *Group) Run(ctx context.Context, upstream mcp.Transport) error {
	return runSession(ctx, g.server, g.bridges, upstream)
}

// ServeHTTP serves the group over streamable HTTP as Bridge.ServeHTTP does.
func (g *Group) ServeHTTP(ctx context.Context, ln net.Listener, o HTTPOptions) error {
	return serveHTTP(ctx, g.server, g.bridges, g.log, ln, o)
}

// Reset is Bridge.Reset on every bridge; it reports whether any was fault
// latched.
func (g *Group) Reset(reason string) bool {
	was := false
	for _, b := range g.bridges {
		if b.Reset(reason) {
			was = true
		}
	}
	return was
}
