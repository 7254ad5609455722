// Command sint-mcpbridge is the MCP bridge: an MCP server on stdin/stdout
// for the agent, in front of one downstream MCP server it starts as a
// subprocess (the tools that act on the robot host). It lists the
// downstream tools unchanged and forwards a tools/call only after the
// gateway allowed the intercept mcp://<server>/<tool> call with the call's
// arguments as params and the attestation verified (package
// bridges/mcpbridge). Refused calls come back as MCP tool errors carrying the
// deny code; the downstream tool never sees them.
//
// Usage:
//
//	sint-mcpbridge --url http://127.0.0.1:8080 --agent-key agent.key --token-id ID \
//	    --server filesystem [--api-key-file read.key] [--env NAME[=VALUE] ...] \
//	    [--pin-file pins.json [--pins-locked]] [--allow-tool NAME=SHA256 ...] \
//	    [--result-policy redact|refuse] [--relist-age 0] \
//	    [--http-listen 127.0.0.1:8765 --http-token-file agent-http.token] \
//	    (-- DOWNSTREAM_COMMAND [ARGS...] | --server-url URL [--server-token-file F]) \
//	    [--add-server NAME=URL ...]
//
// By default the agent speaks MCP on stdin/stdout. With --http-listen the
// bridge serves MCP streamable HTTP instead (any path), loopback only unless
// --http-allow-remote, and every request must carry Authorization: Bearer
// <token> with the token of --http-token-file (mode 0600); others are
// answered 401. With --server-url the downstream server is reached over
// streamable HTTP (https, or http to loopback) instead of being started.
// Each --add-server puts one more downstream server, reached over
// streamable HTTP, behind the same bridge: then every tool is offered as
// <server>__<tool> and gated as mcp://<server>/<tool> (package doc: Group).
//
// Every downstream tool definition is scanned for injected instructions (a
// flagged tool is not offered) and pinned by the hash of its canonical
// definition; a pinned tool whose definition changes is refused until an
// operator approves the new one; the tools are listed again before each
// call (--relist-age), so a change the server does not announce is caught
// before the call runs. Every result is scanned and, by default, redacted
// where flagged (docs/mcp.md). The downstream resources, resource templates
// and prompts are mirrored too (with --token-file: those the token could
// allow; with --token-id none are listed), each resources/read gated as
// mcp://<server>/resource/<encoded URI> read and each prompts/get as
// mcp://<server>/prompt/<name> get.
//
// --api-key-file names a file (mode 0600) holding an operator key with scope
// read; with it the bridge follows the pushed e-stop events of the approvals
// stream and polls GET /v1/estop every --poll-interval, and refuses every
// call at once on a pushed trip, within one interval of a trip or of losing
// the gateway otherwise. Without it, it learns of an e-stop from an
// ESTOP_ENGAGED deny (i.e. at the next call). The key is never taken from
// the command line (the downstream server can read its parent's) nor from
// the environment: the bridge refuses to start while SINT_API_KEY (the
// operator's key) is set.
//
// The downstream server gets an allow-listed environment: PATH, HOME, USER,
// LOGNAME, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR and what --env names; never a
// SINT_* variable nor a value holding the bridge's keys (refused at start).
// Its tools answer the agent, so whatever it can read the agent can read.
// stdout carries only the MCP stream; logs are JSON lines on stderr, and the
// downstream server's stderr is passed through. Exit status: 0 when the MCP
// client disconnects or on SIGINT/SIGTERM, 1 on error, 2 on bad flags.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/bridges/bridgecmd"
	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/internal/keyfile"
	"github.com/sintgate/sintgate/tokens"
)

// stderr receives flag errors, usage and logs (a variable for tests).
var stderr io.Writer = os.Stderr

func main() {
	// The downstream server runs as the same user: keep it from reading
	// this process's memory and /proc/<pid>/environ (where the keys live).
	hideProcess()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, os.Args[1:], &mcp.StdioTransport{})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sint-mcpbridge:", err)
	}
	os.Exit(code)
}

func usage(fs *flag.FlagSet) func() {
	return func() {
		fmt.Fprintf(fs.Output(), `Usage: sint-mcpbridge [flags] -- DOWNSTREAM_COMMAND [ARGS...]

Serves MCP on stdin/stdout and forwards each tools/call to the downstream MCP
server (started as a subprocess) only after the sintgate gateway allowed it
(resource mcp://<server>/<tool>, action call) and its attestation verified.

Flags:
`)
		fs.PrintDefaults()
	}
}

func run(ctx context.Context, args []string, upstream mcp.Transport) (int, error) {
	fs := flag.NewFlagSet("sint-mcpbridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = usage(fs)
	gw := bridgecmd.Register(fs, bridgecmd.Spec{Name: "sint-mcpbridge", KeyFileOnly: true,
		PollInterval: mcpbridge.DefaultPollInterval, CallTimeout: mcpbridge.DefaultCallTimeout, TimeoutUsage: "timeout of one intercept, verification or poll",
		Stop: bridgecmd.StopReset, ResetUsage: "what clears a fault stop (gateway unreachable or restarted, attestation failures): latched (a deliberate reset: the gateway's e-stop tripped and reset, or --reset-socket) or auto"})
	var envs []string
	fs.Func("env", "NAME or NAME=VALUE: pass this variable to the downstream server (repeatable; never SINT_*)", func(v string) error {
		envs = append(envs, v)
		return nil
	})
	server := fs.String("server", "", "server name: the <server> of mcp://<server>/<tool>; required")
	maxWait := fs.Duration("max-wait", mcpbridge.DefaultMaxWait, "longest wait for an operator's approval of an escalated call")
	maxInFlight := fs.Int("max-in-flight", mcpbridge.DefaultMaxInFlight, "most tools/call requests handled at once; more are refused with RATE_LIMIT_EXCEEDED")
	pinFile := fs.String("pin-file", "", "file holding the tools' pinned definition hashes (created and updated by the bridge; survives restarts); empty: pins kept in memory only")
	pinsLocked := fs.Bool("pins-locked", false, "only offer tools pinned in --pin-file as they are: never add or move a pin (a locked-down deployment presets the file)")
	allowTool := map[string]string{}
	fs.Func("allow-tool", "NAME=SHA256: offer this exact definition of a tool although the injection scanner flagged it (the hash is logged with the finding; repeatable); NAME may also be the gated resource of a flagged resource, template or prompt (mcp://<server>/resource/…, mcp://<server>/prompt/<name>)", func(v string) error {
		name, sha, ok := strings.Cut(v, "=")
		validName := mcpbridge.ValidToolName(name) == nil || strings.HasPrefix(name, "mcp://") && tokens.ValidPattern(name) == nil
		if !ok || !validName || len(sha) != 64 || strings.Trim(sha, "0123456789abcdef") != "" {
			return errors.New("want NAME=SHA256 (64 lowercase hex digits)")
		}
		allowTool[name] = sha
		return nil
	})
	relistAge := fs.Duration("relist-age", 0, "list the downstream tools again before a tools/call when the last listing is older than this (0: before every call; negative: only at tools/list_changed; --pins-locked always lists before every call), so a tool changed without tools/list_changed is refused before it runs")
	resultPolicy := fs.String("result-policy", string(mcpbridge.ResultRedact), "what to do with a tool result in which the injection scanner finds an instruction: redact (replace the flagged parts) or refuse (withhold the result, GOAL_HIJACK)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	httpListen := fs.String("http-listen", "", "serve agents over MCP streamable HTTP on this address (host:port, loopback unless --http-allow-remote) instead of stdin/stdout; needs --http-token-file")
	httpTokenFile := fs.String("http-token-file", "", "file (mode 0600) holding the bearer token agents must send (Authorization: Bearer <token>, at least 32 bytes)")
	httpRemote := fs.Bool("http-allow-remote", false, "let --http-listen bind a non-loopback address (put TLS in front: the token travels in clear otherwise)")
	serverURL := fs.String("server-url", "", "connect the downstream MCP server over streamable HTTP at this URL (https, or http to loopback) instead of starting DOWNSTREAM_COMMAND")
	var addServers [][2]string
	fs.Func("add-server", "NAME=URL: put another downstream MCP server, reached over streamable HTTP at URL, behind this bridge (repeatable); then every tool is offered as <server>__<tool> and gated as mcp://<server>/<tool>, server names without '_'", func(v string) error {
		name, u, ok := strings.Cut(v, "=")
		if !ok || mcpbridge.ValidGroupServerName(name) != nil || u == "" {
			return errors.New("want NAME=URL with NAME of [A-Za-z0-9.-]")
		}
		addServers = append(addServers, [2]string{name, u})
		return nil
	})
	serverTokenFile := fs.String("server-token-file", "", "file (mode 0600) holding a bearer token to send to the --server-url server")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, nil
		}
		return 2, nil
	}
	if _, err := gw.Stop.ResetMode(); err != nil {
		return 2, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return 2, fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	down := fs.Args()
	switch {
	case *server == "":
		return 2, errors.New("--server is required")
	case mcpbridge.ValidServerName(*server) != nil:
		return 2, mcpbridge.ValidServerName(*server)
	case len(down) == 0 && *serverURL == "":
		return 2, errors.New("no downstream server (give its command after --, or --server-url)")
	case len(down) > 0 && *serverURL != "":
		return 2, errors.New("give either --server-url or a downstream command, not both")
	case *serverTokenFile != "" && *serverURL == "":
		return 2, errors.New("--server-token-file needs --server-url")
	case (*httpListen == "") != (*httpTokenFile == ""):
		return 2, errors.New("--http-listen and --http-token-file go together")
	case *httpRemote && *httpListen == "":
		return 2, errors.New("--http-allow-remote needs --http-listen")
	case *resultPolicy != string(mcpbridge.ResultRedact) && *resultPolicy != string(mcpbridge.ResultRefuse):
		return 2, errors.New("--result-policy: want redact or refuse")
	case *pinsLocked && *pinFile == "":
		return 2, errors.New("--pins-locked needs --pin-file")
	}
	g, err := gw.Load()
	if err != nil {
		return bridgecmd.ExitCode(err), err
	}
	downEnv, err := mcpbridge.DownstreamEnv(os.Environ(), envs, secretsOf(g.APIKey, g.Key))
	if err != nil {
		return 2, err
	}

	var httpToken string
	if *httpListen != "" {
		host, _, err := net.SplitHostPort(*httpListen)
		if err != nil {
			return 2, fmt.Errorf("--http-listen: %w", err)
		}
		if !*httpRemote && !mcpbridge.IsLoopbackHost(host) {
			return 2, fmt.Errorf("--http-listen %s is not a loopback address; give --http-allow-remote to serve beyond this host (behind TLS)", *httpListen)
		}
		if httpToken, err = mcpbridge.LoadHTTPToken(*httpTokenFile); err != nil {
			return 2, err
		}
	}
	var downstream mcp.Transport
	if *serverURL != "" {
		var tok string
		if *serverTokenFile != "" {
			if tok, err = mcpbridge.LoadHTTPToken(*serverTokenFile); err != nil {
				return 2, err
			}
		}
		if downstream, err = mcpbridge.DownstreamHTTP(*serverURL, tok, nil); err != nil {
			return 2, err
		}
	} else {
		cmd := exec.Command(down[0], down[1:]...)
		cmd.Env = downEnv
		cmd.Stderr = stderr
		downstream = &mcp.CommandTransport{Command: cmd}
	}

	pins, err := mcpbridge.LoadPins(*pinFile, *pinsLocked)
	if err != nil {
		return 1, err
	}
	cfg := mcpbridge.Config{
		ServerName: *server,
		Downstream: downstream,
		Gateway:    g.Agent, Verifier: g.Verifier, Estop: g.Estop,
		TokenID: g.TokenID, Token: g.Token, Issuer: g.Issuer,
		PollInterval: g.PollInterval, CallTimeout: g.CallTimeout, MaxWait: *maxWait, MaxInFlight: *maxInFlight, Log: log,
		Reset: g.Reset,
		Pins:  pins, AllowFlagged: allowTool, ResultPolicy: mcpbridge.ResultPolicy(*resultPolicy),
		RelistAge: *relistAge,
	}
	var srv served
	var b *mcpbridge.Bridge
	if len(addServers) == 0 {
		if b, err = mcpbridge.New(ctx, cfg); err != nil {
			return 1, err
		}
		srv = b
	} else {
		if err := mcpbridge.ValidGroupServerName(*server); err != nil {
			return 2, fmt.Errorf("--server with --add-server: %w", err)
		}
		cfgs := []mcpbridge.Config{cfg}
		for _, a := range addServers {
			c := cfg
			c.ServerName, c.AllowFlagged = a[0], nil
			if c.Downstream, err = mcpbridge.DownstreamHTTP(a[1], "", nil); err != nil {
				return 2, fmt.Errorf("--add-server %s: %w", a[0], err)
			}
			pinPath := ""
			if *pinFile != "" {
				pinPath = *pinFile + "." + a[0]
			}
			if c.Pins, err = mcpbridge.LoadPins(pinPath, *pinsLocked); err != nil {
				return 1, err
			}
			cfgs = append(cfgs, c)
		}
		g, err := mcpbridge.NewGroup(ctx, nil, log, cfgs)
		if err != nil {
			return 1, err
		}
		b, srv = g.Bridges()[0], g
		for _, gb := range g.Bridges()[1:] {
			log.Info("downstream server added", "tools", len(gb.Tools()), "toolsFlagged", flaggedNames(gb.Flagged()), "toolsChanged", gb.Changed())
		}
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Warn("downstream close", "err", err)
		}
	}()
	downName := *serverURL
	if downName == "" {
		downName = down[0]
	}
	log.Info("sint-mcpbridge running", "gateway", g.Base, "server", *server, "downstream", downName,
		"agent", g.Key.AgentID(), "tools", len(b.Tools()), "estopWatch", cfg.Estop != nil, "downstreamEnv", envNames(downEnv),
		"toolsFlagged", flaggedNames(b.Flagged()), "toolsChanged", b.Changed(), "pinFile", *pinFile, "pinsLocked", *pinsLocked,
		"resultPolicy", cfg.ResultPolicy)
	if gw.Stop.ResetSocket != "" {
		if err := stopsem.ServeReset(ctx, gw.Stop.ResetSocket, srv.Reset); err != nil {
			return 1, err
		}
	}
	if *httpListen != "" {
		ln, lerr := net.Listen("tcp", *httpListen)
		if lerr != nil {
			return 1, lerr
		}
		log.Info("serving MCP streamable HTTP", "listen", ln.Addr().String(), "endpoint", "http://"+ln.Addr().String()+"/")
		err = srv.ServeHTTP(ctx, ln, mcpbridge.HTTPOptions{Token: httpToken})
	} else {
		err = srv.Run(ctx, upstream)
	}
	log.Info("sint-mcpbridge stopped", "stats", b.Stats())
	if err != nil && !errors.Is(err, io.EOF) {
		return 1, err
	}
	return 0, nil
}

// served is a *mcpbridge.Bridge or a *mcpbridge.Group.
type served interface {
	Run(ctx context.Context, upstream mcp.Transport) error
	ServeHTTP(ctx context.Context, ln net.Listener, o mcpbridge.HTTPOptions) error
	Reset(reason string) bool
	Close() error
}

// secretsOf lists what the downstream environment must never carry: the
// API key (and its secret part) and the agent's private key (hex, as in
// the key file).
func secretsOf(apiKey string, k *keyfile.Key) []string {
	out := []string{hex.EncodeToString(k.Private.Seed())}
	if apiKey != "" {
		out = append(out, apiKey)
		if i := strings.LastIndexByte(apiKey, '_'); i >= 0 && len(apiKey)-i > 8 {
			out = append(out, apiKey[i+1:])
		}
	}
	return out
}

// flaggedNames returns the names of the flagged tools (for the log; each
// finding was logged when the tool was listed).
func flaggedNames(fl []mcpbridge.FlaggedTool) []string {
	out := make([]string, 0, len(fl))
	for _, f := range fl {
		out = append(out, f.Tool)
	}
	return out
}

// envNames returns the names of env's NAME=VALUE entries (for the log).
func envNames(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	return out
}
