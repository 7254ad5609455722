package mcpbridge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
)

// TestStreamableHTTPAgent serves the bridge over MCP streamable HTTP and
// drives it with the Go SDK's streamable HTTP client: the tools are
// listed, an allowed call reaches the downstream tool, a denied one does
// not, and a request without the bearer token (or with another) is
// refused before it reaches an MCP session.
func TestStreamableHTTPAgent(t *testing.T) {
	r := newRig(t, rigOpts{http: true})

	t.Run("list", func(t *testing.T) {
		if _, ok := toolNames(t, r.agent)["readFile"]; !ok {
			t.Fatal("readFile not listed over streamable HTTP")
		}
	})
	t.Run("allowed", func(t *testing.T) {
		res := r.call("readFile", map[string]any{"path": "/etc/robot.yaml"})
		if res.IsError || contentText(res) != "contents of /etc/robot.yaml" {
			t.Fatalf("result: isError=%v %q", res.IsError, contentText(res))
		}
		if calls := r.rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
			t.Fatalf("downstream calls %+v", calls)
		}
	})
	t.Run("denied", func(t *testing.T) {
		o := outcome(t, r.call("deleteFile", map[string]any{"path": "/etc/robot.yaml"}))
		if o.Outcome != mcpbridge.OutcomeDeny || o.Code != "TIER_EXCEEDED" {
			t.Fatalf("outcome %+v", o)
		}
		if calls := r.rec.Calls(); len(calls) != 1 {
			t.Fatalf("the denied call reached the downstream server: %+v", calls)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
		for name, auth := range map[string]string{
			"no-header":    "",
			"wrong-token":  "Bearer " + strings.Repeat("x", len(httpToken)),
			"token-prefix": "Bearer " + httpToken[:len(httpToken)-1],
			"basic-scheme": "Basic " + httpToken,
			"token-suffix": "Bearer " + httpToken + "x",
		} {
			req, _ := http.NewRequest("POST", r.url, strings.NewReader(init))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Mcp-Session-Id") != "" {
				t.Errorf("%s: status %d session %q, want 401 and no session", name, resp.StatusCode, resp.Header.Get("Mcp-Session-Id"))
			}
		}
		_, err := mcp.NewClient(&mcp.Implementation{Name: "anon", Version: "v1"}, nil).Connect(context.Background(),
			&mcp.StreamableClientTransport{Endpoint: r.url, HTTPClient: httpClient(""), MaxRetries: -1}, nil)
		if err == nil {
			t.Fatal("a client without the token connected")
		}
		if calls := r.rec.Calls(); len(calls) != 1 {
			t.Fatalf("downstream calls %+v", calls)
		}
	})
	t.Run("stopped-latches", func(t *testing.T) {
		r.stop()
		if l, _ := r.bridge.Latched(); !l {
			t.Fatal("bridge not latched after ServeHTTP returned")
		}
	})
}

// TestHTTPTokenRules: the endpoint refuses a short token, and the token file
// must be private.
func TestHTTPTokenRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content string
		mode          os.FileMode
		ok            bool
	}{
		{"ok", httpToken + "\n", 0o600, true},
		{"group-readable", httpToken, 0o640, false},
		{"short", "tooshort", 0o600, false},
		{"two-lines", httpToken + "\n" + httpToken, 0o600, false},
		{"empty", "", 0o600, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := mcpbridge.LoadHTTPToken(write(tc.name, tc.content, tc.mode))
			if (err == nil) != tc.ok {
				t.Fatalf("LoadHTTPToken: %q, %v", tok, err)
			}
			if tc.ok && tok != httpToken {
				t.Fatalf("token %q", tok)
			}
		})
	}
	r := newRig(t, rigOpts{})
	if _, err := r.bridge.HTTPHandler(mcpbridge.HTTPOptions{Token: "short"}); err == nil {
		t.Fatal("HTTPHandler accepted a short token")
	}
	if _, err := r.bridge.HTTPHandler(mcpbridge.HTTPOptions{}); err == nil {
		t.Fatal("HTTPHandler accepted no token")
	}
}

// TestStreamableHTTPDownstream connects the bridge to a downstream server
// served over streamable HTTP by the Go SDK: its tools are mirrored and an
// allowed call reaches it, a denied one does not.
func TestStreamableHTTPDownstream(t *testing.T) {
	rec := mcpbridgetest.NewRecorder(nil)
	srv := mcpbridgetest.NewServer(rec)
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	t.Cleanup(hs.Close)
	down, err := mcpbridge.DownstreamHTTP(hs.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, rigOpts{downstream: down, http: true})
	if _, ok := toolNames(t, r.agent)["readFile"]; !ok {
		t.Fatal("readFile not mirrored from the HTTP downstream")
	}
	res := r.call("readFile", map[string]any{"path": "/a"})
	if res.IsError || contentText(res) != "contents of /a" {
		t.Fatalf("result: isError=%v %q", res.IsError, contentText(res))
	}
	o := outcome(t, r.call("deleteFile", map[string]any{"path": "/a"}))
	if o.Code != "TIER_EXCEEDED" {
		t.Fatalf("outcome %+v", o)
	}
	if calls := rec.Calls(); len(calls) != 1 || calls[0].Tool != "readFile" {
		t.Fatalf("downstream calls %+v", calls)
	}
	_ = time.Second
}
