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
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/bridges/ros2bridge"
	"github.com/sintgate/sintgate/bridges/ros2bridge/dds"
	"github.com/sintgate/sintgate/bridges/topicbridge"
)

// stderr receives flag errors and usage (a variable for tests).
var stderr io.Writer = os.Stderr

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

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
	gw := bridgecmd.Register(fs, bridgecmd.Spec{Name: "sint-ros2bridge",
		PollInterval: topicbridge.DefaultPollInterval, CallTimeout: topicbridge.DefaultCallTimeout, TimeoutUsage: "timeout of one intercept or poll"})
	domain := fs.Int("domain", -1, "DDS domain id (default: ROS_DOMAIN_ID, else 0)")
	localhost := fs.Bool("localhost-only", os.Getenv("ROS_LOCALHOST_ONLY") == "1", "discovery and data on 127.0.0.1 only (ROS_LOCALHOST_ONLY=1)")
	decisions := fs.String("decisions-topic", ros2bridge.DecisionsTopic, "topic of decision reports (std_msgs/msg/String JSON)")
	fs.Var(&routes, "route", "AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE] (repeatable; default /agent/cmd_vel=/cmd_vel, TYPE default geometry_msgs/msg/Twist)")
	fs.Var(&safeStops, "safe-stop", "ACTUATOR_TOPIC=JSON safe-stop message (repeatable; default zero Twist/TwistStamped/Wrench, empty JointTrajectory)")
	fs.Var(&qos, "qos", "ACTUATOR_TOPIC=QOS of the route's reader and writer: reliable|best_effort, volatile|transient_local, depth=N (repeatable; default reliable,volatile,depth=10)")
	fs.Var(&maps, "map", "ACTUATOR_TOPIC=JSON payload mapping(s) into the message's JSON form (repeatable; needed on routes of types not clamped by type)")
	fs.Var(&nonPhysical, "non-physical", "ACTUATOR_TOPIC of a route whose messages carry no speed, force, torque or position (repeatable)")
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
		{nonPhysical, ros2bridge.SetNonPhysical}, {gw.Stop.Policies, ros2bridge.SetStopPolicy},
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
	g, err := gw.Load()
	if err != nil {
		return bridgecmd.ExitCode(err), err
	}
	core := topicbridge.Config{
		Gateway: g.Agent, Verifier: g.Verifier,
		TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer,
		PollInterval: g.PollInterval, CallTimeout: g.CallTimeout, Log: log,
		Reset: g.Reset, StopResend: gw.Stop.Resend, ResetSocket: gw.Stop.ResetSocket, MaxAttestFailures: gw.Stop.MaxAttestFailures,
		Estop: g.Estop,
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
	log.Info("sint-ros2bridge running", "gateway", g.Base, "domain", *domain, "localhostOnly", *localhost, "agent", g.Key.AgentID(), "estopWatch", core.Estop != nil)
	if err := b.Run(ctx); err != nil {
		return 1, err
	}
	log.Info("sint-ros2bridge stopped", "stats", b.Stats())
	return 0, nil
}
