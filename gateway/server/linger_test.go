package server

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway"
)

// TestOversizeBodyGetsItsDecision: a body over the limit is refused from
// its Content-Length before it is read; the client, still writing, must
// receive the 413 decision and not a connection reset.
func TestOversizeBodyGetsItsDecision(t *testing.T) {
	s := newTestServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.App.Shutdown() })

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tc := range []struct {
		name string
		size int
	}{
		{"just-over", gateway.MaxBodyBytes + 1},
		{"70KiB", 70 << 10},
		{"512KiB", 512 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("a"), tc.size)
			for i := range 40 {
				resp, err := client.Post("http://"+ln.Addr().String()+"/v1/intercept", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Fatalf("attempt %d: %v", i, err)
				}
				var d api.Decision
				err = json.NewDecoder(resp.Body).Decode(&d)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 413 || d.Decision != api.Deny || d.Code == nil || *d.Code != "MALFORMED_REQUEST" {
					t.Fatalf("attempt %d: %d %+v %v", i, resp.StatusCode, d, err)
				}
			}
		})
	}
}
