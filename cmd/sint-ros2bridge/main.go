// Command sint-ros2bridge is the ROS 2 bridge node: it maps agent-facing
// ROS 2 topics to actuator topics (e.g. /agent/cmd_vel → /cmd_vel) over DDS
// (Cyclone DDS; it interoperates with ROS 2 nodes on Fast DDS and Cyclone
// DDS) and writes a message only after the gateway allowed it and its
// attestation verified (package bridges/ros2bridge). Denied messages are
// reported on /sint/decisions; on e-stop or when the gateway is unreachable
// every motion topic gets its safe-stop message (a zero Twist by default).
//
// Usage:
//
//	sint-ros2bridge --url http://127.0.0.1:8080 --agent-key agent.key --token-id ID \
//	    --route /agent/cmd_vel=/cmd_vel [--route ...] [--api-key-file read.key] \
//	    [--domain N] [--localhost-only] [--qos /cmd_vel=best_effort,depth=1]
//
// The DDS domain is --domain, else ROS_DOMAIN_ID, else 0; --localhost-only
// (or ROS_LOCALHOST_ONLY=1) keeps discovery and data on 127.0.0.1. Twist,
// TwistStamped, Wrench and JointTrajectory routes are clamped by type,
// PoseStamped targets are checked by the gateway; a route of any other type
// must map its physical values (--map) or be declared --non-physical.
// The binary needs cgo and libddsc (Cyclone DDS): make ros2bridge.
// Logs are JSON lines on stderr. Exit status: 0 on SIGINT/SIGTERM, 1 on
// error, 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/ros2bridge"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/keyfile"
)

// stderr receives flag errors and usage (a variable for tests).
var stderr io.Writer = os.Stderr

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sint-ros2bridge:", err)
	}
	os.Exit(code)
}

// domainFromEnv returns ROS_DOMAIN_ID, or 0 when unset.
func domainFromEnv() (int, error) {
	s := os.Getenv("ROS_DOMAIN_ID")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > dds.MaxDomain {
		return 0, fmt.Errorf("ROS_DOMAIN_ID=%q: want 0..%d", s, dds.MaxDomain)
	}
	return n, nil
}

func run(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("sint-ros2bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var routes, safeStops, qos, maps, nonPhysical multi
	url := fs.String("url", env("SINT_URL", "http://127.0.0.1:8080"), "gateway base URL (SINT_URL)")
	apiKeyFile := fs.String("api-key-file", "", "file (mode 0600) holding an operator API key with scope read, for the e-stop watch (pushed trips and poll)")
	apiKeyFlag := fs.String("api-key", "", "operator API key with scope read (visible in the process list: prefer --api-key-file); neither: no e-stop watch")
	agentKey := fs.String("agent-key", "", "agent key file (internal/keyfile format); required")
	tokenID := fs.String("token-id", "", "registered capability token id")
	tokenFile := fs.String("token-file", "", "file holding the capability token's compact JWS (instead of --token-id)")
	issuer := fs.String("issuer", "", "gateway id the attestations must name (optional)")
	domain := fs.Int("domain", -1, "DDS domain id (default: ROS_DOMAIN_ID, else 0)")
	localhost := fs.Bool("localhost-only", os.Getenv("ROS_LOCALHOST_ONLY") == "1", "discovery and data on 127.0.0.1 only (ROS_LOCALHOST_ONLY=1)")
	decisions := fs.String("decisions-topic", ros2bridge.DecisionsTopic, "topic of decision reports (std_msgs/msg/String JSON)")
	poll := fs.Duration("poll-interval", topicbridge.DefaultPollInterval, "e-stop poll interval")
	timeout := fs.Duration("timeout", topicbridge.DefaultCallTimeout, "timeout of one intercept or poll")
	fs.Var(&routes, "route", "AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE] (repeatable; default /agent/cmd_vel=/cmd_vel, TYPE default geometry_msgs/msg/Twist)")
	fs.Var(&safeStops, "safe-stop", "ACTUATOR_TOPIC=JSON safe-stop message (repeatable; default zero Twist/TwistStamped/Wrench, empty JointTrajectory)")
	fs.Var(&qos, "qos", "ACTUATOR_TOPIC=QOS of the route's reader and writer: reliable|best_effort, volatile|transient_local, depth=N (repeatable; default reliable,volatile,depth=10)")
	fs.Var(&maps, "map", "ACTUATOR_TOPIC=JSON payload mapping(s) into the message's JSON form (repeatable; needed on routes of types not clamped by type)")
	fs.Var(&nonPhysical, "non-physical", "ACTUATOR_TOPIC of a route whose messages carry no speed, force, torque or position (repeatable)")
	var stopFlags stopsem.Flags
	stopFlags.Register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if fs.NArg() > 0 {
		return 2, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if *domain < 0 {
		d, err := domainFromEnv()
		if err != nil {
			return 2, err
		}
		*domain = d
	} else if *domain > dds.MaxDomain {
		return 2, fmt.Errorf("--domain %d: want 0..%d", *domain, dds.MaxDomain)
	}
	if len(routes) == 0 {
		routes = multi{"/agent/cmd_vel=/cmd_vel"}
	}
	var rs []ros2bridge.Route
	for _, s := range routes {
		r, err := ros2bridge.ParseRoute(s)
		if err != nil {
			return 2, err
		}
		rs = append(rs, r)
	}
	for _, set := range []struct {
		specs multi
		fn    func([]ros2bridge.Route, string) error
	}{
		{safeStops, ros2bridge.SetSafeStop}, {qos, ros2bridge.SetQoS}, {maps, ros2bridge.SetMapping},
		{nonPhysical, ros2bridge.SetNonPhysical}, {stopFlags.Policies, ros2bridge.SetStopPolicy},
	} {
		for _, s := range set.specs {
			if err := set.fn(rs, s); err != nil {
				return 2, err
			}
		}
	}
	for _, r := range rs {
		if err := ros2bridge.CheckPhysical(r); err != nil {
			return 2, err
		}
	}
	resetMode, err := stopFlags.ResetMode()
	if err != nil {
		return 2, err
	}
	if *agentKey == "" {
		return 2, errors.New("--agent-key is required")
	}
	apiKey, err := bridges.OperatorKey(*apiKeyFile, *apiKeyFlag)
	if err != nil {
		return 2, err
	}
	key, err := keyfile.Load(*agentKey)
	if err != nil {
		return 1, err
	}
	var token string
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return 1, err
		}
		token = strings.TrimSpace(string(b))
	}
	if (*tokenID == "") == (token == "") {
		return 2, errors.New("give exactly one of --token-id and --token-file")
	}

	httpc := &http.Client{Timeout: 40 * time.Second} // > the 30 s approval long-poll
	base := strings.TrimRight(*url, "/")
	core := topicbridge.Config{
		Gateway:  &client.Agent{BaseURL: base, HTTP: httpc, Key: key.Private},
		Verifier: attest.NewJWKSCache(&http.Client{Timeout: *timeout}, base+"/.well-known/jwks.json"),
		TokenID:  *tokenID, Token: token, Issuer: *issuer,
		PollInterval: *poll, CallTimeout: *timeout, Log: log,
		Reset: resetMode, StopResend: stopFlags.Resend, ResetSocket: stopFlags.ResetSocket, MaxAttestFailures: stopFlags.MaxAttestFailures,
	}
	if apiKey != "" {
		core.Estop = bridges.OperatorEstop{Op: &client.Operator{BaseURL: base, APIKey: apiKey, HTTP: &http.Client{Timeout: *timeout}}}
	}
	pp, err := dds.NewParticipant(dds.Config{Domain: *domain, LoopbackOnly: *localhost})
	if err != nil {
		return 1, err
	}
	defer pp.Close()
	b, err := ros2bridge.New(ros2bridge.Config{Participant: pp, Routes: rs, DecisionsTopic: *decisions, Core: core})
	if err != nil {
		return 1, err
	}
	defer b.Close()
	for _, r := range rs {
		log.Info("route", "agent", r.Agent, "actuator", r.Actuator, "type", r.Type.Name, "resource", r.Resource(), "qos", r.QoS.String())
	}
	log.Info("sint-ros2bridge running", "gateway", base, "domain", *domain, "localhostOnly", *localhost, "agent", key.AgentID(), "estopWatch", core.Estop != nil)
	if err := b.Run(ctx); err != nil {
		return 1, err
	}
	log.Info("sint-ros2bridge stopped", "stats", b.Stats())
	return 0, nil
}
