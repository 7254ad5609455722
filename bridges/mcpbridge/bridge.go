package mcpbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/injection"
)

// The gateway-facing interfaces and the e-stop reader are shared by every
// bridge (package bridges): *client.Agent is a Decider, *attest.JWKSCache an
// AttestationVerifier, OperatorEstop an EstopReader.
type (
	Decider             = bridges.Decider
	AttestationVerifier = bridges.AttestationVerifier
	EstopReader         = bridges.EstopReader
	OperatorEstop       = bridges.OperatorEstop
)

// Defaults of Config.
const (
	DefaultPollInterval = 50 * time.Millisecond
	DefaultCallTimeout  = 2 * time.Second
	// DefaultMaxWait bounds how long an escalated call waits for its
	// approval (the gateway's tier-5 timeout is 15 min by default).
	DefaultMaxWait = 15 * time.Minute
	// DefaultMaxInFlight bounds the tools/call requests the bridge handles
	// at once (each escalated one holds a goroutine and an approval
	// long-poll for up to MaxWait).
	DefaultMaxInFlight = 256
)

// Bounds of the downstream tool list: a listing with more tools, or more
// pages, fails (New fails; a refresh after tools/list_changed keeps the
// previous list). The whole listing also has one CallTimeout.
const (
	MaxTools     = 4096
	MaxToolPages = 256
)

// Config configures a Bridge. ServerName, Downstream, Gateway, Verifier and
// one of TokenID/Token are required.
type Config struct {
	// ServerName is the <server> of the resources mcp://<server>/<tool>
	// (ValidServerName).
	ServerName string
	// Downstream is the transport to the MCP server whose tools the bridge
	// fronts: *mcp.CommandTransport for a subprocess, an in-memory transport
	// in tests. New connects it; Close disconnects it. The bridge wraps its
	// connection to check the latch as each tools/call request is written.
	Downstream mcp.Transport
	Gateway    Decider
	Verifier   AttestationVerifier
	Estop      EstopReader // optional: nil means no e-stop poll (see package doc)

	TokenID string   // registered capability token id, or
	Token   string   // the token's compact JWS
	Chain   []string // ancestors' JWS for an unregistered delegated Token

	Issuer       string        // optional: the gateway id attestations must name
	PollInterval time.Duration // e-stop poll period; default DefaultPollInterval
	CallTimeout  time.Duration // per intercept, verification and poll; default DefaultCallTimeout
	MaxWait      time.Duration // longest wait for an approval; default DefaultMaxWait
	// MaxInFlight bounds the tools/call requests handled at once; one more
	// is refused at once with RATE_LIMIT_EXCEEDED (nothing is sent to the
	// gateway or the downstream server). Default DefaultMaxInFlight.
	MaxInFlight int
	// Implementation names the bridge to its MCP client; default
	// {Name: "sint-mcpbridge", Version: "v1"}.
	Implementation *mcp.Implementation

	// Scanner scans tool definitions and results; default injection.New().
	Scanner *injection.Scanner
	// Pins holds the tools' pinned definitions; nil means pins kept in
	// memory only (every start pins afresh). See LoadPins.
	Pins *Pins
	// AllowFlagged lets an operator offer a tool despite a finding of the
	// scanner in its definition: tool name → the SHA-256 of the exact
	// definition allowed (Definition; the bridge logs it with the
	// finding). Another definition of the same tool is flagged again.
	AllowFlagged map[string]string
	// ResultPolicy: what to do with a result the scanner flags; default
	// ResultRedact.
	ResultPolicy ResultPolicy
	// RelistAge: a tools/call lists the downstream tools again first when
	// the last listing started more than RelistAge before the call arrived
	// (a server that changes a definition without tools/list_changed is
	// caught before the call is sent). 0 (the default): before every call;
	// negative: never (only at tools/list_changed). Locked pins always
	// re-list before every call.
	RelistAge time.Duration
	// Scope is what the token covers, to list only the downstream
	// resources, templates and prompts it could ever allow; nil: taken
	// from Token (ScopeOfToken), and with TokenID alone none are listed
	// (they can still be read or got, gated as always).
	Scope *Scope

	Now func() time.Time
	Log *slog.Logger

	// Stop semantics (package stopsem, docs/stop-semantics.md): an MCP
	// tool has no safe-state message, so a deny, trip or fault only
	// refuses calls. Reset says what clears a fault (gateway unreachable
	// or restarted, attestation failures in a row): stopsem.ResetLatched
	// (default) waits for a deliberate reset (the gateway's e-stop tripped
	// and reset, or Reset), stopsem.ResetAuto clears when it is gone.
	Reset             stopsem.ResetMode
	MaxAttestFailures int // 0: stopsem.DefaultMaxAttestFailures; negative: never
}

// Stats are the bridge's counters. Calls counts gated requests (tools/call,
// resources/read, prompts/get);
// Forwarded those sent to the downstream server; Denied those the gateway
// denied; Escalated those that waited for an approval; Refused those the
// bridge refused on its own; Latches the times the latch was set.
type Stats struct {
	Calls, Forwarded, Denied, Escalated, Refused, Latches int64
	// ToolsFlagged counts tool (and resource, resource template and
	// prompt) definitions not offered because of a finding; ResultsFlagged
	// the results (and read contents and prompt answers) redacted or
	// refused.
	ToolsFlagged, ResultsFlagged int64
	// Relists counts the tool listings a tools/call made first
	// (Config.RelistAge).
	Relists int64
}

// FlaggedTool is a downstream tool the bridge does not offer because the
// injection scanner flagged its definition.
type FlaggedTool struct {
	Tool    string
	SHA256  string // of its canonical definition: the value Config.AllowFlagged takes
	Finding injection.Finding
}

// change is a pinned tool whose listed definition no longer matches its
// pin; calls to it are refused (CodeToolChanged) until an operator approves
// the new definition (ActionRepin) and the pin moves.
type change struct {
	resource           string
	tool               *mcp.Tool // the new definition, offered once approved
	oldCanon, newCanon []byte
	oldSHA, newSHA     string
	requesting         bool   // a repin request is in flight
	approvalID         string // of the pending repin approval, if any
	last               string // how the last repin request ended
}

// Bridge is the MCP server in front of one downstream MCP server. Create it
// with New, serve it with Run, release it with Close. Its methods are safe
// for concurrent use.
type Bridge struct {
	cfg    Config
	server *mcp.Server // its own, or a Group's (shared)
	// prefix is put before each downstream tool name to form the name the
	// agent sees ("" alone; "<server>__" in a Group).
	prefix string
	down   *mcp.ClientSession

	rmu         sync.Mutex             // serialises Refresh
	tools       map[string]bool        // exposed tool names; guarded by rmu
	flagged     map[string]FlaggedTool // guarded by rmu
	clean       map[string]string      // tool name → SHA-256 of its definition last scanned clean; guarded by rmu
	offered     map[string]string      // exposed tool name → SHA-256 of the definition offered; guarded by rmu
	listStarted time.Time              // when the last successful tool listing started; guarded by rmu
	others      mirrored               // resources, templates, prompts offered; guarded by rmu
	scope       *Scope                 // what the token covers (list filter); nil: nothing listed
	// flaggedOther: gated resource of each resource, template or prompt
	// flagged at the last listing → its hash (flaggedNow: this listing's).
	flaggedOther, flaggedNow map[string]string

	scan    *injection.Scanner
	pins    *Pins
	gmu     sync.Mutex         // guards changed
	changed map[string]*change // tool name → unapproved change
	closing bool               // Close has begun: no new background work; guarded by gmu
	wctx    context.Context    // background work (repin requests, reports); ends at Close
	reports chan reportReq     // queued reports (reportLoop)

	// refreshReq holds a pending tools/list_changed: one slot, so
	// notifications arriving during a refresh coalesce into one more.
	refreshReq chan struct{}
	inFlight   chan struct{}      // one slot per tools/call being handled (Config.MaxInFlight)
	stop       context.CancelFunc // ends the refresh worker
	workers    sync.WaitGroup
	closeOnce  sync.Once
	closeErr   error

	beforeForward func() // test hook: runs between the latch check and the downstream call

	mu          sync.Mutex // guards the latch state below
	gen         uint64     // bumped by every latch
	genCtx      context.Context
	genCancel   context.CancelCauseFunc // cancels everything in flight of generation gen
	latched     bool
	latchReason string
	faults      stopsem.Faults     // the fault latch (stopsem)
	watch       bridges.EstopWatch // reads the e-stop polls

	calls, forwarded, denied, escalated, refusedN, latches atomic.Int64
	toolsFlagged, resultsFlagged, relists                  atomic.Int64
}

// errLatched is the cancel cause of work in flight when the latch sets.
type errLatched struct{ reason string }

func (e errLatched) Error() string { return "bridge latched: " + e.reason }

// New checks cfg, connects the downstream server and mirrors its tools.
// Nothing is served before Run.
func New(ctx context.Context, cfg Config) (*Bridge, error) {
	return newBridge(ctx, cfg, nil, "")
}

// newBridge is New on server (nil: a new one of its own), exposing each
// downstream tool as prefix + its name.
func newBridge(ctx context.Context, cfg Config, server *mcp.Server, prefix string) (*Bridge, error) {
	switch {
	case cfg.Downstream == nil || cfg.Gateway == nil || cfg.Verifier == nil:
		return nil, errors.New("mcpbridge: Downstream, Gateway and Verifier are required")
	case (cfg.TokenID == "") == (cfg.Token == ""):
		return nil, errors.New("mcpbridge: set exactly one of TokenID and Token")
	}
	if err := ValidServerName(cfg.ServerName); err != nil {
		return nil, fmt.Errorf("mcpbridge: %w", err)
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Implementation == nil {
		cfg.Implementation = &mcp.Implementation{Name: "sint-mcpbridge", Version: "v1"}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	switch cfg.ResultPolicy {
	case "":
		cfg.ResultPolicy = ResultRedact
	case ResultRedact, ResultRefuse:
	default:
		return nil, fmt.Errorf("mcpbridge: unknown result policy %q", cfg.ResultPolicy)
	}
	b := &Bridge{cfg: cfg, prefix: prefix, tools: map[string]bool{}, flagged: map[string]FlaggedTool{}, changed: map[string]*change{},
		scan: cfg.Scanner, pins: cfg.Pins, reports: make(chan reportReq, MaxQueuedReports), refreshReq: make(chan struct{}, 1), inFlight: make(chan struct{}, cfg.MaxInFlight)}
	b.faults.Mode, b.faults.MaxAttestFailures = cfg.Reset, cfg.MaxAttestFailures
	if b.scan == nil {
		b.scan = injection.New()
	}
	if b.pins == nil {
		b.pins, _ = LoadPins("", false)
	}
	wctx, stop := context.WithCancel(context.Background())
	b.wctx, b.stop = wctx, stop
	b.workers.Add(1)
	go b.reportLoop()
	b.genCtx, b.genCancel = context.WithCancelCause(context.Background())
	b.server = server
	if b.server == nil {
		b.server = mcp.NewServer(cfg.Implementation, &mcp.ServerOptions{Logger: cfg.Log})
	}
	b.scope = cfg.Scope
	if b.scope == nil && cfg.Token != "" {
		sc, err := ScopeOfToken(cfg.Token)
		if err != nil {
			stop()
			b.workers.Wait()
			return nil, fmt.Errorf("mcpbridge: token: %w", err)
		}
		b.scope = sc
	}
	if b.scope == nil {
		cfg.Log.Warn("the token's scope is unknown (TokenID without Config.Scope): no downstream resource or prompt is listed")
	}
	b.server.AddReceivingMiddleware(b.readMiddleware)
	// A list change is only noted: the refresh worker, started once New is
	// done with b.down, lists again (not on the connection's goroutine:
	// Refresh calls back).
	changed := func() {
		select {
		case b.refreshReq <- struct{}{}:
		default: // a refresh is already pending
		}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: cfg.Implementation.Name, Version: cfg.Implementation.Version}, &mcp.ClientOptions{
		Logger:                     cfg.Log,
		ToolListChangedHandler:     func(context.Context, *mcp.ToolListChangedRequest) { changed() },
		ResourceListChangedHandler: func(context.Context, *mcp.ResourceListChangedRequest) { changed() },
		PromptListChangedHandler:   func(context.Context, *mcp.PromptListChangedRequest) { changed() },
	})
	down, err := c.Connect(ctx, &guardTransport{Transport: cfg.Downstream, b: b}, nil)
	if err != nil {
		stop()
		b.workers.Wait()
		return nil, fmt.Errorf("mcpbridge: connect downstream: %w", err)
	}
	b.down = down
	rctx, cancel := context.WithTimeout(ctx, cfg.CallTimeout)
	err = b.Refresh(rctx)
	cancel()
	if err != nil {
		stop()
		b.workers.Wait()
		_ = b.down.Close()
		return nil, err
	}
	b.workers.Add(1)
	go b.refreshLoop(wctx)
	return b, nil
}

// refreshLoop refreshes the tool list after each (coalesced)
// tools/list_changed until Close. A notification that arrived during New
// is acted on at once.
func (b *Bridge) refreshLoop(ctx context.Context) {
	defer b.workers.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.refreshReq:
		}
		rctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
		err := b.Refresh(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			b.cfg.Log.Error("downstream tool list refresh failed; previous list kept", "err", err)
		}
	}
}

// Server returns the bridge's MCP server, to serve it on other transports
// than Run's. Served that way there is no e-stop poll and no latch when
// serving stops: prefer Run.
func (b *Bridge) Server() *mcp.Server { return b.server }

// Close stops the tool-list refresh worker and disconnects the downstream
// server (for a command transport: closes its stdin and waits for it to
// exit). Later calls return the first call's result.
func (b *Bridge) Close() error {
	b.closeOnce.Do(func() {
		b.gmu.Lock()
		b.closing = true
		b.gmu.Unlock()
		b.stop()
		b.workers.Wait()
		b.closeErr = b.down.Close()
	})
	return b.closeErr
}

// Stats returns the counters.
func (b *Bridge) Stats() Stats {
	return Stats{b.calls.Load(), b.forwarded.Load(), b.denied.Load(), b.escalated.Load(), b.refusedN.Load(), b.latches.Load(),
		b.toolsFlagged.Load(), b.resultsFlagged.Load(), b.relists.Load()}
}

// Reset is the bridge-local reset input: it clears a fault latch and
// reports whether one was latched. The bridge unlatches at the next e-stop
// poll that reads armed (or at the next allow without an e-stop watch).
func (b *Bridge) Reset(reason string) bool {
	was := b.faults.Reset()
	if was {
		b.cfg.Log.Warn("fault latch reset (bridge-local)", "reason", reason)
	}
	return was
}

// FaultLatched reports whether a fault holds the bridge latched until a
// reset, and the fault.
func (b *Bridge) FaultLatched() (bool, string) { return b.faults.Latched() }

// Latched reports whether the bridge is latched, and why.
func (b *Bridge) Latched() (bool, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latched, b.latchReason
}

// Tools returns the names of the exposed tools.
func (b *Bridge) Tools() []string {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	out := make([]string, 0, len(b.tools))
	for n := range b.tools {
		out = append(out, n)
	}
	return out
}

// Refresh lists the downstream tools again and mirrors them: new tools are
// added, changed ones replaced, vanished ones removed. A tool whose name is
// not ValidToolName, or whose input schema is not a JSON object schema, is
// not exposed (and logged). A listing of more than MaxTools tools or
// MaxToolPages pages is an error and changes nothing. New calls it; so does
// a tools/list_changed notification from the downstream server.
func (b *Bridge) Refresh(ctx context.Context) error {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	if err := b.refreshTools(ctx); err != nil {
		return err
	}
	// A server whose resource or prompt listing fails still serves its
	// tools: the previous resources and prompts (none at start) are kept.
	if err := b.refreshOthers(ctx); err != nil {
		b.cfg.Log.Warn("downstream resource or prompt listing failed; previous ones kept", "err", err)
	}
	return nil
}

// relistIfStale lists the downstream tools again before a tools/call when
// the last listing started more than Config.RelistAge before the call
// arrived (always with locked pins; never with a negative RelistAge), so
// that a definition changed without tools/list_changed is caught before the
// call is sent: the call is then refused (TOOL_DEFINITION_CHANGED, or the
// tool is no longer offered). A listing that fails refuses the call
// (INTERNAL_ERROR): what cannot be checked is not called.
func (b *Bridge) relistIfStale(ctx context.Context, p *pending) *Outcome {
	if b.cfg.RelistAge < 0 && !b.pins.Locked() {
		return nil
	}
	arrived := time.Now()
	b.rmu.Lock()
	defer b.rmu.Unlock()
	age := b.cfg.RelistAge
	if b.pins.Locked() || age < 0 {
		age = 0
	}
	if !b.listStarted.After(arrived.Add(-age)) {
		lctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
		err := b.refreshTools(lctx)
		cancel()
		if err != nil {
			return b.refuse(p, codes.InternalError, "the downstream tools could not be listed again before the call: "+err.Error())
		}
		b.relists.Add(1)
	}
	if !b.tools[p.tool] {
		return b.refuse(p, CodeToolChanged, "tool "+p.tool+" is no longer offered (gone from the downstream listing, or flagged)")
	}
	return nil
}

// refreshTools is the tools part of Refresh. Caller holds rmu.
func (b *Bridge) refreshTools(ctx context.Context) error {
	started := time.Now()
	var list []*mcp.Tool
	params := &mcp.ListToolsParams{}
	for page := 0; ; page++ {
		if page == MaxToolPages {
			return fmt.Errorf("mcpbridge: list downstream tools: more than %d pages", MaxToolPages)
		}
		res, err := b.down.ListTools(ctx, params)
		if err != nil {
			return fmt.Errorf("mcpbridge: list downstream tools: %w", err)
		}
		list = append(list, res.Tools...)
		if len(list) > MaxTools {
			return fmt.Errorf("mcpbridge: list downstream tools: more than %d tools", MaxTools)
		}
		if res.NextCursor == "" {
			break
		}
		params = &mcp.ListToolsParams{Cursor: res.NextCursor}
	}
	seen := make(map[string]bool, len(list))
	offered := make(map[string]string, len(list))
	listed := make(map[string]bool, len(list))
	flagged := map[string]FlaggedTool{}
	for _, t := range list {
		if listed[t.Name] {
			b.cfg.Log.Warn("downstream tool listed twice; first kept", "tool", t.Name)
			continue
		}
		listed[t.Name] = true
		resource, err := ToolResource(b.cfg.ServerName, t.Name)
		if err != nil {
			b.cfg.Log.Warn("downstream tool not exposed", "tool", t.Name, "err", err)
			continue
		}
		offer, err := b.vet(ctx, t, resource, flagged)
		if err != nil {
			b.cfg.Log.Warn("downstream tool not exposed", "tool", t.Name, "err", err)
			continue
		}
		if offer == nil {
			continue
		}
		// Re-added only when what is offered changed: adding notifies the
		// agent (tools/list_changed), and a re-listing before each call
		// (RelistAge) must not make every call a change.
		_, osha, err := Definition(offer)
		if err != nil || !b.tools[t.Name] || b.offered[t.Name] != osha {
			if err := b.addTool(offer, resource); err != nil {
				b.cfg.Log.Warn("downstream tool not exposed", "tool", t.Name, "err", err)
				continue
			}
		}
		offered[t.Name] = osha
		seen[t.Name] = true
	}
	b.flagged = flagged
	b.gmu.Lock()
	for n := range b.changed {
		if !seen[n] {
			delete(b.changed, n)
		}
	}
	b.gmu.Unlock()
	var gone []string
	for n := range b.tools {
		if !seen[n] {
			gone = append(gone, n)
		}
	}
	if len(gone) > 0 {
		for i, n := range gone {
			gone[i] = b.prefix + n
		}
		b.server.RemoveTools(gone...)
	}
	b.tools, b.offered = seen, offered
	b.listStarted = started
	return nil
}

// addTool exposes a copy of downstream tool t (or of the placeholder of a
// changed tool, whose calls b.call refuses). The SDK panics on a schema it
// cannot accept; that is an error here, not a crash.
func (b *Bridge) addTool(t *mcp.Tool, resource string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	mirror := *t
	name := t.Name
	mirror.Name = b.prefix + name
	b.server.AddTool(&mirror, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var raw json.RawMessage
		if req.Params != nil {
			raw = req.Params.Arguments
		}
		return b.call(ctx, name, resource, raw)
	})
	return nil
}

// Run serves the bridge on upstream (for the binary: &mcp.StdioTransport{})
// until the client disconnects or ctx ends. With an EstopReader it first
// polls the e-stop once, then every PollInterval. On return the e-stop poll
// has stopped and the bridge is latched (and stays latched: nothing unlatches
// it once Run has returned): calls still in flight are refused and their
// downstream calls cancelled.
func (b *Bridge) Run(ctx context.Context, upstream mcp.Transport) error {
	return runSession(ctx, b.server, []*Bridge{b}, upstream)
}

// runSession serves server on upstream for bridges (Run, Group.Run).
func runSession(ctx context.Context, server *mcp.Server, bridges []*Bridge, upstream mcp.Transport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Deferred calls run last first: cancel, wait for the poll, then latch.
	// Latching only once the poll has stopped keeps a poll in flight from
	// unlatching after the final latch.
	defer latchAll(bridges, "bridge stopped")
	wait := watchAll(ctx, bridges)
	defer wait()
	defer cancel() // stop the poll before waiting for it
	ss, err := server.Connect(ctx, upstream, nil)
	if err != nil {
		return fmt.Errorf("mcpbridge: serve: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- ss.Wait() }()
	select {
	case err := <-done: // the client went away
		return err
	case <-ctx.Done():
		// Latch first: it ends the approval waits and cancels the
		// downstream calls in flight, so the session can close.
		latchAll(bridges, "bridge stopped")
		_ = ss.Close()
		<-done
		return nil
	}
}

// latchAll latches every bridge.
func latchAll(bridges []*Bridge, reason string) {
	for _, b := range bridges {
		b.latch(reason)
	}
}

// watchAll starts every bridge's e-stop watch; wait waits for them all.
func watchAll(ctx context.Context, bridges []*Bridge) (wait func()) {
	waits := make([]func(), 0, len(bridges))
	for _, b := range bridges {
		waits = append(waits, b.watchEstop(ctx))
	}
	return func() {
		for _, w := range waits {
			w()
		}
	}
}

// watchEstop starts the e-stop watch (a first poll at once, then one every
// PollInterval, and the pushed trips of an EstopSubscriber) until ctx ends;
// wait waits for it to stop. Without an EstopReader it does nothing.
func (b *Bridge) watchEstop(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if b.cfg.Estop != nil {
		b.poll(ctx)
		if s, ok := b.cfg.Estop.(bridges.EstopSubscriber); ok {
			wg.Add(1)
			go func() { defer wg.Done(); b.watch.Follow(ctx, s, b.apply, b.cfg.Log) }()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(b.cfg.PollInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					b.poll(ctx)
				}
			}
		}()
	}
	return wg.Wait
}

// poll reads the e-stop state once and latches or unlatches.
func (b *Bridge) poll(ctx context.Context) {
	b.watch.Poll(ctx, b.cfg.Estop, b.cfg.CallTimeout, b.apply)
}

// apply carries out what the e-stop watch asks (a poll or a pushed trip),
// through the fault latch: an unlatch that is no deliberate reset after a
// fault is dropped.
func (b *Bridge) apply(a bridges.PollAction) {
	a = b.faults.Estop(a)
	if a.Latch != "" {
		b.latch(a.Latch)
	}
	if a.Unlatch {
		b.unlatch("e-stop armed")
	}
}

// latch invalidates every allow whose intercept was sent before, ends the
// approval waits and cancels the downstream calls in flight, and marks the
// bridge latched.
func (b *Bridge) latch(reason string) {
	b.mu.Lock()
	b.gen++
	b.genCancel(errLatched{reason})
	b.genCtx, b.genCancel = context.WithCancelCause(context.Background())
	if b.latched {
		b.mu.Unlock()
		return
	}
	b.latched, b.latchReason = true, reason
	b.mu.Unlock()
	b.latches.Add(1)
	b.cfg.Log.Warn("bridge latched: calls refused", "reason", reason)
}

// unlatch clears the latch.
func (b *Bridge) unlatch(reason string) {
	b.mu.Lock()
	was := b.latched
	b.latched, b.latchReason = false, ""
	b.mu.Unlock()
	if was {
		b.cfg.Log.Info("bridge resumed", "reason", reason)
	}
}

// generation returns the current latch generation and its context, which
// the next latch cancels.
func (b *Bridge) generation() (uint64, context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen, b.genCtx
}

// pending is one gated request (tools/call, resources/read, prompts/get)
// on its way through the bridge.
type pending struct {
	tool     string // what the logs name: the tool, the resource URI or the prompt
	resource string
	action   string               // Action, ActionRead or ActionGet
	req      api.InterceptRequest // Params = the canonical params
	gen      uint64               // latch generation when the intercept was sent
	genCtx   context.Context      // cancelled by the next latch
	approval string
	// do sends the request to the downstream server (under ctx, which
	// carries the latch guard); screen scans its answer before it reaches
	// the agent (nil Outcome: pass the answer returned).
	do     func(ctx context.Context) (any, error)
	screen func(p *pending, res any) (any, *Outcome)
}

func (b *Bridge) refuse(p *pending, code codes.Code, reason string) *Outcome {
	b.refusedN.Add(1)
	b.cfg.Log.Info("call refused", "tool", p.tool, "action", p.action, "requestId", p.req.RequestID, "code", code, "reason", reason)
	return &Outcome{Outcome: OutcomeRefused, Code: string(code), Reason: reason, Resource: p.resource, RequestID: p.req.RequestID, ApprovalID: p.approval}
}

// call handles one tools/call: it never returns a Go error for a refusal
// (the agent sees a tool error it can read), only for a downstream protocol
// error, which is passed through.
func (b *Bridge) call(ctx context.Context, tool, resource string, raw json.RawMessage) (*mcp.CallToolResult, error) {
	p := &pending{tool: tool, resource: resource, action: Action}
	p.do = func(ctx context.Context) (any, error) {
		res, err := b.down.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: json.RawMessage(p.req.Params)})
		if err != nil {
			return nil, err
		}
		return stripMeta(res), nil
	}
	p.screen = func(p *pending, res any) (any, *Outcome) { return b.screenResult(p, res.(*mcp.CallToolResult)) }
	res, o, err := b.gate(ctx, p, func(ctx context.Context) ([]byte, *Outcome) {
		if o := b.relistIfStale(ctx, p); o != nil {
			return nil, o
		}
		if o := b.refuseChanged(p); o != nil {
			return nil, o
		}
		args, err := CanonicalArgs(raw)
		if err != nil {
			return nil, b.refuse(p, codes.MalformedRequest, err.Error())
		}
		return args, nil
	})
	switch {
	case o != nil:
		return o.Result(), nil
	case err != nil:
		return nil, err
	}
	r, _ := res.(*mcp.CallToolResult)
	return r, nil
}

// stripMeta removes MetaKey from a downstream tool result: only the bridge
// speaks for the gateway, so a downstream result must not pass for a
// refusal (OutcomeOf).
func stripMeta(res *mcp.CallToolResult) *mcp.CallToolResult {
	if res == nil || res.Meta == nil {
		return res
	}
	if _, ok := res.Meta[MetaKey]; !ok {
		return res
	}
	meta := maps.Clone(res.Meta)
	delete(meta, MetaKey)
	c := *res
	c.Meta = meta
	return &c
}

// gate runs one request through the gateway: a slot of MaxInFlight, prep
// (the request's own checks; it returns the canonical params or a
// refusal), the intercept, an approval wait, the attestation check and the
// latch checks, and only then p.do and p.screen. It returns the screened
// downstream answer, or the Outcome of a request not forwarded (or whose
// answer was withheld), or a downstream protocol error.
func (b *Bridge) gate(ctx context.Context, p *pending, prep func(context.Context) ([]byte, *Outcome)) (any, *Outcome, error) {
	b.calls.Add(1)
	select {
	case b.inFlight <- struct{}{}:
		defer func() { <-b.inFlight }()
	default:
		return nil, b.refuse(p, codes.RateLimitExceeded, fmt.Sprintf("too many calls in flight at the bridge (max %d)", b.cfg.MaxInFlight)), nil
	}
	args, o := prep(ctx)
	if o != nil {
		return nil, o, nil
	}
	rid, err := uuid.NewV7()
	if err != nil {
		return nil, b.refuse(p, codes.InternalError, "request id: "+err.Error()), nil
	}
	p.req = api.InterceptRequest{
		RequestID: rid.String(), TokenID: b.cfg.TokenID, Token: b.cfg.Token, Chain: b.cfg.Chain,
		Resource: p.resource, Action: p.action, Params: args,
	}
	p.gen, p.genCtx = b.generation()
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	d, status, err := b.cfg.Gateway.Intercept(cctx, p.req)
	cancel()
	if ctx.Err() != nil {
		return nil, b.refuse(p, codes.InternalError, "the caller cancelled the call"), nil
	}
	if err != nil {
		if o := b.gatewayError(p, status, err); o != nil {
			return nil, o, nil
		}
	}
	return b.decided(ctx, p, d, true)
}

// gatewayError turns a failed gateway call into a refusal: an answer the
// gateway gave (an APIError below 500) keeps its code; anything else means
// the gateway is unreachable, which latches the bridge.
func (b *Bridge) gatewayError(p *pending, status int, err error) *Outcome {
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.Status < 500 && apiErr.Code != "" {
		return b.refuse(p, codes.Code(apiErr.Code), apiErr.Message)
	}
	reason := fmt.Sprintf("gateway unreachable (status %d): %v", status, err)
	b.faults.Fault(reason)
	b.latch(reason)
	return b.refuse(p, codes.InternalError, "gateway unreachable")
}

// decided acts on a decision for p, directly or (mayWait false) after an
// approval wait.
func (b *Bridge) decided(ctx context.Context, p *pending, d *api.Decision, mayWait bool) (any, *Outcome, error) {
	if d == nil {
		return nil, b.refuse(p, codes.InternalError, "no decision"), nil
	}
	switch d.Decision {
	case "allow":
		return b.forward(ctx, p, d)
	case "escalate":
		if !mayWait || d.ApprovalID == nil {
			return nil, b.refuse(p, codes.InternalError, "unexpected escalate"), nil
		}
		p.approval = *d.ApprovalID
		b.escalated.Add(1)
		return b.wait(ctx, p)
	case "deny":
		code, reason := deref(d.Code), deref(d.Reason)
		if code == "" {
			code = string(codes.InternalError)
		}
		b.denied.Add(1)
		b.cfg.Log.Info("call denied", "tool", p.tool, "action", p.action, "requestId", p.req.RequestID, "code", code, "reason", reason)
		if code == string(codes.EstopEngaged) {
			b.latch("gateway denied ESTOP_ENGAGED")
		}
		return nil, &Outcome{Outcome: OutcomeDeny, Code: code, Reason: reason, Resource: p.resource, RequestID: p.req.RequestID, ApprovalID: p.approval}, nil
	default:
		return nil, b.refuse(p, codes.InternalError, fmt.Sprintf("unknown decision %q", d.Decision)), nil
	}
}

// errMaxWait is the cause of a wait that reached Config.MaxWait.
var errMaxWait = errors.New("mcpbridge: max wait reached")

// wait holds an escalated call until its approval resolves. The caller
// giving up, the latch and MaxWait end the wait without forwarding; an
// approval granted after that is never acted on (the bridge forwards a call
// at most once, and only while someone waits for its result).
func (b *Bridge) wait(ctx context.Context, p *pending) (any, *Outcome, error) {
	b.cfg.Log.Info("call escalated: waiting for approval", "tool", p.tool, "action", p.action, "requestId", p.req.RequestID, "approvalId", p.approval)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(p.genCtx, func() { cancel(context.Cause(p.genCtx)) })
	defer stop()
	tctx, tcancel := context.WithTimeoutCause(wctx, b.cfg.MaxWait, errMaxWait)
	defer tcancel()
	d, status, err := b.cfg.Gateway.AwaitApproval(tctx, p.approval)
	switch {
	case ctx.Err() != nil:
		return nil, b.refuse(p, codes.ApprovalCancelled, "the caller cancelled the call while approval "+p.approval+" was pending"), nil
	case p.genCtx.Err() != nil:
		return nil, b.refuse(p, codes.EstopEngaged, "approval wait ended: "+context.Cause(p.genCtx).Error()), nil
	case errors.Is(context.Cause(tctx), errMaxWait):
		return nil, b.refuse(p, codes.ApprovalTimeout, fmt.Sprintf("no decision on approval %s within the bridge's max wait (%v)", p.approval, b.cfg.MaxWait)), nil
	case err != nil:
		return nil, b.gatewayError(p, status, err), nil
	}
	return b.decided(ctx, p, d, false)
}

// forward verifies the attestation of an allow and, unless the bridge
// latched since the intercept was sent, sends the request downstream
// (p.do) with the exact params the attestation covers, and screens the
// answer (p.screen).
func (b *Bridge) forward(ctx context.Context, p *pending, d *api.Decision) (any, *Outcome, error) {
	if d.Attestation == nil {
		return nil, b.refuse(p, codes.InvalidSignature, "allow without attestation"), nil
	}
	ph, err := attest.ParamsHash(p.req.Params)
	if err != nil {
		return nil, b.refuse(p, codes.MalformedRequest, err.Error()), nil
	}
	want := attest.Expect{Issuer: b.cfg.Issuer, AgentID: b.cfg.Gateway.AgentID(), Resource: p.resource, Action: p.action, ParamsHash: ph}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.CallTimeout)
	claims, err := b.cfg.Verifier.Verify(cctx, *d.Attestation, b.cfg.Now(), want)
	cancel()
	if b.faults.Attested(err == nil) {
		b.latch("attestation failures in a row: " + err.Error())
	}
	if err != nil {
		code := codes.InvalidSignature
		if r := attest.ReasonOf(err); r != "" {
			code = r.Code()
		}
		return nil, b.refuse(p, code, "attestation: "+err.Error()), nil
	}
	if claims.JTI != p.req.RequestID {
		return nil, b.refuse(p, codes.InvalidSignature, "attestation is for request "+claims.JTI), nil
	}

	b.mu.Lock()
	if b.gen != p.gen {
		reason := b.latchReason
		b.mu.Unlock()
		return nil, b.refuse(p, codes.EstopEngaged, "the bridge latched after this call's intercept was sent: "+reason), nil
	}
	if f, why := b.faults.Latched(); f {
		b.mu.Unlock()
		return nil, b.refuse(p, codes.EstopEngaged, "fault stop latched until a reset: "+why), nil
	}
	// An allow for an intercept sent while latched means the gateway's
	// breaker is armed again (it releases no allow while tripped).
	was := b.latched
	b.latched, b.latchReason = false, ""
	fctx := b.genCtx
	b.mu.Unlock()
	if was {
		b.cfg.Log.Info("bridge resumed", "reason", "gateway allowed a call sent after the latch")
	}

	b.cfg.Log.Debug("forwarding call", "tool", p.tool, "action", p.action, "requestId", p.req.RequestID, "ledgerSeq", claims.LedgerSeq)
	if b.beforeForward != nil {
		b.beforeForward()
	}
	dctx, dcancel := context.WithCancelCause(ctx)
	defer dcancel(nil)
	// A latch from here on: the guard on the downstream connection refuses
	// to write the request (under b.mu, so the write and the latch are
	// ordered); once written, the AfterFunc cancels the call.
	g := &callGuard{gen: p.gen, cancel: dcancel}
	stop := context.AfterFunc(fctx, func() { dcancel(context.Cause(fctx)) })
	defer stop()
	res, err := p.do(context.WithValue(dctx, callGuardKey{}, g))
	if err != nil {
		if g.refused.Load() {
			return nil, b.refuse(p, codes.EstopEngaged, "the bridge latched before the call was sent; nothing reached the downstream server: "+context.Cause(dctx).Error()), nil
		}
		if fctx.Err() != nil {
			return nil, b.refuse(p, codes.EstopEngaged, "the bridge latched while the tool ran; the downstream server was asked to cancel the call and may have carried out part of it: "+context.Cause(fctx).Error()), nil
		}
		var rpcErr *jsonrpc.Error
		if errors.As(err, &rpcErr) {
			if rpcErr.Code == CodeNotForwarded {
				// The bridge's own refusal code: from downstream it would
				// pass for the gateway's decision, its text unscanned.
				return nil, b.refuse(p, codes.InternalError, "the downstream server answered with the bridge's reserved error code"), nil
			}
			return nil, nil, rpcErr // the downstream server's own protocol error
		}
		return nil, b.refuse(p, codes.InternalError, "downstream call failed: "+err.Error()), nil
	}
	out, o := p.screen(p, res)
	return out, o, nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// callGuardKey carries a *callGuard in the context of a downstream
// tools/call.
type callGuardKey struct{}

// callGuard is what the downstream connection needs to order the writing
// of one tools/call request against the latch.
type callGuard struct {
	gen     uint64                  // latch generation the call's intercept was sent in
	cancel  context.CancelCauseFunc // cancels the call's context
	refused atomic.Bool             // the request was not written
}

// gatedMethods are the downstream requests written only under the latch
// guard of a request the gateway allowed: everything that acts or reads
// on the agent's behalf. Listings pass.
var gatedMethods = map[string]bool{"tools/call": true, "resources/read": true, "prompts/get": true}

// guardTransport wraps Config.Downstream: see guardConn.
type guardTransport struct {
	mcp.Transport
	b *Bridge
}

func (t *guardTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	c, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &guardConn{Connection: c, b: t.b}, nil
}

// guardConn writes a tools/call request to the downstream server only
// while holding b.mu and only if no latch happened since the call's
// intercept was sent; otherwise it cancels the call's context and writes
// nothing. So a latch either precedes the write (and the call is refused
// unsent) or follows it (and cancels the call in flight): no request
// reaches the downstream server after a latch. Other messages pass.
type guardConn struct {
	mcp.Connection
	b *Bridge
}

func (c *guardConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	req, ok := msg.(*jsonrpc.Request)
	if !ok || !gatedMethods[req.Method] {
		return c.Connection.Write(ctx, msg)
	}
	g, _ := ctx.Value(callGuardKey{}).(*callGuard)
	if g == nil {
		return errors.New("mcpbridge: " + req.Method + " without the bridge's latch guard not sent")
	}
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	if c.b.gen != g.gen {
		g.refused.Store(true)
		// Cancelled first: the SDK then counts the failed write as the
		// call's cancellation, not as a broken connection.
		err := errLatched{c.b.latchReason}
		g.cancel(err)
		return err
	}
	err := c.Connection.Write(ctx, msg)
	if err == nil {
		c.b.forwarded.Add(1)
	}
	return err
}
