// Command sint-mqttbridge is the MQTT bridge: it maps agent-facing topics to
// device topics (e.g. agent/line1/valve7 → line1/valve7) and publishes a
// message on the device topic only after the gateway allowed it and its
// attestation verified (package bridges/mqttbridge). Denied and refused
// messages are reported on sint/decisions; on e-stop, when the gateway is
// unreachable, after a broker outage and on exit every route with a
// --safe-stop payload gets it.
//
// Usage:
//
//	sint-mqttbridge --url http://127.0.0.1:8080 --agent-key agent.key --token-id ID \
//	    --broker mqtt://127.0.0.1:1883 --broker-name factory \
//	    --route agent/line1/valve7=line1/valve7 --safe-stop 'line1/valve7={"state":"closed"}' \
//	    --non-physical line1/valve7 \
//	    --route agent/line1/conveyor=line1/conveyor \
//	    --map 'line1/conveyor={"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"}' \
//	    [--api-key-file read.key]
//
// Every route either maps where its payload carries physical values
// (--map DEVICE_TOPIC=JSON, one mapping object or an array; the bridge clamps
// them to the attested envelope) or is declared --non-physical; the bridge
// refuses to start with a route that is neither (docs/mqtt.md).
//
// --api-key-file names a file (mode 0600) holding an operator key with scope
// read (--api-key gives it on the command line, where every local user can
// see it; SINT_API_KEY, the operator's variable, is never read: set without
// either flag, the bridge refuses to start); with it the bridge follows the
// pushed e-stop trips (approvals stream) and polls GET /v1/estop every
// --poll-interval, and stops the devices at a pushed trip, or within one
// interval of a trip or of losing the gateway. Without it, it
// learns of an e-stop from an ESTOP_ENGAGED deny (i.e. at the next message),
// and warns about that at start.
// --broker-password-file (or SINT_MQTT_PASSWORD) gives the broker password.
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
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/bridges/mqttbridge"
)

// stderr receives flag errors, usage and logs (a variable for tests).
var stderr io.Writer = os.Stderr

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sint-mqttbridge:", err)
	}
	os.Exit(code)
}

// run parses args and runs the bridge until ctx ends. ready, if not nil, is
// called once the bridge is connected and subscribed (for tests).
func run(ctx context.Context, args []string) (int, error) { return runReady(ctx, args, nil) }

func runReady(ctx context.Context, args []string, ready func()) (int, error) {
	fs := flag.NewFlagSet("sint-mqttbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var routes, safeStops multi
	gw := bridgecmd.Register(fs, bridgecmd.Spec{Name: "sint-mqttbridge",
		PollInterval: mqttbridge.DefaultPollInterval, CallTimeout: mqttbridge.DefaultCallTimeout, TimeoutUsage: "timeout of one intercept, poll or broker publish"})
	broker := fs.String("broker", bridgecmd.Env("SINT_MQTT_BROKER", "mqtt://127.0.0.1:1883"), "broker URL: mqtt://host:port or tls://host:port (SINT_MQTT_BROKER)")
	brokerName := fs.String("broker-name", bridgecmd.Env("SINT_MQTT_BROKER_NAME", ""), "the broker's name in resources mqtt://NAME/<device topic>, [a-z0-9.-] (SINT_MQTT_BROKER_NAME); required")
	clientID := fs.String("client-id", "", "MQTT client id (default sint-mqttbridge-<random>)")
	user := fs.String("broker-user", os.Getenv("SINT_MQTT_USER"), "broker user name (SINT_MQTT_USER)")
	passFile := fs.String("broker-password-file", "", "file holding the broker password (or SINT_MQTT_PASSWORD)")
	reports := fs.String("report-topic", mqttbridge.ReportTopic, "topic of decision reports (JSON)")
	reconnect := fs.Duration("reconnect-delay", mqttbridge.DefaultReconnectDelay, "delay between broker connection attempts")
	fs.Var(&routes, "route", "AGENT_TOPIC=DEVICE_TOPIC (repeatable; at least one)")
	fs.Var(&safeStops, "safe-stop", "DEVICE_TOPIC=JSON safe-stop payload (repeatable; routes without one get nothing on a stop)")
	var maps, nonPhysical multi
	fs.Var(&maps, "map", `DEVICE_TOPIC=JSON payload mapping(s), e.g. line1/c={"path":"/cmd/speed","quantity":"linearVelocity","unit":"mm/s"} (repeatable)`)
	fs.Var(&nonPhysical, "non-physical", "DEVICE_TOPIC of a route whose payloads carry no speed, force, torque or position (repeatable; every route needs --map or this)")
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
	if len(routes) == 0 {
		return 2, errors.New("at least one --route is required")
	}
	var rs []mqttbridge.Route
	for _, s := range routes {
		r, err := mqttbridge.ParseRoute(s)
		if err != nil {
			return 2, err
		}
		rs = append(rs, r)
	}
	for _, s := range safeStops {
		if err := mqttbridge.SetSafeStop(rs, s); err != nil {
			return 2, err
		}
	}
	for _, s := range maps {
		if err := mqttbridge.SetMapping(rs, s); err != nil {
			return 2, err
		}
	}
	for _, s := range nonPhysical {
		if err := mqttbridge.SetNonPhysical(rs, s); err != nil {
			return 2, err
		}
	}
	for _, s := range gw.Stop.Policies {
		if err := mqttbridge.SetStopPolicy(rs, s); err != nil {
			return 2, err
		}
	}
	if err := gw.Check(); err != nil {
		return 2, err
	}
	if err := mqttbridge.CheckBrokerName(*brokerName); err != nil {
		return 2, fmt.Errorf("--broker-name: %w", err)
	}
	if u, err := url.Parse(*broker); err != nil || u.Host == "" {
		return 2, fmt.Errorf("--broker %q: want mqtt://host:port", *broker)
	}
	g, err := gw.Load()
	if err != nil {
		return bridgecmd.ExitCode(err), err
	}
	password := []byte(os.Getenv("SINT_MQTT_PASSWORD"))
	if *passFile != "" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			return 1, err
		}
		password = []byte(strings.TrimRight(string(b), "\r\n"))
	}

	cfg := mqttbridge.Config{
		Broker: *broker, BrokerName: *brokerName, ClientID: *clientID, Username: *user, Password: password,
		Gateway: g.Agent, Verifier: g.Verifier, Estop: g.Estop,
		Routes: rs, TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer,
		ReportTopic: *reports, PollInterval: g.PollInterval, CallTimeout: g.CallTimeout, ReconnectDelay: *reconnect, Log: log,
		Reset: g.Reset, StopResend: gw.Stop.Resend, ResetSocket: gw.Stop.ResetSocket, MaxAttestFailures: gw.Stop.MaxAttestFailures,
	}
	b, err := mqttbridge.New(cfg)
	if err != nil {
		return 2, err
	}
	for _, r := range rs {
		if r.SafeStop == nil {
			// Only a route declared motion=false gets here (New refuses a
			// motion route without one).
			log.Warn("non-motion route has no safe stop: nothing is published on it when the bridge stops", "device", r.Device)
		}
		log.Info("route", "agent", r.Agent, "device", r.Device, "resource", r.Resource(*brokerName))
	}
	if cfg.Estop == nil {
		log.Warn("no --api-key-file or --api-key: the e-stop is not watched; a trip or a dead gateway is noticed only at the next message's deny or failed intercept, and no safe stop is published before that")
	}
	log.Info("sint-mqttbridge running", "gateway", g.Base, "broker", *broker, "brokerName", *brokerName,
		"agent", g.Key.AgentID(), "estopPoll", cfg.Estop != nil)
	if ready != nil {
		go func() {
			if b.WaitConnected(ctx) == nil {
				ready()
			}
		}()
	}
	if err := b.Run(ctx); err != nil {
		return 1, err
	}
	log.Info("sint-mqttbridge stopped", "stats", b.Stats())
	return 0, nil
}
