package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sintgate/sintgate/bridges/stopsem"
)

var bridgeResetSocket string

// bridgeResetCmd is the bridge-local reset input's client: it clears a
// bridge's fault latch (gateway lost or restarted, broker/master/driver
// lost, attestation failures) over the bridge's --reset-socket. Like every
// reset it moves nothing: the next allowed command does.
var bridgeResetCmd = &cobra.Command{
	Use:   "bridge-reset --socket PATH [reason...]",
	Short: "Reset a bridge's fault stop over its local reset socket (--reset-socket of sint-rosbridge/sint-mqttbridge/sint-opcuabridge)",
	RunE: func(cmd *cobra.Command, args []string) error {
		if bridgeResetSocket == "" {
			return &exitError{exitLocal, fmt.Errorf("--socket is required")}
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
		defer cancel()
		ans, err := stopsem.SendReset(ctx, bridgeResetSocket, strings.Join(args, " "))
		if err != nil {
			return &exitError{exitLocal, err}
		}
		fmt.Fprintln(cmd.OutOrStdout(), ans)
		return nil
	},
}

func init() {
	bridgeResetCmd.Flags().StringVar(&bridgeResetSocket, "socket", "", "the bridge's reset socket (its --reset-socket)")
	rootCmd.AddCommand(bridgeResetCmd)
}
