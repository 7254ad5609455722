package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// fakeOperatorGateway answers every request with reply and records
// "METHOD path?query body".
func fakeOperatorGateway(t *testing.T, reply string) (*httptest.Server, *[]string) {
	var seen []string
	up := websocket.Upgrader{Subprotocols: []string{"sint.v1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/risk/stream" {
			if r.Header.Get("Authorization") != "Bearer sk_a_b" {
				w.WriteHeader(401)
				return
			}
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			_, msg, _ := c.ReadMessage()
			seen = append(seen, "WS "+string(msg))
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"filter","ok":true}`))
			_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"decision","event":{"at":1,"agentId":"aa","decision":"deny","tier":3,"code":"GOAL_HIJACK","risk":1,"resource":"ros:///x","action":"publish"}}`))
			_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			_ = c.Close()
			return
		}
		body, _ := io.ReadAll(r.Body)
		q := ""
		if r.URL.RawQuery != "" {
			q = "?" + r.URL.RawQuery
		}
		seen = append(seen, r.Method+" "+r.URL.Path+q+" "+string(body))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func runCLI(t *testing.T, args ...string) error {
	t.Helper()
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetArgs(args)
	flagOutput, flagAPIKey = "text", ""
	return rootCmd.Execute()
}

func TestOperatorCommands(t *testing.T) {
	pub := strings.Repeat("ab", 32)
	cases := []struct {
		name  string
		args  []string
		reply string
		want  string
	}{
		{"agents/register", []string{"agents", "register", pub, "arm-1", "--owner", "cell-7", "--labels", "robot=ur5", "--capabilities", "a,b"}, `{"agentId":"` + pub + `","name":"arm-1"}`,
			`POST /v1/discovery/agents/register {"capabilities":["a","b"],"labels":{"robot":"ur5"},"name":"arm-1","owner":"cell-7","publicKey":"` + pub + `"}`},
		{"agents/list-filtered", []string{"agents", "list", "--owner", "cell-7", "--label", "robot=ur5"}, `{"agents":[]}`, `GET /v1/discovery/agents?label=robot%3Dur5&owner=cell-7 `},
		{"agents/get", []string{"agents", "get", pub}, `{"agentId":"` + pub + `"}`, `GET /v1/discovery/agents/` + pub + ` `},
		{"agents/deregister", []string{"agents", "deregister", pub}, `{"agentId":"` + pub + `","revoked":["t1"]}`, `DELETE /v1/discovery/agents/` + pub + ` `},
		{"budget/set", []string{"budget", "set", pub, "100", "--idempotency-key", "k1"}, `{"transaction":{"balanceAfter":100,"amount":100},"replayed":false}`, `PUT /v1/economy/budgets/` + pub + ` {"balance":100,"idempotencyKey":"k1"}`},
		{"budget/show", []string{"budget", "show", pub}, `{"balance":3}`, `GET /v1/economy/balance?agentId=` + pub + ` `},
		{"risk/snapshot", []string{"risk", "snapshot"}, `{"agents":[],"alerts":[]}`, `GET /v1/risk/snapshot `},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, seen := fakeOperatorGateway(t, c.reply)
			if err := runCLI(t, append([]string{"--url", srv.URL, "--api-key", "sk_a_b"}, c.args...)...); err != nil {
				t.Fatal(err)
			}
			if len(*seen) != 1 || strings.TrimSpace((*seen)[0]) != strings.TrimSpace(c.want) {
				t.Fatalf("requests %q, want %q", *seen, c.want)
			}
		})
	}
	t.Run("risk/watch-sends-filter", func(t *testing.T) {
		srv, seen := fakeOperatorGateway(t, "")
		if err := runCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "risk", "watch", "--min-risk", "0.5", "--agent", pub); err != nil {
			t.Fatal(err)
		}
		if len(*seen) != 1 || !strings.Contains((*seen)[0], `"minRisk":0.5`) || !strings.Contains((*seen)[0], pub) {
			t.Fatalf("%q", *seen)
		}
	})
	t.Run("budget/set-bad-balance-local-error", func(t *testing.T) {
		srv, seen := fakeOperatorGateway(t, "{}")
		if err := runCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "budget", "set", pub, "-5"); err == nil || len(*seen) != 0 {
			t.Fatalf("err=%v requests=%q", err, *seen)
		}
	})
}
