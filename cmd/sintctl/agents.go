package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

var agentsCmd = &cobra.Command{Use: "agents", Short: "Agents and their circuits"}

func init() {
	circuit := &cobra.Command{Use: "circuit", Short: "Show or close an agent's circuit"}
	show := &cobra.Command{
		Use: "show AGENT_ID", Short: "Show an agent's circuit", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out map[string]any
			if err := call("GET", "/v1/discovery/agents/"+url.PathEscape(args[0])+"/circuit", nil, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("circuit %v (since %v): %v\n", state(out["open"]), out["since"], out["cause"]) })
		},
	}
	closeCmd := &cobra.Command{
		Use: "close AGENT_ID", Short: "Close an agent's open circuit (scope agents:write)", Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var out map[string]any
			if err := call("POST", "/v1/discovery/agents/"+url.PathEscape(args[0])+"/circuit/close", map[string]any{}, &out); err != nil {
				return err
			}
			return printOut(out, func() { fmt.Printf("circuit of %s closed\n", args[0]) })
		},
	}
	circuit.AddCommand(show, closeCmd)
	agentsCmd.AddCommand(circuit)
	rootCmd.AddCommand(agentsCmd)
}

func state(open any) string {
	if open == true {
		return "OPEN"
	}
	return "closed"
}
