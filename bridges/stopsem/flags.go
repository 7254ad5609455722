package stopsem

import (
	"flag"
	"strings"
	"time"
)

// Flags are the stop-semantics flags every bridge command shares.
type Flags struct {
	Policies          []string // --stop-policy TOPIC=POLICY, repeatable
	Reset             string   // --reset latched|auto
	Resend            time.Duration
	ResetSocket       string
	MaxAttestFailures int
}

type multi struct{ p *[]string }

func (m multi) String() string {
	if m.p == nil {
		return ""
	}
	return strings.Join(*m.p, ",")
}
func (m multi) Set(s string) error { *m.p = append(*m.p, s); return nil }

// Register adds the flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.Var(multi{&f.Policies}, "stop-policy", "TOPIC=POLICY stop policy of the route with that actuator/device topic, e.g. "+
		"'/cmd_vel=deny=hold-then-stop:500ms,resend=100ms' or 'line1/lamp=motion=false' (repeatable; docs/stop-semantics.md)")
	f.RegisterReset(fs, "reset", "what clears a fault stop (gateway lost or restarted, broker/master/driver lost, attestation failures): "+
		"latched (a deliberate reset: the gateway's e-stop tripped and reset, or --reset-socket) or auto")
	fs.DurationVar(&f.Resend, "stop-resend", 0, "re-send a stopped route's safe stop this often (0: never; per route: --stop-policy resend=)")
	fs.IntVar(&f.MaxAttestFailures, "max-attest-failures", DefaultMaxAttestFailures, "attestation failures in a row that are a fault (negative: never)")
}

// RegisterReset adds only the reset flags to fs: the reset mode under the
// flag name (--reset; sint-opcuabridge says --reset-mode) with usage, and
// --reset-socket. For a bridge without routes, whose stops need no policy
// (MCP, OPC UA); the other fields keep their zero values.
func (f *Flags) RegisterReset(fs *flag.FlagSet, name, usage string) {
	fs.StringVar(&f.Reset, name, string(ResetLatched), usage)
	fs.StringVar(&f.ResetSocket, "reset-socket", "", "Unix socket (mode 0600) of the bridge-local reset input: `sintctl bridge-reset --socket PATH`")
}

// ResetMode parses --reset.
func (f *Flags) ResetMode() (ResetMode, error) { return ParseResetMode(f.Reset) }
