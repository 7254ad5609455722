// Package bridgecmd is the command-line setup every bridge command shares
// (sint-rosbridge, sint-mqttbridge, sint-opcuabridge, sint-mcpbridge, and
// any new one): the gateway flags, the stop-semantics flags (package
// stopsem), reading the secrets, and building the gateway client, the JWKS
// cache and the e-stop watch's reader. A command keeps only what is its
// own: its transport's flags, its routes, its bridge's Config.
//
// The shared flags are --url (SINT_URL), --agent-key, --token-id,
// --token-file, --issuer, --api-key-file, --api-key, --poll-interval,
// --timeout and the stop-semantics flags named by Spec.Stop. A command
// registers them (Register), parses its flag set, checks its own flags and
// then the shared ones (Flags.Check: usage errors only, no I/O), and loads
// (Flags.Load): the operator key (bridges.OperatorKey, or, for a bridge
// whose subprocesses could read its command line and environment, only
// --api-key-file), the agent key and the token. Errors are usage errors
// (exit status 2, UsageError) or runtime errors (1); ExitCode tells them
// apart. See the package example.
package bridgecmd

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/keyfile"
)

// AgentHTTPTimeout bounds one request of the agent client: longer than the
// gateway's 30 s approval long-poll (POST /v1/approvals/{id}/wait).
const AgentHTTPTimeout = 40 * time.Second

// StopFlags names the stop-semantics flags a command has.
type StopFlags int

const (
	// StopAll is every stopsem flag (stopsem.Flags.Register): a bridge
	// with routes (ROS, MQTT).
	StopAll StopFlags = iota
	// StopReset is --reset and --reset-socket only (MCP).
	StopReset
	// StopResetMode is --reset-mode and --reset-socket (OPC UA, which
	// named its reset flag so).
	StopResetMode
)

// Spec is what differs between the commands' shared flags.
type Spec struct {
	Name string // the command, e.g. "sint-rosbridge" (in messages)
	// PollInterval and CallTimeout are the defaults of --poll-interval
	// and --timeout; TimeoutUsage is the help of --timeout.
	PollInterval, CallTimeout time.Duration
	TimeoutUsage              string
	// KeyFileOnly refuses --api-key and a set SINT_API_KEY: for a bridge
	// whose subprocesses can read its command line and environment (MCP).
	KeyFileOnly bool
	Stop        StopFlags
	ResetUsage  string // help of the reset-mode flag under StopReset and StopResetMode
}

// Flags are the shared flags' values, filled by parsing the flag set
// Register was given.
type Flags struct {
	URL, APIKeyFile, APIKey, AgentKey, TokenID, TokenFile, Issuer string
	PollInterval, Timeout                                         time.Duration
	Stop                                                          stopsem.Flags

	spec Spec
}

// Env returns the environment variable name, or def when it is unset or
// empty (the flags' defaults: SINT_URL, ROS_MASTER_URI, …).
func Env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Register adds the shared flags to fs and returns where they land.
func Register(fs *flag.FlagSet, s Spec) *Flags {
	f := &Flags{spec: s}
	fs.StringVar(&f.URL, "url", Env("SINT_URL", "http://127.0.0.1:8080"), "gateway base URL (SINT_URL)")
	if s.KeyFileOnly {
		fs.StringVar(&f.APIKeyFile, "api-key-file", "", "file (mode 0600) holding an operator API key with scope read, for the e-stop watch; empty: none")
		fs.StringVar(&f.APIKey, "api-key", "", "refused: the downstream server can read the bridge's command line; use --api-key-file")
	} else {
		fs.StringVar(&f.APIKeyFile, "api-key-file", "", "file (mode 0600) holding an operator API key with scope read, for the e-stop watch (pushed trips and poll)")
		fs.StringVar(&f.APIKey, "api-key", "", "operator API key with scope read (visible in the process list: prefer --api-key-file); neither: no e-stop watch")
	}
	fs.StringVar(&f.AgentKey, "agent-key", "", "agent key file (internal/keyfile format); required")
	fs.StringVar(&f.TokenID, "token-id", "", "registered capability token id")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the capability token's compact JWS (instead of --token-id)")
	fs.StringVar(&f.Issuer, "issuer", "", "gateway id the attestations must name (optional)")
	fs.DurationVar(&f.PollInterval, "poll-interval", s.PollInterval, "e-stop poll interval")
	fs.DurationVar(&f.Timeout, "timeout", s.CallTimeout, s.TimeoutUsage)
	switch s.Stop {
	case StopReset:
		f.Stop.RegisterReset(fs, "reset", s.ResetUsage)
	case StopResetMode:
		f.Stop.RegisterReset(fs, "reset-mode", s.ResetUsage)
	default:
		f.Stop.Register(fs)
	}
	return f
}

// UsageError is an error in the flags (exit status 2).
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(err error) error { return &UsageError{Err: err} }

// ExitCode is a command's exit status for err: 0 for nil, 2 for a
// UsageError, 1 otherwise.
func ExitCode(err error) int {
	var u *UsageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// Check checks the shared flags without reading any file: an agent key,
// exactly one of --token-id and --token-file, a known reset mode. Its
// errors are UsageErrors.
func (f *Flags) Check() error {
	if _, err := f.Stop.ResetMode(); err != nil {
		return usage(err)
	}
	if f.AgentKey == "" {
		return usage(errors.New("--agent-key is required"))
	}
	if (f.TokenID == "") == (f.TokenFile == "") {
		return usage(errors.New("give exactly one of --token-id and --token-file"))
	}
	return nil
}

// Gateway is what a bridge needs of its gateway, built from the shared
// flags by Load.
type Gateway struct {
	Base     string       // --url without a trailing slash
	Key      *keyfile.Key // the agent key
	TokenID  string       // --token-id, or
	Token    string       // the compact JWS of --token-file
	Issuer   string
	APIKey   string        // the operator key; "" without e-stop watch
	Agent    *client.Agent // intercepts and approval waits, signed by Key
	Verifier *attest.JWKSCache
	// Estop reads GET /v1/estop and follows the pushed trips with APIKey;
	// nil (no e-stop watch) without one.
	Estop bridges.EstopReader
	Reset stopsem.ResetMode
	// PollInterval and CallTimeout are --poll-interval and --timeout.
	PollInterval, CallTimeout time.Duration
}

// Load checks the shared flags (Check), reads the secrets — the operator
// key, then the agent key, then the token — and builds the clients.
// Errors in the operator key or its file are UsageErrors (the bridge must
// not start without the watch it was told to have); an agent key or token
// file that cannot be read, or an empty token file, is a runtime error.
func (f *Flags) Load() (*Gateway, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	apiKey, err := f.operatorKey()
	if err != nil {
		return nil, usage(err)
	}
	key, err := keyfile.Load(f.AgentKey)
	if err != nil {
		return nil, err
	}
	var token string
	if f.TokenFile != "" {
		b, err := os.ReadFile(f.TokenFile)
		if err != nil {
			return nil, err
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("%s is empty", f.TokenFile)
		}
	}
	reset, _ := f.Stop.ResetMode() // checked
	base := strings.TrimRight(f.URL, "/")
	g := &Gateway{
		Base: base, Key: key, TokenID: f.TokenID, Token: token, Issuer: f.Issuer, APIKey: apiKey,
		Agent:    &client.Agent{BaseURL: base, HTTP: &http.Client{Timeout: AgentHTTPTimeout}, Key: key.Private},
		Verifier: attest.NewJWKSCache(&http.Client{Timeout: f.Timeout}, base+"/.well-known/jwks.json"),
		Reset:    reset, PollInterval: f.PollInterval, CallTimeout: f.Timeout,
	}
	if apiKey != "" {
		g.Estop = bridges.OperatorEstop{Op: &client.Operator{BaseURL: base, APIKey: apiKey, HTTP: &http.Client{Timeout: f.Timeout}}}
	}
	return g, nil
}

// operatorKey reads the operator key as the Spec says.
func (f *Flags) operatorKey() (string, error) {
	if !f.spec.KeyFileOnly {
		return bridges.OperatorKey(f.APIKeyFile, f.APIKey)
	}
	if f.APIKey != "" {
		return "", errors.New("--api-key is refused: the downstream server could read it from the bridge's command line; put the key in a file (mode 0600) and give --api-key-file")
	}
	if _, set := os.LookupEnv(bridges.APIKeyEnv); set {
		// Unsetting it would not do: it stays in /proc/<pid>/environ,
		// which a subprocess running as root can read.
		return "", errors.New(bridges.APIKeyEnv + " is set: " + f.spec.Name + " refuses to start with the operator's key in its environment (its downstream server could read it); unset it and give the bridge its own read-scoped key with --api-key-file")
	}
	if f.APIKeyFile == "" {
		return "", nil
	}
	return bridges.LoadAPIKeyFile(f.APIKeyFile)
}
