// Package apptest starts a real gateway in-process for the tests of other
// packages (bridges, clients, binaries): an initialised data directory, the
// gateway built from it with a given policy, served on a loopback port.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/internal/app"
)

// Gateway is one gateway served in-process on a loopback port.
type Gateway struct {
	T        testing.TB
	G        *app.Gateway
	URL      string // http://127.0.0.1:port
	AdminKey string // the first admin API key of the data directory

	stopped atomic.Bool
}

// Start initialises a data directory under t.TempDir, builds a gateway on it
// with the policy file at policyPath and serves it; it stops at cleanup.
func Start(t testing.TB, policyPath string) *Gateway {
	t.Helper()
	dir := t.TempDir()
	res, created, err := app.InitDataDir(context.Background(), dir, time.Now())
	if err != nil || !created {
		t.Fatalf("init: created=%v err=%v", created, err)
	}
	g, err := app.Build(context.Background(), app.Options{DataDir: dir, PolicyPath: policyPath})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	h := &Gateway{T: t, G: g, URL: "http://" + ln.Addr().String(), AdminKey: res.AdminAPIKey}
	t.Cleanup(h.Stop)
	return h
}

// Stop shuts the gateway down (a killed gateway, as far as clients see).
// Idempotent.
func (h *Gateway) Stop() {
	if h.stopped.Swap(true) {
		return
	}
	_ = h.G.Server.App.ShutdownWithTimeout(5 * time.Second)
	_ = h.G.Close()
}

// Admin calls an operator endpoint with the admin key, decodes a JSON
// answer into out (when not nil) and returns the status.
func (h *Gateway) Admin(method, path string, in, out any) int {
	h.T.Helper()
	var body []byte
	if in != nil {
		body, _ = json.Marshal(in)
	}
	req, _ := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			h.T.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}
