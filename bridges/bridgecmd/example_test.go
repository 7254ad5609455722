package bridgecmd_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/internal/keyfile"
)

// A bridge command's run: register the shared flags next to the
// command's own, parse, check the command's own flags, then Load, and
// hand the Gateway's parts to the bridge's Config (the ROS 1 main:
// rosbridge.Config{Gateway: g.Agent, Verifier: g.Verifier, Estop: g.Estop,
// TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer, PollInterval:
// g.PollInterval, CallTimeout: g.CallTimeout, Reset: g.Reset, StopResend:
// gw.Stop.Resend, ResetSocket: gw.Stop.ResetSocket, MaxAttestFailures:
// gw.Stop.MaxAttestFailures, …}).
func Example() {
	dir, _ := os.MkdirTemp("", "bridgecmd-example")
	defer os.RemoveAll(dir)
	k, _ := keyfile.Generate()
	keyPath := filepath.Join(dir, "agent.key")
	_ = keyfile.Save(keyPath, k)

	run := func(ctx context.Context, args []string) (int, error) {
		set := flag.NewFlagSet("sint-examplebridge", flag.ContinueOnError)
		gw := bridgecmd.Register(set, bridgecmd.Spec{Name: "sint-examplebridge",
			PollInterval: 50 * time.Millisecond, CallTimeout: 2 * time.Second, TimeoutUsage: "timeout of one intercept or poll"})
		device := set.String("device", "", "the bridge's own flag; required")
		if err := set.Parse(args); err != nil {
			return 2, nil
		}
		if *device == "" { // the command's own checks first, then the shared ones
			return 2, fmt.Errorf("--device is required")
		}
		g, err := gw.Load()
		if err != nil {
			return bridgecmd.ExitCode(err), err
		}
		fmt.Println(g.Base, g.TokenID, g.Reset, "estop watch:", g.Estop != nil, "stop policies:", gw.Stop.Policies)
		return 0, nil // here: build the bridge from g and run it until ctx ends
	}
	ctx := context.Background()
	fmt.Println(run(ctx, []string{"--url", "http://gw.example/", "--agent-key", keyPath, "--token-id", "tok-1",
		"--device", "d1", "--stop-policy", "d1=deny=hold"}))
	fmt.Println(run(ctx, []string{"--agent-key", keyPath, "--device", "d1"}))
	code, err := run(ctx, []string{"--agent-key", filepath.Join(dir, "none"), "--token-id", "tok-1", "--device", "d1"})
	fmt.Println(code, errors.Is(err, fs.ErrNotExist))
	// Output:
	// http://gw.example tok-1 latched estop watch: false stop policies: [d1=deny=hold]
	// 0 <nil>
	// 2 give exactly one of --token-id and --token-file
	// 1 true
}
