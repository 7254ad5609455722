// Package app wires the gateway's parts (stores, ledger, keys, policy,
// breaker, pipeline, approvals, HTTP server) from a data directory. The
// binaries in cmd/ and the end-to-end tests both build the gateway here.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/anomaly"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/gateway/economy"
	"github.com/sintgate/sintgate/gateway/injection"
	"github.com/sintgate/sintgate/gateway/policy"
	"github.com/sintgate/sintgate/gateway/risk"
	"github.com/sintgate/sintgate/gateway/server"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// Gateway is a running gateway's parts, built by Build and used by serve and
// by tests.
type Gateway struct {
	Server    *server.Server
	Pipeline  *gateway.Pipeline
	Breaker   *estop.Breaker
	Store     store.Store
	Ledger    ledger.Store
	Keys      *attest.Keyset
	Approvals *approvals.Service
	// Reconciler settles or refunds the economy's pending charges (nil
	// without an economy); Background runs it.
	Reconciler *economy.Reconciler
	// Journal is the e-stop's write-ahead journal of trips.
	Journal *estop.Journal
	Log     *slog.Logger
	closers []func() error
	// background is started by Background (the replicated backend's sync).
	background []func(ctx context.Context)
	// checkpoint triggers (Options.CheckpointInterval, CheckpointEntries)
	cpInterval time.Duration
	// sharedLedger: other replicas append to the ledger too (PostgreSQL).
	sharedLedger bool
	// marks: the store's marks (embedded store), where the
	// reconciliation cursor lives; nil otherwise.
	marks     storeMarks
	cpEntries uint64
	// forgetAnomaly resets the anomaly detector's history of an agent whose
	// circuit was closed on another replica (as a local close does).
	forgetAnomaly func(agentID string)
}

// Close drains queued ledger events and releases the stores.
func (g *Gateway) Close() error {
	if g.Pipeline != nil {
		g.Pipeline.Drain()
	}
	var errs []error
	for i := len(g.closers) - 1; i >= 0; i-- {
		errs = append(errs, g.closers[i]())
	}
	return errors.Join(errs...)
}

// ledgerRecorder records e-stop transitions in the ledger.
type ledgerRecorder struct {
	l ledger.Store
	// fleet, when set (replicated backend), names the fleet trip ids the
	// entries carry: "tripId" on a trip entry, "acks" on a reset entry.
	// The PostgreSQL ledger keeps the fleet's e-stop state from them
	// (docs/ledger.md).
	fleet FleetTripIDs
}

// FleetTripIDs names the fleet trip ids of e-stop entries (replicated
// backend, docs/ledger.md "Fleet e-stop state").
type FleetTripIDs interface {
	// TripIDOf is the fleet trip id a trip from src makes active, "" for
	// none (a replica's own condition, such as a broken bus).
	TripIDOf(s estop.State, src estop.Source) string
	// ResetAcks are the trip ids the reset being recorded acknowledges.
	ResetAcks() []string
}

// RecordTrip appends the trip entry. A trip from the journal carries its
// event id (estop.TripMetaOf): recording it again is a no-op, so a retry
// after a lost answer or a restart never records a trip twice. The payload
// says when the trip happened (the entry's own timestamp is when the ledger
// could take it) and, if the requester's authority could not be fully
// checked (the store was unavailable), how it was.
func (r ledgerRecorder) RecordTrip(ctx context.Context, s estop.State, src estop.Source, reason string) error {
	m := estop.TripMetaOf(ctx)
	payload := map[string]any{"epoch": s.Epoch, "source": src.ID, "kind": src.Kind, "reason": reason}
	if r.fleet != nil {
		if id := r.fleet.TripIDOf(s, src); id != "" {
			payload["tripId"] = id
		}
	}
	if m.AtMs != 0 {
		payload["trippedAt"] = m.AtMs
	}
	if m.Auth != "" {
		payload["authorization"] = m.Auth
	}
	_, err := r.l.Append(ctx, ledger.Event{EventID: m.EventID, EventType: "safety.estop.tripped", AgentID: actorOf(src), Payload: payload})
	if m.EventID != "" && errors.Is(err, ledger.ErrDuplicateEvent) {
		return nil // recorded by an earlier attempt
	}
	return err
}

func (r ledgerRecorder) RecordReset(ctx context.Context, s estop.State, operator, reason string) error {
	payload := map[string]any{"epoch": s.Epoch, "reason": reason}
	if r.fleet != nil {
		payload["acks"] = r.fleet.ResetAcks()
	}
	_, err := r.l.Append(ctx, ledger.Event{EventType: "safety.estop.reset", AgentID: operator, Payload: payload})
	return err
}

func actorOf(src estop.Source) string {
	switch {
	case strings.HasPrefix(src.ID, "operator:"):
		return src.ID
	case strings.HasPrefix(src.ID, "agent:"):
		return strings.TrimPrefix(src.ID, "agent:")
	}
	return "system"
}

func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

// Options say where the gateway's state lives.
type Options struct {
	DataDir    string
	PolicyPath string // "" = the shipped default policy
	StoreURL   string // "" = embedded
	RedisAddr  string
	Hardware   Hardware // e-stop hardware; none by default
	Log        *slog.Logger
	Clock      func() time.Time // nil = time.Now
	// Checkpoint triggers besides start and clean shutdown: every
	// CheckpointInterval and every CheckpointEntries entries (0 = the
	// defaults of ledger.Checkpointer: 1 min, 10,000 entries).
	CheckpointInterval time.Duration
	CheckpointEntries  uint64
	// RedisAssumeNoEviction: the operator asserts that Redis has
	// maxmemory-policy noeviction where Redis refuses CONFIG GET (managed
	// services). Without it such a Redis is refused (fail closed).
	RedisAssumeNoEviction bool
	// wrapBackend, if set, wraps the opened backend (tests inject faults).
	wrapBackend func(*Backend)
}

// Build opens the data directory and wires every part of the gateway.
func Build(ctx context.Context, o Options) (*Gateway, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	dataDir, policyPath, log, clock := o.DataDir, o.PolicyPath, o.Log, o.Clock
	cfg, err := ReadConfig(dataDir)
	if err != nil {
		return nil, fmt.Errorf("read config in %s (run `sint-gateway init --data-dir %s` first): %w", dataDir, dataDir, err)
	}
	g := &Gateway{Log: log, cpInterval: o.CheckpointInterval, cpEntries: o.CheckpointEntries, sharedLedger: o.StoreURL != ""}
	fail := func(err error) (*Gateway, error) {
		_ = g.Close()
		return nil, err
	}
	be, err := openBackend(ctx, o)
	if err != nil {
		return fail(err)
	}
	g.closers = append(g.closers, be.Closers...)
	if o.wrapBackend != nil {
		o.wrapBackend(be)
	}
	st, lg := be.Store, be.Ledger
	if err := reconcileAtStart(ctx, g, o, be); err != nil {
		return fail(err)
	}
	if be.Limiter, err = durableRepetitions(be.Limiter, st); err != nil {
		return fail(err)
	}
	hub, lg := approvalsHub(lg, log)
	g.Store, g.Ledger = st, lg
	g.Keys, err = attest.LoadOrCreate(filepath.Join(dataDir, KeysFile), cfg.GatewayID, clock())
	if err != nil {
		return fail(fmt.Errorf("load keys: %w", err))
	}
	pol, err := loadPolicy(policyPath)
	if err != nil {
		return fail(fmt.Errorf("policy: %w", err))
	}
	reg, err := gateway.LoadRegistry(ctx, st)
	if err != nil {
		return fail(err)
	}
	initial, err := estop.LoadInitial(ctx, st)
	if err != nil {
		return fail(fmt.Errorf("load e-stop state: %w", err))
	}
	if initial.Since.UnixMilli() == 0 {
		initial.Since = time.Time{} // never persisted: the breaker stamps its start
	}
	// Trips go through the write-ahead journal in the data dir, so that no
	// trip waits for or depends on the ledger or the store (docs/estop.md,
	// "Trips when the store is down").
	journal, err := estop.OpenJournal(filepath.Join(dataDir, JournalFile), ledgerRecorder{l: lg, fleet: be.FleetTrips}, estop.StorePersister{Store: st},
		estop.JournalLog(log), estop.JournalClock(clock))
	if err != nil {
		return fail(err)
	}
	g.closers = append(g.closers, journal.Close)
	initial = journal.Initial(initial)
	if o.Hardware.Configured() {
		initial = estop.BootTripped(clock(), initial.Epoch, o.Hardware.bootSources()...)
	}
	var rec estop.Recorder = journal
	if be.WrapRecorder != nil {
		rec = be.WrapRecorder(rec)
	}
	g.Breaker = estop.NewBreaker(estop.WithInitial(initial), estop.WithRecorder(rec),
		estop.WithPersister(journal), estop.WithClock(clock))
	journal.Attach(g.Breaker)
	if n := len(journal.Pending()); n > 0 {
		if err := journal.Drain(ctx, 5*time.Second); err != nil {
			log.Error("e-stop journal: trips from before the restart not recorded yet (retrying)", "trips", n, "err", err)
		}
	}
	jctx, jcancel := context.WithCancel(context.WithoutCancel(ctx))
	jdone := make(chan struct{})
	go func() { defer close(jdone); journal.Run(jctx, time.Second) }()
	g.closers = append(g.closers, func() error { jcancel(); <-jdone; return nil })
	g.Journal = journal
	var activePolicy atomic.Pointer[policy.Policy]
	activePolicy.Store(pol)
	// Approval timeouts follow the active policy (read atomically: a reload
	// may happen while escalations are being created).
	g.Approvals = &approvals.Service{Store: st, Ledger: lg, Timeout: func(tier int) time.Duration { return activePolicy.Load().ApprovalTimeout(tier) }, Clock: clock, Log: log}
	verifier := tokens.NewVerifier(16_384)
	p := &gateway.Pipeline{
		GatewayID: cfg.GatewayID, Clock: clock, Breaker: g.Breaker, Ledger: lg,
		Replay: be.Replay, Circuits: gateway.NewCircuits(), Limiter: be.Limiter,
		Signer: gateway.KeysetSigner{Keys: g.Keys}, Escalator: g.Approvals, VerifySig: (&tokens.SigBatcher{}).Verify,
		Rejections: gateway.NewRejections(10 * time.Second), Log: log,
	}
	circuits := p.Circuits
	agents, err := st.ListAgents(ctx)
	if err != nil {
		return fail(fmt.Errorf("load agents: %w", err))
	}
	for _, a := range agents {
		if a.CircuitOpen {
			circuits.Restore(a.AgentID, gateway.Circuit{Open: true, Since: time.UnixMilli(a.CircuitSince), Cause: a.CircuitCause})
		}
	}
	cp := &circuitPersister{st: st, clock: clock, log: log, isOpen: circuits.IsOpen}
	circuits.Persist = func(agentID string, c gateway.Circuit) { cp.persist(context.WithoutCancel(ctx), agentID, c) }
	g.background = append(g.background, cp.run)
	p.OnSevere = func(ctx context.Context, agentID string) {
		if _, err := g.Breaker.Trip(ctx, estop.Source{ID: "severe-violation", Kind: estop.KindAnomaly}, "severe physics violation by agent "+agentID); err != nil {
			log.Error("trip on severe violation", "err", err)
		}
	}
	scanner := injection.New()
	p.SetState(&gateway.State{Policy: pol, Verifier: verifier, Roots: reg, Revocations: reg, Tokens: reg, Scanner: scanner})
	g.Pipeline = p
	if _, err := lg.Append(ctx, ledger.Event{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"policyHash": pol.Hash(), "source": policySource(policyPath)}}); err != nil {
		return fail(fmt.Errorf("record policy.loaded: %w", err))
	}
	fleetID, err := fleetIdentity(ctx, g.sharedLedger, lg)
	if err != nil {
		return fail(err)
	}
	var reloadMu sync.Mutex
	reload := func(ctx context.Context) (*policy.Policy, error) {
		reloadMu.Lock()
		defer reloadMu.Unlock()
		np, err := loadPolicy(policyPath)
		if err != nil {
			log.Warn("policy reload rejected; the active policy stays", "err", err)
			return nil, err
		}
		if _, err := lg.Append(ctx, ledger.Event{EventType: "policy.loaded", AgentID: "system", Payload: map[string]any{"policyHash": np.Hash(), "source": policySource(policyPath)}}); err != nil {
			return nil, fmt.Errorf("record policy.loaded: %w", err)
		}
		ns := *p.State()
		ns.Policy = np
		p.SetState(&ns)
		activePolicy.Store(np)
		log.Info("policy loaded", "policyHash", np.Hash())
		return np, nil
	}
	metrics := server.NewMetrics(g.Breaker.Tripped)
	feed := &anomalyFeed{d: anomaly.New(anomaly.Config{TripOnSevereViolation: false}), threshold: pol.AnomalyThreshold(), clock: clock}
	if feed.threshold <= 0 {
		feed.threshold = 0.5
	}
	p.Anomaly = feed
	g.forgetAnomaly = feed.d.CloseCircuit
	persist := circuits.Persist
	circuits.Persist = func(agentID string, c gateway.Circuit) {
		if !c.Open {
			feed.d.CloseCircuit(agentID)
		}
		persist(agentID, c)
	}
	ops, err := operatorPlane(ctx, st, p, feed.Anomalous)
	if err != nil {
		return fail(err)
	}
	if ops.Economy != nil {
		// Approved escalations are charged like allows; the reconciler
		// resolves the charges a crash left pending (every replica runs it).
		g.Approvals.Charger = ops.Economy
		g.Reconciler = &economy.Reconciler{Service: ops.Economy, Ledger: lg, Clock: clock, Log: log}
		g.background = append(g.background, g.Reconciler.Run)
	}
	p.Observer = func(req *gateway.Request, res *gateway.Result) {
		metrics.Observe(res)
		ops.Risk.Observe(req, res, clock())
		logDecision(log, req, res)
		feed.observe(p, g.Breaker, lg, log, req, res)
	}
	g.Server = server.New(server.Deps{
		GatewayID: cfg.GatewayID, Pipeline: p, Registry: reg, Store: st, Ledger: lg, Keys: g.Keys,
		Breaker: g.Breaker, Approvals: g.Approvals, Verifier: verifier, ReloadPolicy: reload,
		Log: log, Clock: clock, Metrics: metrics, Operator: ops, FleetID: fleetID,
	})
	if err := g.Server.WarmTripKeys(ctx); err != nil {
		log.Warn("e-stop: API keys not cached for trips while the store is down", "err", err)
	}
	if err := wireApprovals(ctx, g, hub, p, cfg.GatewayID); err != nil {
		return fail(err)
	}
	if be.Attach != nil {
		if err := be.Attach(ctx, g); err != nil {
			return fail(err)
		}
	}
	return g, nil
}

// operatorPlane builds the risk monitor and, when the store has an
// economy, the economy service that charges allowed actions.
func operatorPlane(ctx context.Context, st store.Store, p *gateway.Pipeline, anomalous func(string) bool) (server.OperatorDeps, error) {
	ops := server.OperatorDeps{Risk: &risk.Monitor{Anomalous: anomalous}}
	if fs, ok := st.(*fleetStore); ok {
		st = fs.Store // the replicated wrapper does not promote the economy
	}
	if es, ok := st.(store.Economy); ok {
		ops.Economy = &economy.Service{Store: es}
		if err := ops.Economy.LoadAt(ctx, p.Clock()); err != nil {
			return ops, fmt.Errorf("load economy prices: %w", err)
		}
		p.Charger = ops.Economy
	}
	return ops, nil
}

func policySource(path string) string {
	if path == "" {
		return "default"
	}
	return path
}

// Background runs the periodic work until ctx ends.
func (g *Gateway) Background(ctx context.Context, clock func() time.Time) {
	go g.Pipeline.Rejections.Run(ctx, g.Ledger, clock)
	for _, run := range g.background {
		go run(ctx)
	}
	go g.checkpointer().Run(ctx)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Bounded: a store that does not answer must not keep the
				// approvals' lock (which votes and a trip's cancellation
				// take) for longer than this.
				ectx, ecancel := context.WithTimeout(ctx, cancelAttemptTimeout)
				g.Approvals.ExpireDue(ectx)
				ecancel()
			}
		}
	}()
}

// checkpointer signs checkpoints at start, every interval and every N
// entries (ledger.Checkpointer); Serve signs the last one at shutdown.
// Only a shared ledger asks for the latest checkpoint before an
// entry-count one (another replica may have signed it): on the embedded
// store nobody else appends, and finding the latest checkpoint there reads
// back through every entry since it (a tenth of a second at 10,000 entries,
// about 4 % of the gateway's CPU under load).
func (g *Gateway) checkpointer() *ledger.Checkpointer {
	c := &ledger.Checkpointer{
		Sign: g.Server.Checkpoint, Size: g.Ledger.Size,
		Interval: g.cpInterval, Entries: g.cpEntries, Log: g.Log,
	}
	if g.sharedLedger {
		c.Latest = (&ledger.Ledger{Store: g.Ledger}).LatestCheckpoint
	}
	return c
}

// NewLogger returns a JSON logger at level.
func NewLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// Serve builds the gateway and serves on listen until ctx ends, then
// drains in-flight requests (they are answered) and returns nil.
func Serve(ctx context.Context, o Options, listen string, out io.Writer) error {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	log, clock := o.Log, o.Clock
	g, err := Build(ctx, o)
	if err != nil {
		return err
	}
	defer g.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if _, err := g.Server.ReloadPolicy(ctx); err != nil {
				log.Warn("SIGHUP policy reload failed", "err", err)
			}
			if err := g.Keys.Reload(); err != nil {
				log.Warn("SIGHUP key reload failed", "err", err)
			}
		}
	}()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g.Background(bctx, clock)
	if err := startHardware(bctx, o.Hardware, g.Breaker, log); err != nil {
		log.Error("e-stop hardware", "err", err)
		return err
	}
	log.Info("sint-gateway listening", "listen", listen, "dashboard", "http://"+listen+"/dashboard/", "gatewayId", g.Server.GatewayID, "estop", g.Breaker.Snapshot().String())
	fmt.Fprintf(out, "sint-gateway listening on http://%s (dashboard: http://%s/dashboard/)\n", listen, listen)
	err = g.Server.Listen(ctx, listen)
	cancel()
	g.Pipeline.Drain()
	_ = g.Pipeline.Rejections.Flush(context.Background(), g.Ledger, clock())
	fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if cerr := g.checkpointer().Final(fctx); cerr != nil {
		log.Error("shutdown checkpoint", "err", cerr)
	}
	fcancel()
	if err != nil {
		return err
	}
	log.Info("sint-gateway stopped; in-flight requests were answered")
	return nil
}

// logDecision writes one structured line per decision: denies and
// escalations at info, allows at debug. It never logs params or secrets,
// only the params hash recorded in the ledger.
func logDecision(log *slog.Logger, req *gateway.Request, res *gateway.Result) {
	level := slog.LevelInfo
	if res.Body.Decision == "allow" {
		level = slog.LevelDebug
	}
	if !log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("decision", res.Body.Decision), slog.Int("status", res.Status), slog.Int("tier", res.Body.Tier),
		slog.String("code", string(res.Outcome.Code)), slog.Int("stage", res.Outcome.Stage),
		slog.Duration("took", res.Duration),
	}
	if req != nil {
		attrs = append(attrs, slog.String("requestId", req.RequestID), slog.String("agentId", req.AgentID),
			slog.String("resource", req.Resource), slog.String("action", req.Action))
	}
	if res.Entry != nil {
		attrs = append(attrs, slog.Uint64("ledgerSeq", res.Entry.SequenceNumber))
	}
	log.LogAttrs(context.Background(), level, "decision", attrs...)
}
