// Command sint-gateway runs the sintgate gateway: `init` creates a data
// directory (keys, config, embedded store, first admin API key), `serve`
// serves the HTTP API until SIGTERM/SIGINT and drains in-flight requests,
// `keys rotate` rotates the attestation signing key (PROTOCOL.md §11).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

var root = &cobra.Command{
	Use:           "sint-gateway",
	Short:         "The sintgate robotics safety gateway",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sint-gateway:", err)
		os.Exit(1)
	}
}
