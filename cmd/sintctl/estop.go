package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/estop"
)

// estopState is the body of GET /v1/estop and of trip/reset answers
// (PROTOCOL.md §8).
type estopState struct {
	State   string `json:"state"`
	Epoch   uint64 `json:"epoch"`
	Since   int64  `json:"since"`
	Reason  string `json:"reason"`
	Sources []struct {
		ID    string `json:"id"`
		Kind  string `json:"kind"`
		State string `json:"state"`
		Since int64  `json:"since"`
	} `json:"sources"`
}

var estopReason string

var estopCmd = &cobra.Command{
	Use:   "estop",
	Short: "Show, trip or reset the e-stop breaker",
	Long: `Show, trip or reset the gateway's e-stop breaker (PROTOCOL.md §8).

A trip is never blocked and is idempotent. A reset needs scope estop:reset and
every latched source clear: a held button or a lost controller makes the
gateway answer 409, and sintctl prints the sources that still hold it.

Exit codes: 0 success, 1 usage or local error, 2 the gateway refused or failed.`,
}

var estopStatusCmd = &cobra.Command{
	Use:   "status",
	Short: "Show the breaker state, epoch and sources (GET /v1/estop)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		return estopCall(cmd, http.MethodGet, "/v1/estop", nil)
	},
}

var estopTripCmd = &cobra.Command{
	Use:   "trip [reason...]",
	Short: "Trip the breaker (POST /v1/estop/trip, scope estop:trip)",
	RunE: func(cmd *cobra.Command, args []string) error {
		return estopCall(cmd, http.MethodPost, "/v1/estop/trip", map[string]string{"reason": estopReasonFrom(args, "tripped with sintctl")})
	},
}

var estopResetCmd = &cobra.Command{
	Use:   "reset [reason...]",
	Short: "Re-arm the breaker (POST /v1/estop/reset, scope estop:reset)",
	RunE: func(cmd *cobra.Command, args []string) error {
		r := estopReasonFrom(args, "")
		if r == "" {
			return &exitError{code: exitLocal, err: fmt.Errorf("a reset needs a reason: --reason or arguments")}
		}
		return estopCall(cmd, http.MethodPost, "/v1/estop/reset", map[string]string{"reason": r})
	},
}

func init() {
	for _, c := range []*cobra.Command{estopTripCmd, estopResetCmd} {
		c.Flags().StringVarP(&estopReason, "reason", "r", "", "reason recorded in the ledger")
	}
	estopCmd.AddCommand(estopStatusCmd, estopTripCmd, estopResetCmd)
	rootCmd.AddCommand(estopCmd)
}

func estopReasonFrom(args []string, def string) string {
	if estopReason != "" {
		return estopReason
	}
	if len(args) > 0 {
		return strings.Join(args, " ")
	}
	return def
}

func estopCall(cmd *cobra.Command, method, path string, body any) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(flagURL, "/")+path, rd)
	if err != nil {
		return &exitError{code: exitLocal, err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if k := apiKey(); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return &exitError{code: exitServer, err: fmt.Errorf("gateway unreachable: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &exitError{code: exitServer, err: err}
	}
	out := cmd.OutOrStdout()
	if resp.StatusCode/100 != 2 {
		if flagOutput == "json" {
			out.Write(raw)
			fmt.Fprintln(out)
		}
		return &exitError{code: exitServer, err: estopHTTPError(resp.StatusCode, raw)}
	}
	if flagOutput == "json" {
		out.Write(raw)
		fmt.Fprintln(out)
		return nil
	}
	var st estopState
	if err := json.Unmarshal(raw, &st); err != nil {
		return &exitError{code: exitServer, err: fmt.Errorf("unreadable answer: %w", err)}
	}
	estopPrint(out, st)
	return nil
}

func estopPrint(w io.Writer, st estopState) {
	ms := func(v int64) string { return time.UnixMilli(v).UTC().Format(time.RFC3339Nano) }
	fmt.Fprintf(w, "state:  %s\nepoch:  %d\nsince:  %s\n", st.State, st.Epoch, ms(st.Since))
	if st.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", st.Reason)
	}
	if len(st.Sources) > 0 {
		fmt.Fprintln(w, "sources:")
		for _, s := range st.Sources {
			fmt.Fprintf(w, "  %-10s %-24s %-24s since %s\n", s.Kind, s.ID, sourceLabel(s.Kind, s.State), ms(s.Since))
		}
	}
}

// sourceLabel says what a source's wire state means for a reset. On the wire
// a source's state is its latch (estop.SourceTripped "tripped": it holds the
// breaker and blocks a reset; "clear": it does not), not whether it tripped
// the breaker — every listed source did. Printing "clear" under a tripped
// breaker reads as "nothing tripped it", so the text names the latch instead:
// a momentary source (api, anomaly, replica) tripped once and never holds; a
// latching one (gpio, controller) is "released" once the hardware is healthy.
func sourceLabel(kind, state string) string {
	switch {
	case state == estop.SourceTripped:
		return "latched (blocks reset)"
	case state != estop.SourceClear:
		return state
	case estop.Latching(kind):
		return "released"
	default:
		return "momentary"
	}
}

// estopHTTPError renders a §5.4 error body. For a refused reset (409) it
// names the latched sources, read from error.sources (or a top-level
// sources), each either a "kind:id" string or an {"id","kind"} object.
func estopHTTPError(status int, raw []byte) error {
	var body struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Sources []json.RawMessage `json:"sources"`
		} `json:"error"`
		Sources []json.RawMessage `json:"sources"`
	}
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		return httpErrorFromBody(status, raw)
	}
	msg := body.Error.Message
	srcs := body.Error.Sources
	if len(srcs) == 0 {
		srcs = body.Sources
	}
	if status == http.StatusConflict && len(srcs) > 0 {
		names := make([]string, 0, len(srcs))
		for _, r := range srcs {
			var name string
			var obj struct{ ID, Kind string }
			if json.Unmarshal(r, &name) != nil {
				if json.Unmarshal(r, &obj) != nil {
					continue
				}
				name = obj.Kind + ":" + obj.ID
			}
			names = append(names, name)
		}
		msg += "\nstill latched: " + strings.Join(names, ", ")
	}
	return newHTTPError(status, body.Error.Code, msg)
}
