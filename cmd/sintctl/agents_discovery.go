package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// sintctl agents register|list|get|deregister (discovery, PROTOCOL.md §10).
func init() {
	var owner, labels, caps string
	register := &cobra.Command{
		Use:   "register PUBLIC_KEY NAME",
		Short: "Register an agent, or update its name, owner, labels and capabilities (scope agents:write)",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			body := map[string]any{"publicKey": args[0], "name": args[1]}
			if owner != "" {
				body["owner"] = owner
			}
			if labels != "" {
				m := map[string]string{}
				for _, kv := range strings.Split(labels, ",") {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return &exitError{exitLocal, fmt.Errorf("--labels wants key=value,key=value")}
					}
					m[k] = v
				}
				body["labels"] = m
			}
			if caps != "" {
				body["capabilities"] = strings.Split(caps, ",")
			}
			var out map[string]any
			if err := call("POST", "/v1/discovery/agents/register", body, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("agent %s registered as %q\n", out["agentId"], out["name"]) })
		},
	}
	register.Flags().StringVar(&owner, "owner", "", "owner of the agent")
	register.Flags().StringVar(&labels, "labels", "", "robot/cell labels: key=value,key=value")
	register.Flags().StringVar(&caps, "capabilities", "", "comma-separated capabilities")

	var fOwner, fName, fCap string
	var fLabels []string
	list := &cobra.Command{
		Use: "list", Short: "List registered agents with their circuit and risk (scope read)", Args: cobra.NoArgs,
		PostRun: func(cmd *cobra.Command, _ []string) {
			// cobra keeps flag values between Execute calls (tests, shells
			// embedding the root command): the repeatable one must not pile up.
			fLabels = nil
			_ = cmd.Flags().Set("owner", "")
		},
		RunE: func(_ *cobra.Command, _ []string) error {
			q := url.Values{}
			if fOwner != "" {
				q.Set("owner", fOwner)
			}
			if fName != "" {
				q.Set("name", fName)
			}
			if fCap != "" {
				q.Set("capability", fCap)
			}
			for _, l := range fLabels {
				q.Add("label", l)
			}
			path := "/v1/discovery/agents"
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			var out struct {
				Agents []map[string]any `json:"agents"`
			}
			if err := call("GET", path, nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				for _, a := range out.Agents {
					fmt.Printf("%s  %-20v owner=%v circuit=%s risk=%v\n", a["agentId"], a["name"], a["owner"], state(a["circuitOpen"]), orDash(a["risk"]))
				}
			})
		},
	}
	list.Flags().StringVar(&fOwner, "owner", "", "only agents of this owner")
	list.Flags().StringVar(&fName, "name", "", "only agents whose name contains this")
	list.Flags().StringVar(&fCap, "capability", "", "only agents with this capability")
	list.Flags().StringArrayVar(&fLabels, "label", nil, "only agents with this label (key=value, repeatable)")

	get := &cobra.Command{
		Use: "get AGENT_ID", Short: "Show one agent (scope read)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out map[string]any
			if err := call("GET", "/v1/discovery/agents/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() {
				fmt.Printf("agent %s\n  name: %v\n  owner: %v\n  labels: %v\n  capabilities: %v\n  circuit: %s\n  risk: %v\n",
					out["agentId"], out["name"], out["owner"], out["labels"], out["capabilities"], state(out["circuitOpen"]), orDash(out["risk"]))
			})
		},
	}
	deregister := &cobra.Command{
		Use: "deregister AGENT_ID", Short: "Deregister an agent and revoke every token issued to it, with descendants (scope agents:write)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out struct {
				AgentID string   `json:"agentId"`
				Revoked []string `json:"revoked"`
			}
			if err := call("DELETE", "/v1/discovery/agents/"+url.PathEscape(args[0]), nil, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("agent %s deregistered; %d token(s) revoked\n", out.AgentID, len(out.Revoked)) })
		},
	}
	agentsCmd.AddCommand(register, list, get, deregister)
}

func orDash(v any) any {
	if v == nil {
		return "-"
	}
	return v
}
