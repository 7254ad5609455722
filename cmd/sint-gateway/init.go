package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/internal/app"
)

var initFlags struct {
	json    bool
	dataDir string
}

var initCmd = &cobra.Command{
	Use:   "init",
	Short: "Create a data directory with keys, config, an embedded store and the first admin API key",
	RunE: func(cmd *cobra.Command, _ []string) error {
		res, created, err := app.InitDataDir(cmd.Context(), initFlags.dataDir, time.Now())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		switch {
		case !created && initFlags.json:
			return json.NewEncoder(out).Encode(map[string]any{"dataDir": res.DataDir, "gatewayKeyId": res.GatewayKeyID, "created": false})
		case !created:
			fmt.Fprintf(out, "%s is already initialised; nothing changed.\n", res.DataDir)
			return nil
		case initFlags.json:
			return json.NewEncoder(out).Encode(res)
		}
		fmt.Fprintf(out, "Initialised %s (gateway %s, signing key %s).\n", res.DataDir, res.GatewayID, res.GatewayKeyID)
		fmt.Fprintf(out, "Admin API key (shown once, keep it safe):\n\n  %s\n\n", res.AdminAPIKey)
		fmt.Fprintf(out, "Start the gateway with: sint-gateway serve --data-dir %s\n", res.DataDir)
		return nil
	},
}

func init() {
	initCmd.Flags().StringVar(&initFlags.dataDir, "data-dir", envOr("SINT_DATA_DIR", ".sintgate"), "data directory (env SINT_DATA_DIR)")
	initCmd.Flags().BoolVar(&initFlags.json, "json", false, "print the result as JSON")
	root.AddCommand(initCmd)
}
