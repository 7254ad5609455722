package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app"
)

var keysDataDir string

var keysCmd = &cobra.Command{Use: "keys", Short: "Manage the gateway's attestation signing keys"}

var rotateCmd = &cobra.Command{
	Use:   "rotate",
	Short: "Make a new signing key active; superseded keys stay in the JWKS for the retention period",
	Long: "Rotate writes a new active key to the data directory. A running gateway picks it up on " +
		"SIGHUP or restart; attestations signed by the old key keep verifying while it is retained.",
	RunE: func(cmd *cobra.Command, _ []string) error {
		cfg, err := app.ReadConfig(keysDataDir)
		if err != nil {
			return fmt.Errorf("read config (run sint-gateway init first): %w", err)
		}
		ks, err := attest.LoadOrCreate(filepath.Join(keysDataDir, app.KeysFile), cfg.GatewayID, time.Now())
		if err != nil {
			return err
		}
		old := ks.Active().KID
		kid, err := ks.Rotate(time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "rotated: active key %s (was %s)\n", kid, old)
		return nil
	},
}

func init() {
	rotateCmd.Flags().StringVar(&keysDataDir, "data-dir", envOr("SINT_DATA_DIR", ".sintgate"), "data directory (env SINT_DATA_DIR)")
	keysCmd.AddCommand(rotateCmd)
	root.AddCommand(keysCmd)
}
