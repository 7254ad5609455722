package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/internal/keyfile"
)

var interceptFlags struct {
	agentKey, tokenID, tokenFile, chainFile, resource, action, params, context string
	wait                                                                       bool
	waitTimeout                                                                time.Duration
}

// readArg returns s, or the contents of the file when s is @file.
func readArg(s string) (string, error) {
	if f, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(f)
		return strings.TrimSpace(string(b)), err
	}
	return s, nil
}

var interceptCmd = &cobra.Command{
	Use:   "intercept",
	Short: "Build, sign and send an intercept as an agent; print the decision",
	Long: `Build, sign and send POST /v1/intercept with an agent key and print the decision.

With --wait, an escalation is followed to its end: sintctl long-polls the
approval (POST /v1/approvals/{id}/wait) until an operator approves or denies
it (sintctl approvals approve ID), or it expires, and prints the final
decision: on approval, allow with the attestation signed for this request.
With -o json only that final decision is printed. Without --wait, the agent
collects it later with sintctl approvals wait ID --agent-key FILE.

Text output names the ledger entry of the decision (ledger #N eventId …),
which sintctl ledger proof takes, as it takes #N or the printed requestId.

Exit codes: 0 allow, 3 deny, 4 escalate (still pending), 1 local error,
2 server or network error.`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		f := interceptFlags
		if f.agentKey == "" {
			return &exitError{exitLocal, errors.New("--agent-key is required")}
		}
		k, err := keyfile.Load(f.agentKey)
		if err != nil {
			return &exitError{exitLocal, err}
		}
		r := api.InterceptRequest{TokenID: f.tokenID, Resource: f.resource, Action: f.action}
		if f.tokenFile != "" {
			if r.Token, err = readArg("@" + f.tokenFile); err != nil {
				return &exitError{exitLocal, err}
			}
		}
		if f.chainFile != "" {
			b, err := os.ReadFile(f.chainFile)
			if err != nil {
				return &exitError{exitLocal, err}
			}
			r.Chain = append(r.Chain, strings.Fields(string(b))...)
		}
		if f.params != "" {
			p, err := readArg(f.params)
			if err != nil {
				return &exitError{exitLocal, err}
			}
			if !json.Valid([]byte(p)) {
				return &exitError{exitLocal, errors.New("--params is not valid JSON")}
			}
			r.Params = json.RawMessage(p)
		}
		if f.context != "" {
			var pc api.PhysicalContext
			if err := json.Unmarshal([]byte(f.context), &pc); err != nil {
				return &exitError{exitLocal, fmt.Errorf("--context: %w", err)}
			}
			r.PhysicalContext = &pc
		}
		// The HTTP timeout exceeds the gateway's 30 s approval long-poll.
		a := &client.Agent{BaseURL: flagURL, Key: k.Private, HTTP: &http.Client{Timeout: 45 * time.Second}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, status, err := a.Intercept(ctx, r)
		if err != nil && d == nil {
			return &exitError{exitServer, asHTTPError(err)}
		}
		if d.Decision != api.Escalate || !f.wait || d.ApprovalID == nil || flagOutput != "json" {
			_ = printOut(d, func() { printDecision(cmd.OutOrStdout(), d, status) })
		}
		if d.Decision == api.Escalate && f.wait && d.ApprovalID != nil {
			id := *d.ApprovalID
			fmt.Fprintf(cmd.ErrOrStderr(), "waiting for approval %s (an operator approves it with: sintctl approvals approve %s)\n", id, id)
			wctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			if f.waitTimeout > 0 {
				var c context.CancelFunc
				wctx, c = context.WithTimeout(wctx, f.waitTimeout)
				defer c()
			}
			d, status, err = a.AwaitApproval(wctx, id)
			if err != nil && (d == nil || d.Decision == api.Escalate) {
				if wctx.Err() != nil {
					return &exitError{exitEscalate, fmt.Errorf("stopped waiting: approval %s is still pending (wait again with: sintctl approvals wait %s --agent-key …)", id, id)}
				}
				return &exitError{exitServer, asHTTPError(err)}
			}
			_ = printOut(d, func() { printDecision(cmd.OutOrStdout(), d, status) })
		}
		return decisionExit(d, status)
	},
}

// printDecision writes a decision as text: the verdict, then the ledger
// entry that records it (its eventId is what sintctl ledger proof takes),
// the approval to wait for, and the attestation.
func printDecision(w io.Writer, d *api.Decision, status int) {
	fmt.Fprintf(w, "%s (HTTP %d) tier %d", d.Decision, status, d.Tier)
	if d.Code != nil {
		fmt.Fprintf(w, " %s", *d.Code)
	}
	if d.Reason != nil {
		fmt.Fprintf(w, ": %s", *d.Reason)
	}
	fmt.Fprintln(w)
	if d.RequestID != nil {
		fmt.Fprintf(w, "request %s\n", *d.RequestID)
	}
	if d.ApprovalID != nil {
		fmt.Fprintf(w, "approval %s\n", *d.ApprovalID)
	}
	if d.Ledger != nil {
		fmt.Fprintf(w, "ledger #%d eventId %s hash %s\n", d.Ledger.Sequence, d.Ledger.EventID, d.Ledger.Hash)
	}
	if d.Attestation != nil {
		fmt.Fprintf(w, "attestation %s\n", *d.Attestation)
	}
}

// decisionExit maps a decision to the exit code: 0 allow, 3 deny (with the
// refusal as "CODE (HTTP n): reason"), 4 escalate.
func decisionExit(d *api.Decision, status int) error {
	switch d.Decision {
	case api.Allow:
		return nil
	case api.Escalate:
		id := ""
		if d.ApprovalID != nil {
			id = *d.ApprovalID
		}
		return &exitError{exitEscalate, fmt.Errorf("escalated: approval %s is pending; an operator approves it with `sintctl approvals approve %s`; wait for it and the attestation with `sintctl approvals wait %s --agent-key …` (or intercept --wait)", id, id, id)}
	}
	code, reason := "", ""
	if d.Code != nil {
		code = *d.Code
	}
	if d.Reason != nil {
		reason = *d.Reason
	}
	return &exitError{exitDeny, newHTTPError(status, code, reason)}
}

func init() {
	f := interceptCmd.Flags()
	f.StringVar(&interceptFlags.agentKey, "agent-key", "", "agent key file (made by sintctl keys gen)")
	f.StringVar(&interceptFlags.tokenID, "token-id", "", "id of a registered token")
	f.StringVar(&interceptFlags.tokenFile, "token-file", "", "file with the token JWS, sent inline")
	f.StringVar(&interceptFlags.chainFile, "chain-file", "", "file with ancestor JWS, one per line, root first")
	f.StringVar(&interceptFlags.resource, "resource", "", "resource, e.g. ros:///cmd_vel")
	f.StringVar(&interceptFlags.action, "action", "publish", "action")
	f.StringVar(&interceptFlags.params, "params", "", "params JSON object (or @file)")
	f.StringVar(&interceptFlags.context, "context", "", "physicalContext JSON object")
	f.BoolVar(&interceptFlags.wait, "wait", false, "on escalate, wait for the approval and print the final decision (and attestation)")
	f.DurationVar(&interceptFlags.waitTimeout, "wait-timeout", 0, "with --wait, stop waiting after this long (0: until the approval is resolved or expires)")
	rootCmd.AddCommand(interceptCmd)
}
