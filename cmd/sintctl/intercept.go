package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/internal/keyfile"
)

var interceptFlags struct {
	agentKey, tokenID, tokenFile, chainFile, resource, action, params, context string
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

Exit codes: 0 allow, 3 deny, 4 escalate, 1 local error, 2 server or network error.`,
	Args: cobra.NoArgs,
	RunE: func(_ *cobra.Command, _ []string) error {
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
		a := &client.Agent{BaseURL: flagURL, Key: k.Private, HTTP: &http.Client{Timeout: 30 * time.Second}}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		d, status, err := a.Intercept(ctx, r)
		if err != nil && d == nil {
			return &exitError{exitServer, err}
		}
		_ = printOut(d, func() {
			fmt.Printf("%s (HTTP %d) tier %d", d.Decision, status, d.Tier)
			if d.Code != nil {
				fmt.Printf(" %s", *d.Code)
			}
			if d.Reason != nil {
				fmt.Printf(": %s", *d.Reason)
			}
			fmt.Println()
			if d.ApprovalID != nil {
				fmt.Printf("approval %s\n", *d.ApprovalID)
			}
			if d.Ledger != nil {
				fmt.Printf("ledger #%d %s\n", d.Ledger.Sequence, d.Ledger.Hash)
			}
			if d.Attestation != nil {
				fmt.Printf("attestation %s\n", *d.Attestation)
			}
		})
		switch d.Decision {
		case api.Allow:
			return nil
		case api.Escalate:
			return &exitError{exitEscalate, errors.New("escalated: waiting for approval " + *d.ApprovalID)}
		}
		return &exitError{exitDeny, errors.New("denied")}
	},
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
	rootCmd.AddCommand(interceptCmd)
}
