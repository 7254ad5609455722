package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/internal/keyfile"
)

var keysCmd = &cobra.Command{Use: "keys", Short: "Create Ed25519 key files for agents and root issuers"}

var keysGenOut string

var keysGenCmd = &cobra.Command{
	Use:   "gen --out FILE",
	Short: "Generate an Ed25519 key file (mode 0600) and print its agentId",
	Long: `Generate an Ed25519 key pair and write it to FILE as
{"publicKey": hex, "privateKey": hex of the 64-byte private key} with mode 0600.
An existing file is never overwritten. The agentId (the public key in hex) is printed.

Exit codes: 0 success, 1 local error (including an existing FILE).`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error {
		if keysGenOut == "" {
			return &exitError{exitLocal, fmt.Errorf("--out FILE is required")}
		}
		k, err := keyfile.Generate()
		if err != nil {
			return &exitError{exitLocal, err}
		}
		if err := keyfile.Save(keysGenOut, k); err != nil {
			return &exitError{exitLocal, err}
		}
		return writeOut(cmd.OutOrStdout(), map[string]string{"agentId": k.AgentID(), "publicKey": k.AgentID(), "file": keysGenOut},
			func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (mode 0600)\nagentId: %s\n", keysGenOut, k.AgentID())
			})
	},
}

func init() {
	keysGenCmd.Flags().StringVar(&keysGenOut, "out", "", "key file to create (must not exist)")
	keysCmd.AddCommand(keysGenCmd)
	rootCmd.AddCommand(keysCmd)
}

// writeOut prints v as indented JSON with -o json, else calls text.
func writeOut(w io.Writer, v any, text func(io.Writer)) error {
	if flagOutput == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	text(w)
	return nil
}
