package mcpbridge

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges"
)

// Bounds and defaults of the streamable HTTP side (ServeHTTP).
const (
	// MinHTTPTokenLen is the shortest bearer token HTTPOptions accepts
	// (32 bytes: e.g. `openssl rand -hex 32` gives 64).
	MinHTTPTokenLen = 32
	// MaxHTTPTokenFile bounds the token file LoadHTTPToken reads.
	MaxHTTPTokenFile = 4096
	// DefaultSessionTimeout closes an MCP session over streamable HTTP
	// after this long without a request from its client.
	DefaultSessionTimeout = 30 * time.Minute
)

// HTTPOptions configures the bridge's streamable HTTP endpoint.
type HTTPOptions struct {
	// Token is the bearer token every HTTP request must carry
	// (Authorization: Bearer <Token>); required, at least MinHTTPTokenLen
	// bytes. It is compared in constant time; a request without it, or
	// with another, is answered 401 and reaches neither the MCP session
	// nor the gateway.
	Token string
	// SessionTimeout: an idle session is closed after it; default
	// DefaultSessionTimeout.
	SessionTimeout time.Duration
}

// LoadHTTPToken reads the bearer token of the streamable HTTP endpoint
// from path: a regular file that group and others cannot access (chmod
// 600), holding one token of at least MinHTTPTokenLen bytes on one line.
func LoadHTTPToken(path string) (string, error) {
	tok, err := bridges.ReadSecretFile(path, "token file", MaxHTTPTokenFile)
	if err != nil {
		return "", err
	}
	if err := validHTTPToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return tok, nil
}

func validHTTPToken(tok string) error {
	switch {
	case len(tok) < MinHTTPTokenLen:
		return fmt.Errorf("bearer token shorter than %d bytes", MinHTTPTokenLen)
	case strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }):
		return errors.New("bearer token must be printable ASCII without spaces, on one line")
	}
	return nil
}

// HTTPHandler returns the bridge's MCP server as a streamable HTTP handler
// (the MCP specification's sessions, Mcp-Session-Id, and resumption of an
// interrupted stream from its Last-Event-ID, as the Go SDK implements
// them) behind the bearer token of o. Served on its own, there is no
// e-stop poll and no latch when serving stops: prefer ServeHTTP.
func (b *Bridge) HTTPHandler(o HTTPOptions) (http.Handler, error) {
	return httpHandler(b.server, b.cfg.Log, o)
}

func httpHandler(server *mcp.Server, log *slog.Logger, o HTTPOptions) (http.Handler, error) {
	if err := validHTTPToken(o.Token); err != nil {
		return nil, fmt.Errorf("mcpbridge: %w", err)
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = DefaultSessionTimeout
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{
		Logger:         log,
		EventStore:     mcp.NewMemoryEventStore(nil),
		SessionTimeout: o.SessionTimeout,
	})
	want := sha256.Sum256([]byte(o.Token))
	return http.NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !bearerOK(r.Header.Get("Authorization"), want) {
			log.Warn("streamable HTTP request refused: no valid bearer token", "remote", r.RemoteAddr, "method", r.Method)
			w.Header().Set("WWW-Authenticate", `Bearer realm="sint-mcpbridge"`)
			http.Error(w, "unauthorized: this MCP endpoint needs Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})), nil
}

// bearerOK reports whether header is "Bearer <token>" with the token whose
// SHA-256 is want. The hashes are compared in constant time, so neither the
// token's content nor its length shows in the timing.
func bearerOK(header string, want [sha256.Size]byte) bool {
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// ServeHTTP serves the bridge to agents over MCP streamable HTTP on ln
// (HTTPHandler) until ctx ends, with the e-stop watch of Run. Unlike Run,
// a client going away does not end it: any number of authenticated
// sessions come and go. On return the listener is closed and the bridge
// is latched for good, as after Run.
func (b *Bridge) ServeHTTP(ctx context.Context, ln net.Listener, o HTTPOptions) error {
	return serveHTTP(ctx, b.server, []*Bridge{b}, b.cfg.Log, ln, o)
}

// serveHTTP serves server over streamable HTTP for bridges (ServeHTTP,
// Group.ServeHTTP).
func serveHTTP(ctx context.Context, server *mcp.Server, bridges []*Bridge, log *slog.Logger, ln net.Listener, o HTTPOptions) error {
	h, err := httpHandler(server, log, o)
	if err != nil {
		_ = ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer latchAll(bridges, "bridge stopped")
	wait := watchAll(ctx, bridges)
	defer wait()
	defer cancel()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		latchAll(bridges, "bridge stopped")
		return fmt.Errorf("mcpbridge: serve HTTP: %w", err)
	case <-ctx.Done():
		// Latch first: it ends the approval waits and cancels the
		// downstream calls in flight; then the connections (and their
		// event streams) are closed.
		latchAll(bridges, "bridge stopped")
		_ = srv.Close()
		<-done
		return nil
	}
}

// DownstreamHTTP returns the transport to a downstream MCP server served
// over streamable HTTP at endpoint, for Config.Downstream. The endpoint is
// https, or http on a loopback address only (a tool call and its result
// never cross a network in clear). A non-empty token is sent as
// Authorization: Bearer <token> on every request. hc is the HTTP client
// (nil: one with no overall timeout, which a long tool call or the
// server's event stream needs). The transport does not reconnect a broken
// stream on its own behalf more than the SDK's default retries.
func DownstreamHTTP(endpoint, token string, hc *http.Client) (mcp.Transport, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("mcpbridge: downstream URL: %w", err)
	}
	switch {
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return nil, fmt.Errorf("mcpbridge: downstream URL %q: want http(s)://host[:port]/path", endpoint)
	case u.User != nil:
		return nil, errors.New("mcpbridge: downstream URL must not carry credentials (give a token file)")
	case u.Scheme == "http" && !IsLoopbackHost(u.Hostname()):
		return nil, fmt.Errorf("mcpbridge: downstream URL %q: plain http only to a loopback address; use https", endpoint)
	}
	if token != "" {
		if err := validHTTPToken(token); err != nil {
			return nil, fmt.Errorf("mcpbridge: downstream %w", err)
		}
	}
	if hc == nil {
		hc = &http.Client{}
	}
	if token != "" {
		c := *hc
		next := c.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		c.Transport = bearerTransport{token: token, next: next}
		hc = &c
	}
	return &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc}, nil
}

// bearerTransport adds Authorization: Bearer token to every request.
type bearerTransport struct {
	token string
	next  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// IsLoopbackHost reports whether host (a name or an IP address, without
// port) is "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
