// Command sint-opcuabridge is the OPC UA bridge: agents send writes, method
// calls and reads of a PLC or robot controller to its JSON-over-HTTP front
// (POST /v1/opcua, bearer key), and the bridge carries each one out on the
// controller over OPC UA only after the gateway allowed it and its
// attestation verified for exactly its params (package
// bridges/opcuabridge). On an e-stop, an unreachable or restarted gateway,
// a lost controller connection and on exit it writes every node's safe
// state and refuses writes until reset (docs/opcua.md).
//
// Usage:
//
//	sint-opcuabridge --url http://127.0.0.1:8080 --agent-key agent.key --token-id ID \
//	    --endpoint opc.tcp://plc1:4840 --endpoint-name cell1 --nodes nodes.json \
//	    --security-mode SignAndEncrypt --cert bridge.crt --key bridge.pem \
//	    --front-key-file front.key --api-key-file read.key --reset-socket /run/sint/opcua.sock
//
// --security-mode has no default: SignAndEncrypt (or Sign) with --cert and
// --key, or None, which must be given explicitly. --front-key-file holds the
// bearer key agents present on the front (mode 0600). --api-key-file holds
// an operator key with scope read for the e-stop watch (pushed trips and a
// poll every --poll-interval); without it a trip is noticed only at the next
// ESTOP_ENGAGED deny. --reset-socket is the bridge-local reset input (mode
// 0600; a client writes one line "reset [REASON]":
// `sintctl bridge-reset --socket PATH [reason]`). Logs are JSON lines on stderr.
// Exit status: 0 on SIGINT/SIGTERM, 1 on error, 2 on bad flags.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/bridges/opcuabridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
)

// stderr receives flag errors, usage and logs (a variable for tests).
var stderr io.Writer = os.Stderr

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sint-opcuabridge:", err)
	}
	os.Exit(code)
}

// NodesFile is the --nodes file: {"nodes":[NodeSpec…]} (docs/opcua.md).
type NodesFile struct {
	Nodes []opcuabridge.NodeSpec `json:"nodes"`
}

// loadNodes reads the --nodes file strictly (unknown members refused).
func loadNodes(path string) ([]opcuabridge.NodeSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f NodesFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Nodes) == 0 {
		return nil, fmt.Errorf("%s: no nodes", path)
	}
	return f.Nodes, nil
}

// MinFrontKeyLen is the shortest bearer key the front accepts.
const MinFrontKeyLen = 16

// loadFrontKey reads the front's bearer key: one line in a file that group
// and others cannot access, at least MinFrontKeyLen bytes.
func loadFrontKey(path string) (string, error) {
	k, err := bridges.ReadSecretFile(path, "front key file", 4<<10)
	if err != nil {
		return "", err
	}
	if len(k) < MinFrontKeyLen {
		return "", fmt.Errorf("front key file %s: want one line of at least %d bytes without blanks", path, MinFrontKeyLen)
	}
	return k, nil
}

// run parses args and runs the bridge until ctx ends; ready, if not nil,
// gets the front's address once it listens (for tests).
func run(ctx context.Context, args []string, ready func(addr string)) (int, error) {
	fs := flag.NewFlagSet("sint-opcuabridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gw := bridgecmd.Register(fs, bridgecmd.Spec{Name: "sint-opcuabridge",
		PollInterval: opcuabridge.DefaultPollInterval, CallTimeout: opcuabridge.DefaultCallTimeout, TimeoutUsage: "timeout of one intercept, poll or controller request",
		Stop: bridgecmd.StopResetMode, ResetUsage: "latched (a fault holds until a deliberate reset) or auto"})
	endpoint := fs.String("endpoint", bridgecmd.Env("SINT_OPCUA_ENDPOINT", ""), "controller endpoint opc.tcp://host:port (SINT_OPCUA_ENDPOINT); required")
	name := fs.String("endpoint-name", bridgecmd.Env("SINT_OPCUA_NAME", ""), "the controller's name in resources opcua://NAME/…, [a-z0-9.-]; required")
	nodesFile := fs.String("nodes", "", "JSON file of the exposed nodes ({\"nodes\":[…]}, docs/opcua.md); required")
	mode := fs.String("security-mode", "", "None, Sign or SignAndEncrypt; required (None only when given explicitly)")
	policy := fs.String("security-policy", "", "Basic256Sha256 (default with Sign/SignAndEncrypt), Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss")
	cert := fs.String("cert", "", "the bridge's certificate (PEM or DER)")
	key := fs.String("key", "", "the bridge's RSA private key (PEM)")
	serverCert := fs.String("server-cert", "", "the controller's certificate to pin (optional)")
	listen := fs.String("listen", "127.0.0.1:8091", "address of the agent front")
	frontKeyFile := fs.String("front-key-file", "", "file (mode 0600) holding the bearer key agents present on the front; required")
	health := fs.Duration("health-interval", opcuabridge.DefaultHealthInterval, "controller health read interval")
	maxHeld := fs.Int("max-held", opcuabridge.DefaultMaxHeld, "escalations held at once; one more is refused RATE_LIMIT_EXCEEDED (at least 1)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case *maxHeld < 1:
		return 2, errors.New("--max-held must be at least 1 (0 would refuse every escalation)")
	case *endpoint == "":
		return 2, errors.New("--endpoint is required")
	case *nodesFile == "":
		return 2, errors.New("--nodes is required")
	case *mode == "":
		return 2, errors.New("--security-mode is required: SignAndEncrypt with --cert and --key, or None explicitly")
	case *frontKeyFile == "":
		return 2, errors.New("--front-key-file is required")
	}
	if err := opcuabridge.CheckEndpointName(*name); err != nil {
		return 2, fmt.Errorf("--endpoint-name: %w", err)
	}
	if err := gw.Check(); err != nil {
		return 2, err
	}
	nodes, err := loadNodes(*nodesFile)
	if err != nil {
		return 2, err
	}
	g, err := gw.Load()
	if err != nil {
		return bridgecmd.ExitCode(err), err
	}
	frontKey, err := loadFrontKey(*frontKeyFile)
	if err != nil {
		return 1, fmt.Errorf("--front-key-file: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg := opcuabridge.Config{
		Endpoint: *endpoint, EndpointName: *name, Nodes: nodes,
		Security: opcuabridge.Security{Mode: *mode, Policy: *policy, CertFile: *cert, KeyFile: *key, ServerCertFile: *serverCert},
		Gateway:  g.Agent, Verifier: g.Verifier, Estop: g.Estop,
		TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer,
		PollInterval: g.PollInterval, HealthInterval: *health, CallTimeout: g.CallTimeout, MaxHeld: *maxHeld, ResetMode: g.Reset, Log: log,
	}
	if cfg.Estop == nil {
		log.Warn("no --api-key-file or --api-key: the e-stop is not watched; a trip or a dead gateway is noticed only at the next request, and no safe state is written before that")
	}
	if *mode == "None" {
		log.Warn("security mode None: the controller link is neither signed nor encrypted")
	}
	b, err := opcuabridge.New(cfg)
	if err != nil {
		return 2, err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return 1, err
	}
	srv := &http.Server{Handler: b.Handler(frontKey), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if gw.Stop.ResetSocket != "" {
		if err := stopsem.ServeReset(ctx, gw.Stop.ResetSocket, b.Reset); err != nil {
			return 1, err
		}
	}
	log.Info("sint-opcuabridge running", "gateway", g.Base, "endpoint", *endpoint, "endpointName", *name,
		"front", ln.Addr().String(), "securityMode", *mode, "agent", g.Key.AgentID(), "estopWatch", cfg.Estop != nil)
	if ready != nil {
		ready(ln.Addr().String())
	}
	if err := b.Run(ctx); err != nil {
		return 1, err
	}
	log.Info("sint-opcuabridge stopped", "stats", b.Stats())
	return 0, nil
}
