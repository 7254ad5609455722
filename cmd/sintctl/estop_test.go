package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeEstopGateway answers the three e-stop endpoints and records requests.
func fakeEstopGateway(t *testing.T, latched bool) (*httptest.Server, *[]string) {
	return fakeEstopGatewayBody(t, latched, `{"error":{"code":"CONFLICT","message":"sources still latched","sources":[{"id":"GPIO17","kind":"gpio","state":"tripped","since":1}]}}`)
}

func fakeEstopGatewayBody(t *testing.T, latched bool, conflict string) (*httptest.Server, *[]string) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/estop/reset" && latched:
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, conflict)
		default:
			io.WriteString(w, `{"state":"tripped","epoch":3,"since":1763928000000,"reason":"op","sources":[{"id":"alice","kind":"api","state":"clear","since":1763928000000}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func estopRunCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs(args)
	estopReason, flagOutput, flagAPIKey = "", "text", ""
	err := rootCmd.Execute()
	return out.String(), err
}

func TestEstopCommands(t *testing.T) {
	t.Run("status/text", func(t *testing.T) {
		srv, seen := fakeEstopGateway(t, false)
		out, err := estopRunCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "estop", "status")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "state:  tripped") || !strings.Contains(out, "epoch:  3") || !strings.Contains(out, "alice") {
			t.Fatalf("output:\n%s", out)
		}
		if (*seen)[0] != "GET /v1/estop Bearer sk_a_b " {
			t.Fatalf("request %q", (*seen)[0])
		}
	})
	t.Run("trip/sends-reason", func(t *testing.T) {
		srv, seen := fakeEstopGateway(t, false)
		out, err := estopRunCLI(t, "--url", srv.URL, "--api-key", "k", "-o", "json", "estop", "trip", "--reason", "smoke in cell 1")
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("json output %q", out)
		}
		if (*seen)[0] != `POST /v1/estop/trip Bearer k {"reason":"smoke in cell 1"}` {
			t.Fatalf("request %q", (*seen)[0])
		}
	})
	t.Run("deny/reset-409-names-sources", func(t *testing.T) {
		srv, _ := fakeEstopGateway(t, true)
		_, err := estopRunCLI(t, "--url", srv.URL, "estop", "reset", "all", "clear")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitServer || !strings.Contains(err.Error(), "gpio:GPIO17") {
			t.Fatalf("err %v, want exit 2 naming gpio:GPIO17", err)
		}
	})
	t.Run("deny/reset-409-string-sources", func(t *testing.T) {
		// the gateway's form: "kind:id" strings
		srv, _ := fakeEstopGatewayBody(t, true, `{"error":{"code":"CONFLICT","message":"latched sources must clear before reset","sources":["gpio:GPIO17","controller:controller"]}}`)
		_, err := estopRunCLI(t, "--url", srv.URL, "estop", "reset", "-r", "x")
		if err == nil || !strings.Contains(err.Error(), "still latched: gpio:GPIO17, controller:controller") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("usage/reset-needs-reason", func(t *testing.T) {
		srv, seen := fakeEstopGateway(t, false)
		_, err := estopRunCLI(t, "--url", srv.URL, "estop", "reset")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitLocal || len(*seen) != 0 {
			t.Fatalf("err %v, requests %v", err, *seen)
		}
	})
}

// TestEstopSourcesNeverClearWhileTripped guards issue 19 §5: a tripped breaker
// listed its momentary api source as "clear". The wire state of a source is
// its latch, so the text names the latch: momentary, latched or released.
func TestEstopSourcesNeverClearWhileTripped(t *testing.T) {
	body := `{"state":"tripped","epoch":4,"since":1763928000000,"reason":"smoke","sources":[` +
		`{"id":"operator:admin","kind":"api","state":"clear","since":1763928000000},` +
		`{"id":"GPIO17","kind":"gpio","state":"tripped","since":1763928000000},` +
		`{"id":"controller","kind":"controller","state":"clear","since":1763928000000}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"status", []string{"estop", "status"}},
		{"trip", []string{"estop", "trip", "smoke"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := estopRunCLI(t, append([]string{"--url", srv.URL, "--api-key", "k"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "clear") {
				t.Fatalf("a source is listed as clear under a tripped breaker:\n%s", out)
			}
			for _, want := range []string{"operator:admin           momentary", "GPIO17                   latched (blocks reset)", "controller               released"} {
				if !strings.Contains(out, want) {
					t.Fatalf("missing %q in:\n%s", want, out)
				}
			}
		})
	}
	t.Run("json-unchanged", func(t *testing.T) {
		out, err := estopRunCLI(t, "--url", srv.URL, "-o", "json", "estop", "status")
		if err != nil || strings.TrimSpace(out) != body {
			t.Fatalf("err %v, json output changed:\n%s", err, out)
		}
	})
}
