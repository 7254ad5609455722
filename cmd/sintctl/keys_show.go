package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/internal/keyfile"
)

func init() {
	show := &cobra.Command{
		Use:   "show FILE",
		Short: "Print a key file's public key (the agentId); never the private key",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := keyfile.Load(args[0])
			if err != nil {
				return &exitError{exitLocal, err}
			}
			return printOut(map[string]string{"agentId": k.AgentID()}, func() { fmt.Println(k.AgentID()) })
		},
	}
	keysCmd.AddCommand(show)
}
