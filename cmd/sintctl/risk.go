package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
)

// sintctl risk watch|snapshot.
func init() {
	riskCmd := &cobra.Command{Use: "risk", Short: "Live risk of agents' decisions"}
	var agent, resource string
	var minRisk float64
	watch := &cobra.Command{
		Use:   "watch",
		Short: "Stream scored decisions (scope read); Ctrl-C to stop",
		Long: "Opens the /v1/risk/stream WebSocket and prints every decision that passes the filter.\n" +
			"A client that cannot keep up is disconnected by the gateway (close 1008 \"too slow\").",
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			k := apiKey()
			if k == "" {
				return &exitError{exitLocal, errors.New("an API key is required: --api-key or SINT_API_KEY")}
			}
			u := strings.Replace(strings.Replace(flagURL, "https://", "wss://", 1), "http://", "ws://", 1) + "/v1/risk/stream"
			d := websocket.Dialer{Subprotocols: []string{"sint.v1"}}
			conn, resp, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + k}})
			if err != nil {
				if resp != nil {
					b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
					return &exitError{exitServer, httpErrorFromBody(resp.StatusCode, b)}
				}
				return &exitError{exitServer, err}
			}
			defer conn.Close()
			if err := conn.WriteJSON(map[string]any{"type": "filter", "agentId": agent, "resource": resource, "minRisk": minRisk}); err != nil {
				return &exitError{exitServer, err}
			}
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, os.Interrupt)
			defer signal.Stop(sig)
			go func() {
				<-sig
				_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				_ = conn.Close()
			}()
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					if websocket.IsCloseError(err, websocket.CloseNormalClosure) || errors.Is(err, websocket.ErrCloseSent) || strings.Contains(err.Error(), "use of closed") {
						return nil
					}
					return &exitError{exitServer, fmt.Errorf("risk stream ended: %w", err)}
				}
				var m struct {
					Type  string          `json:"type"`
					OK    *bool           `json:"ok"`
					Event json.RawMessage `json:"event"`
					Error json.RawMessage `json:"error"`
				}
				if json.Unmarshal(msg, &m) != nil {
					continue
				}
				if m.Type == "filter" {
					if m.OK != nil && !*m.OK {
						return &exitError{exitLocal, fmt.Errorf("filter rejected: %s", m.Error)}
					}
					continue
				}
				if flagOutput == "json" {
					fmt.Println(string(m.Event))
					continue
				}
				var e struct {
					At                                  int64
					AgentID, Resource, Action, Decision string
					Code                                string
					Tier                                int
					Risk                                float64
				}
				_ = json.Unmarshal(m.Event, &e)
				code := e.Code
				if code == "" {
					code = "-"
				}
				fmt.Printf("%d risk=%.3f %-8s tier=%d %-22s %.12s… %s %s\n", e.At, e.Risk, e.Decision, e.Tier, code, e.AgentID, e.Action, e.Resource)
			}
		},
	}
	watch.Flags().StringVar(&agent, "agent", "", "only this agent id")
	watch.Flags().StringVar(&resource, "resource", "", "only this resource (a trailing * matches a prefix)")
	watch.Flags().Float64Var(&minRisk, "min-risk", 0, "only decisions with at least this risk (0–1)")
	snapshot := &cobra.Command{
		Use: "snapshot", Short: "Per-agent current risk and recent alerts (scope read)", Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var out struct {
				Agents []struct {
					AgentID   string  `json:"agentId"`
					Risk      float64 `json:"risk"`
					Decisions uint64  `json:"decisions"`
					Denies    uint64  `json:"denies"`
				} `json:"agents"`
				Alerts []map[string]any `json:"alerts"`
			}
			var raw map[string]any
			if err := call("GET", "/v1/risk/snapshot", nil, &raw); err != nil {
				return err
			}
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &out)
			return printOut(raw, func() {
				for _, a := range out.Agents {
					fmt.Printf("%s risk=%.3f decisions=%d denies=%d\n", a.AgentID, a.Risk, a.Decisions, a.Denies)
				}
				fmt.Printf("%d recent alert(s)\n", len(out.Alerts))
			})
		},
	}
	riskCmd.AddCommand(watch, snapshot)
	rootCmd.AddCommand(riskCmd)
}
