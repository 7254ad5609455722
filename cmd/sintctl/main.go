// Command sintctl is the operator and agent command-line client of sintgate.
// Each command group lives in its own file and adds itself to rootCmd in an
// init function. Exit codes: 0 success (or allow), 1 usage or local error,
// 2 server error, 3 deny, 4 escalate.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitLocal    = 1
	exitServer   = 2
	exitDeny     = 3
	exitEscalate = 4
)

var rootCmd = &cobra.Command{
	Use:   "sintctl",
	Short: "Operate a sintgate gateway: tokens, intercepts, approvals, e-stop, ledger",
	Long: `Operate a sintgate gateway: tokens, intercepts, approvals, e-stop, ledger.

sintctl reads SINT_URL and SINT_API_KEY (or --url, --api-key); agent commands
take --agent-key FILE. The wire contract it speaks, sintgate/v1, is specified
in docs/protocol.md of the sintgate repository; every gateway also describes
its routes at GET /v1/openapi.json.`,
	SilenceUsage:  true,
	SilenceErrors: true,
}

// exitError carries a specific process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sintctl:", err)
		if ee, ok := err.(*exitError); ok {
			os.Exit(ee.code)
		}
		os.Exit(exitLocal)
	}
}
