// Command sint-rosbridge is the ROS 1 bridge node: it maps agent-facing
// topics to actuator topics (e.g. /agent/cmd_vel → /cmd_vel) and forwards a
// message only after the gateway allowed it and its attestation verified
// (package bridges/rosbridge). Denied messages are reported on
// /sint/decisions; on e-stop or when the gateway is unreachable every motion
// topic gets its safe-stop message (a zero Twist by default).
//
// Usage:
//
//	sint-rosbridge --url http://127.0.0.1:8080 --agent-key agent.key --token-id ID \
//	    --route /agent/cmd_vel=/cmd_vel [--route ...] [--api-key-file read.key]
//
// Twist and JointTrajectory routes are clamped by type. A route of any other
// message type must map where its message carries physical values
// (--map ACTUATOR_TOPIC=JSON, e.g.
// '/joint_group/command={"path":"/velocity/*","quantity":"angularVelocity","unit":"rad/s"}')
// or be declared --non-physical; otherwise the bridge refuses to start.
//
// --api-key-file names a file (mode 0600) holding an operator key with scope
// read (--api-key gives it on the command line, where every local user can
// see it; SINT_API_KEY, the operator's variable, is never read: set without
// either flag, the bridge refuses to start); with it the bridge follows the
// pushed e-stop trips (approvals stream) and polls GET /v1/estop every
// --poll-interval, and stops the actuators at a pushed trip, or within one
// interval of a trip or of losing the gateway. Without it, it
// learns of an e-stop from an ESTOP_ENGAGED deny (i.e. at the next message).
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
	"strings"
	"syscall"

	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/bridges/ros"
	"github.com/sintgate/sintgate/bridges/rosbridge"
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
		fmt.Fprintln(os.Stderr, "sint-rosbridge:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("sint-rosbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var routes, safeStops multi
	gw := bridgecmd.Register(fs, bridgecmd.Spec{Name: "sint-rosbridge",
		PollInterval: rosbridge.DefaultPollInterval, CallTimeout: rosbridge.DefaultCallTimeout, TimeoutUsage: "timeout of one intercept or poll"})
	master := fs.String("master", bridgecmd.Env("ROS_MASTER_URI", "http://127.0.0.1:11311/"), "ROS master URI (ROS_MASTER_URI)")
	host := fs.String("host", bridgecmd.Env("ROS_IP", bridgecmd.Env("ROS_HOSTNAME", "127.0.0.1")), "address the node listens on and advertises (ROS_IP/ROS_HOSTNAME)")
	name := fs.String("name", "/sint_rosbridge", "ROS node name")
	decisions := fs.String("decisions-topic", rosbridge.DecisionsTopic, "topic of decision reports (std_msgs/String JSON)")
	fs.Var(&routes, "route", "AGENT_TOPIC=ACTUATOR_TOPIC[:TYPE] (repeatable; default /agent/cmd_vel=/cmd_vel)")
	fs.Var(&safeStops, "safe-stop", "ACTUATOR_TOPIC=JSON safe-stop message (repeatable; default zero Twist on Twist routes)")
	var maps, nonPhysical multi
	fs.Var(&maps, "map", "ACTUATOR_TOPIC=JSON payload mapping(s) into the message's JSON form (repeatable; needed on routes of types other than Twist and JointTrajectory)")
	fs.Var(&nonPhysical, "non-physical", "ACTUATOR_TOPIC of a route whose messages carry no speed, force, torque or position (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if len(routes) == 0 {
		routes = multi{"/agent/cmd_vel=/cmd_vel"}
	}
	var rs []rosbridge.Route
	for _, s := range routes {
		r, err := rosbridge.ParseRoute(s)
		if err != nil {
			return 2, err
		}
		rs = append(rs, r)
	}
	for _, s := range safeStops {
		if err := rosbridge.SetSafeStop(rs, s); err != nil {
			return 2, err
		}
	}
	for _, s := range maps {
		if err := rosbridge.SetMapping(rs, s); err != nil {
			return 2, err
		}
	}
	for _, s := range nonPhysical {
		if err := rosbridge.SetNonPhysical(rs, s); err != nil {
			return 2, err
		}
	}
	for _, r := range rs {
		if err := rosbridge.CheckPhysical(r); err != nil {
			return 2, err
		}
	}
	for _, s := range gw.Stop.Policies {
		if err := rosbridge.SetStopPolicy(rs, s); err != nil {
			return 2, err
		}
	}
	g, err := gw.Load()
	if err != nil {
		return bridgecmd.ExitCode(err), err
	}
	cfg := rosbridge.Config{
		Gateway: g.Agent, Verifier: g.Verifier,
		Routes: rs, TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer,
		DecisionsTopic: *decisions, PollInterval: g.PollInterval, CallTimeout: g.CallTimeout, Log: log,
		Reset: g.Reset, StopResend: gw.Stop.Resend, ResetSocket: gw.Stop.ResetSocket, MaxAttestFailures: gw.Stop.MaxAttestFailures,
		Estop: g.Estop,
	}
	node, err := ros.NewNode(ctx, ros.NodeConfig{Name: *name, MasterURI: *master, Host: *host, Logger: log})
	if err != nil {
		return 1, err
	}
	defer node.Close(context.WithoutCancel(ctx))
	cfg.Node = node
	b, err := rosbridge.New(ctx, cfg)
	if err != nil {
		return 1, err
	}
	for _, r := range rs {
		log.Info("route", "agent", r.Agent, "actuator", r.Actuator, "type", r.Type.Name, "resource", r.Resource())
	}
	log.Info("sint-rosbridge running", "gateway", g.Base, "master", *master, "agent", g.Key.AgentID(), "estopPoll", cfg.Estop != nil)
	if err := b.Run(ctx); err != nil {
		return 1, err
	}
	log.Info("sint-rosbridge stopped", "stats", b.Stats())
	return 0, nil
}
