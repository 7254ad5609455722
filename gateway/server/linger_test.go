package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

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

// decisionKeys are the ten keys of every decision body (PROTOCOL.md §5.2).
var decisionKeys = []string{"requestId", "decision", "tier", "code", "reason", "approvalId", "attestation", "envelope", "ledger", "policyHash"}

// rawExchange writes req on a fresh connection (in the background, so a
// server answering before it read everything is exercised) and reads the
// one answer.
func rawExchange(t *testing.T, addr, req string) (*http.Response, map[string]json.RawMessage) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = io.WriteString(c, req) }()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%d: body is not a JSON object: %v", resp.StatusCode, err)
	}
	return resp, m
}

// TestUnreadableInterceptGetsADecision: every refusal on /v1/intercept is
// a decision body, including those fasthttp makes before any handler runs.
// A header over the read buffer (431) loses the path (fasthttp resets the
// header), so such an answer carries both the decision and the error body;
// a client still writing a huge header must get it, not a reset.
func TestUnreadableInterceptGetsADecision(t *testing.T) {
	s := newTestServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.App.Shutdown() })
	addr := ln.Addr().String()
	header := func(n int) string { return "X-Pad: " + strings.Repeat("a", n) + "\r\n" }
	body := `{"requestId":"x"}`
	cases := []struct {
		name, req string
		status    int
		errorBody bool // the §5.4 error member is present too (path unknown)
		attempts  int
	}{
		{name: "431/header-just-over-the-buffer/intercept", status: 431, errorBody: true, attempts: 5,
			req: "POST /v1/intercept HTTP/1.1\r\nHost: gw\r\n" + header(MaxHeaderBytes) + "Content-Length: 17\r\n\r\n" + body},
		{name: "431/header-64KiB/intercept", status: 431, errorBody: true, attempts: 20,
			req: "POST /v1/intercept HTTP/1.1\r\nHost: gw\r\n" + header(64<<10) + "Content-Length: 17\r\n\r\n" + body},
		{name: "431/header-512KiB/intercept", status: 431, errorBody: true, attempts: 20,
			req: "POST /v1/intercept HTTP/1.1\r\nHost: gw\r\n" + header(512<<10) + "Content-Length: 17\r\n\r\n" + body},
		{name: "431/request-line-over-the-buffer", status: 431, errorBody: true, attempts: 5,
			req: "POST /v1/intercept?" + strings.Repeat("q", 2*MaxHeaderBytes) + " HTTP/1.1\r\nHost: gw\r\nContent-Length: 17\r\n\r\n" + body},
		{name: "431/operator-endpoint-keeps-its-error", status: 431, errorBody: true, attempts: 5,
			req: "GET /v1/estop HTTP/1.1\r\nHost: gw\r\n" + header(MaxHeaderBytes) + "\r\n"},
		{name: "400/malformed-http", status: 400, errorBody: true, attempts: 5,
			req: "POST /v1/intercept HTTP/1.1\r\nHost: gw\r\nContent-Length: nope\r\n\r\n" + body},
		{name: "405/wrong-method", status: 405, attempts: 5,
			req: "GET /v1/intercept HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"},
		{name: "413/body-over-the-limit", status: 413, attempts: 5,
			req: fmt.Sprintf("POST /v1/intercept HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", gateway.MaxBodyBytes+1) + strings.Repeat("a", gateway.MaxBodyBytes+1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.attempts {
				resp, m := rawExchange(t, addr, tc.req)
				if resp.StatusCode != tc.status {
					t.Fatalf("attempt %d: status %d, want %d (%v)", i, resp.StatusCode, tc.status, m)
				}
				if resp.Header.Get(api.HeaderProtocol) != api.Protocol {
					t.Fatalf("attempt %d: no %s header", i, api.HeaderProtocol)
				}
				for _, k := range decisionKeys {
					if _, ok := m[k]; !ok {
						t.Fatalf("attempt %d: decision key %q missing: %v", i, k, m)
					}
				}
				if string(m["decision"]) != `"deny"` || string(m["code"]) != `"MALFORMED_REQUEST"` ||
					string(m["requestId"]) != "null" || string(m["ledger"]) != "null" || string(m["tier"]) != "0" {
					t.Fatalf("attempt %d: not a MALFORMED_REQUEST deny: %v", i, m)
				}
				if strings.Contains(string(m["reason"]), "intercept") {
					t.Fatalf("attempt %d: the reason quotes the request back: %s", i, m["reason"])
				}
				if _, ok := m["error"]; ok != tc.errorBody {
					t.Fatalf("attempt %d: error member present = %v, want %v", i, ok, tc.errorBody)
				}
			}
		})
	}
}
