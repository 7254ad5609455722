package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/internal/keyfile"
)

// approvalRecord is GET /v1/approvals/{id} (PROTOCOL.md §7).
type approvalRecord struct {
	ApprovalID        string          `json:"approvalId"`
	State             string          `json:"state"`
	RequestID         string          `json:"requestId"`
	AgentID           string          `json:"agentId"`
	TokenID           string          `json:"tokenId"`
	Resource          string          `json:"resource"`
	Action            string          `json:"action"`
	Params            json.RawMessage `json:"params"`
	Tier              int             `json:"tier"`
	RequiredApprovals int             `json:"requiredApprovals"`
	Votes             []struct {
		OperatorID string `json:"operatorId"`
		Vote       string `json:"vote"`
		Reason     string `json:"reason"`
		At         int64  `json:"at"`
	} `json:"votes"`
	CreatedAt  int64           `json:"createdAt"`
	ExpiresAt  int64           `json:"expiresAt"`
	ResolvedAt *int64          `json:"resolvedAt"`
	Decision   json.RawMessage `json:"decision"`
}

var (
	approvalsState    string
	approvalsLimit    int
	approvalsReason   string
	approvalsStanding time.Duration
	approvalsLastID   uint64
	approvalsOnce     bool
)

var approvalsCmd = &cobra.Command{
	Use:   "approvals",
	Short: "List, show, approve, deny and watch escalated requests",
	Long: `Human approvals of escalated requests (PROTOCOL.md §7).

approve and deny need an API key with scope approve; the operator is the key's
operatorId. Tier 4 and 5 approvals need --reason; tier 5 needs two different
operators; a token's quorum may name who may vote (others get 403).

Exit codes: 0 success, 1 usage or local error, 2 the gateway refused or failed.`,
}

var approvalsListCmd = &cobra.Command{
	Use:   "list",
	Short: "List approvals, newest first (GET /v1/approvals)",
	Args:  cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		q := url.Values{}
		if approvalsState != "" {
			q.Set("state", approvalsState)
		}
		q.Set("limit", strconv.Itoa(approvalsLimit))
		var out struct {
			Approvals []approvalRecord `json:"approvals"`
		}
		if err := call(http.MethodGet, "/v1/approvals?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		return printOut(out, func() {
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%-36s  %-9s  %-4s  %-5s  %-24s  %s\n", "APPROVAL", "STATE", "TIER", "VOTES", "EXPIRES", "RESOURCE ACTION")
			for _, a := range out.Approvals {
				fmt.Fprintf(w, "%-36s  %-9s  %-4d  %d/%-3d  %-24s  %s %s\n", a.ApprovalID, a.State, a.Tier, approveVotes(a), a.RequiredApprovals,
					time.UnixMilli(a.ExpiresAt).UTC().Format(time.RFC3339), a.Resource, a.Action)
			}
		})
	},
}

func approveVotes(a approvalRecord) int {
	n := 0
	for _, v := range a.Votes {
		if v.Vote == "approve" {
			n++
		}
	}
	return n
}

var approvalsShowCmd = &cobra.Command{
	Use:   "show APPROVAL_ID",
	Short: "Show one approval with its votes and decision (GET /v1/approvals/{id})",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		var a approvalRecord
		if err := call(http.MethodGet, "/v1/approvals/"+url.PathEscape(args[0]), nil, &a); err != nil {
			return err
		}
		return printOut(a, func() { printApproval(cmd.OutOrStdout(), a) })
	},
}

func printApproval(w io.Writer, a approvalRecord) {
	fmt.Fprintf(w, "approval   %s\nstate      %s\nrequest    %s\nagent      %s\ntoken      %s\nresource   %s %s\ntier       %d (needs %d approval(s))\nparams     %s\ncreated    %s\nexpires    %s\n",
		a.ApprovalID, a.State, a.RequestID, a.AgentID, a.TokenID, a.Resource, a.Action, a.Tier, a.RequiredApprovals, a.Params,
		time.UnixMilli(a.CreatedAt).UTC().Format(time.RFC3339Nano), time.UnixMilli(a.ExpiresAt).UTC().Format(time.RFC3339Nano))
	for _, v := range a.Votes {
		fmt.Fprintf(w, "vote       %s %s at %s: %s\n", v.OperatorID, v.Vote, time.UnixMilli(v.At).UTC().Format(time.RFC3339), v.Reason)
	}
	if a.ResolvedAt != nil {
		fmt.Fprintf(w, "resolved   %s\n", time.UnixMilli(*a.ResolvedAt).UTC().Format(time.RFC3339Nano))
	}
	if len(a.Decision) > 0 && string(a.Decision) != "null" {
		fmt.Fprintf(w, "decision   %s\n", a.Decision)
	}
}

func voteCmd(kind string) *cobra.Command {
	c := &cobra.Command{
		Use:   kind + " APPROVAL_ID [reason...]",
		Short: strings.ToUpper(kind[:1]) + kind[1:] + " an approval (POST /v1/approvals/{id}/" + kind + ", scope approve)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reason := approvalsReason
			if reason == "" && len(args) > 1 {
				reason = strings.Join(args[1:], " ")
			}
			in := map[string]any{"reason": reason}
			if approvalsStanding != 0 {
				if kind != "approve" {
					return &exitError{exitLocal, errors.New("--standing applies to approve only")}
				}
				if approvalsStanding < 0 || approvalsStanding > time.Hour {
					return &exitError{exitLocal, errors.New("--standing must be between 0 and 1h")}
				}
				in["standingForMs"] = approvalsStanding.Milliseconds()
			}
			var a approvalRecord
			if err := call(http.MethodPost, "/v1/approvals/"+url.PathEscape(args[0])+"/"+kind, in, &a); err != nil {
				return err
			}
			return printOut(a, func() {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%d/%d approvals)\n", a.ApprovalID, a.State, approveVotes(a), a.RequiredApprovals)
			})
		},
	}
	c.Flags().StringVarP(&approvalsReason, "reason", "r", "", "written reason (required at tiers 4 and 5)")
	if kind == "approve" {
		c.Flags().DurationVar(&approvalsStanding, "standing", 0, "also approve later identical tier-3 requests for this long (≤ 1h)")
	}
	return c
}

var approvalsWatchCmd = &cobra.Command{
	Use:   "watch",
	Short: "Follow the approval stream live (GET /v1/approvals/stream, SSE)",
	Long: `Follow approval.requested, approval.resolved, estop.tripped and estop.reset
events as they happen. A dropped connection is resumed from the last event
(Last-Event-ID), so nothing is missed or repeated. With -o json each event is
one JSON line {"id","event","data"}. Stop with Ctrl-C.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		k := apiKey()
		if k == "" {
			return &exitError{exitLocal, errors.New("an API key is required: --api-key or SINT_API_KEY")}
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		last := approvalsLastID
		backoff := 250 * time.Millisecond
		for {
			n, err := watchOnce(ctx, cmd.OutOrStdout(), k, &last)
			if ctx.Err() != nil {
				return nil
			}
			var ee *exitError
			if errors.As(err, &ee) || approvalsOnce {
				return err
			}
			if n > 0 {
				backoff = 250 * time.Millisecond
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "sintctl: stream dropped (%v); resuming after %d\n", err, last)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
		}
	},
}

// watchOnce reads the stream until it ends; it returns how many events it
// printed. A refusal by the gateway is an *exitError (not retried).
func watchOnce(ctx context.Context, w io.Writer, key string, last *uint64) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(flagURL, "/")+"/v1/approvals/stream", nil)
	if err != nil {
		return 0, &exitError{exitLocal, err}
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	if *last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(*last, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &exitError{exitServer, httpErrorFromBody(resp.StatusCode, b)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id uint64
	var event, data string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event != "" {
				printEvent(w, id, event, data)
				*last = id
				n++
			}
			id, event, data = 0, "", ""
		case strings.HasPrefix(line, "id: "):
			id, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, io.ErrUnexpectedEOF
}

func printEvent(w io.Writer, id uint64, event, data string) {
	if flagOutput == "json" {
		b, _ := json.Marshal(map[string]any{"id": id, "event": event, "data": json.RawMessage(data)})
		fmt.Fprintln(w, string(b))
		return
	}
	var d struct {
		ApprovalID string `json:"approvalId"`
		State      string `json:"state"`
		Resource   string `json:"resource"`
		Action     string `json:"action"`
		Tier       int    `json:"tier"`
		Code       string `json:"code"`
		Reason     string `json:"reason"`
		Timestamp  string `json:"timestamp"`
	}
	_ = json.Unmarshal([]byte(data), &d)
	switch event {
	case "approval.requested":
		fmt.Fprintf(w, "%d  %s  requested  %s  tier %d  %s %s\n", id, d.Timestamp, d.ApprovalID, d.Tier, d.Resource, d.Action)
	case "approval.resolved":
		fmt.Fprintf(w, "%d  %s  %-9s  %s  %s\n", id, d.Timestamp, d.State, d.ApprovalID, strings.TrimSpace(d.Code+" "+d.Reason))
	default:
		fmt.Fprintf(w, "%d  %s  %s  %s\n", id, d.Timestamp, event, d.Reason)
	}
}

var approvalsWaitFlags struct {
	agentKey string
	timeout  time.Duration
}

var approvalsWaitCmd = &cobra.Command{
	Use:   "wait APPROVAL_ID --agent-key FILE",
	Short: "As the agent, wait for an approval and print the final decision with its attestation",
	Long: `As the agent whose request escalated, long-poll POST /v1/approvals/{id}/wait
until the approval is resolved and print the decision for the original
request: allow with the attestation signed for it, or deny with its code
(APPROVAL_DENIED, APPROVAL_TIMEOUT, APPROVAL_CANCELLED …). Same exit codes
as intercept: 0 allow, 3 deny, 4 still pending (--timeout reached).`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		if approvalsWaitFlags.agentKey == "" {
			return &exitError{exitLocal, errors.New("--agent-key is required (the key of the agent whose request escalated)")}
		}
		k, err := keyfile.Load(approvalsWaitFlags.agentKey)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		a := &client.Agent{BaseURL: flagURL, Key: k.Private, HTTP: &http.Client{Timeout: 45 * time.Second}}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if approvalsWaitFlags.timeout > 0 {
			var c context.CancelFunc
			ctx, c = context.WithTimeout(ctx, approvalsWaitFlags.timeout)
			defer c()
		}
		d, status, err := a.AwaitApproval(ctx, args[0])
		if err != nil && (d == nil || d.Decision == api.Escalate) {
			if ctx.Err() != nil {
				return &exitError{exitEscalate, fmt.Errorf("stopped waiting: approval %s is still pending", args[0])}
			}
			return &exitError{exitServer, asHTTPError(err)}
		}
		_ = printOut(d, func() { printDecision(cmd.OutOrStdout(), d, status) })
		return decisionExit(d, status)
	},
}

func init() {
	approvalsWaitCmd.Flags().StringVar(&approvalsWaitFlags.agentKey, "agent-key", "", "the agent's key file (made by sintctl keys gen)")
	approvalsWaitCmd.Flags().DurationVar(&approvalsWaitFlags.timeout, "timeout", 0, "stop waiting after this long (0: until resolved or expired)")
	approvalsListCmd.Flags().StringVar(&approvalsState, "state", "", "only this state: pending, approved, denied, expired, cancelled")
	approvalsListCmd.Flags().IntVar(&approvalsLimit, "limit", 100, "at most this many (≤ 1000)")
	approvalsWatchCmd.Flags().Uint64Var(&approvalsLastID, "last-event-id", 0, "resume after this ledger sequence (0 = live only)")
	approvalsWatchCmd.Flags().BoolVar(&approvalsOnce, "once", false, "exit when the stream ends instead of resuming")
	approvalsCmd.AddCommand(approvalsListCmd, approvalsShowCmd, voteCmd("approve"), voteCmd("deny"), approvalsWatchCmd, approvalsWaitCmd)
	rootCmd.AddCommand(approvalsCmd)
}
