package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/estop/replica"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/gateway/redisx"
	"github.com/sintgate/sintgate/ledger/pgledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
	"github.com/sintgate/sintgate/store/pgstore"
)

// SyncInterval is how often a replica catches up from PostgreSQL (the source
// of truth) on what pub/sub may have missed: revocations, trusted roots and a
// the e-stop state (trips and resets).
const SyncInterval = 50 * time.Millisecond

// revocationOverlap is how far back each revocation poll reaches: RevokedAt
// is the revoking replica's clock, not the commit time.
const revocationOverlap = 10 * time.Second

// revocationResync is how often a replica reads every revocation in the
// store (RevokedTokens), whatever its time, and every open circuit: the
// last resort for a revocation whose bus message was lost, whose RevokedAt
// is older than the poll's overlap (the revoking replica's clock behind,
// or a slow commit) and whose ledger entry is missing (its append failed
// after the store's commit), and for a circuit opened in the store whose
// ledger entry and announcement were both lost. Tests shorten it.
var revocationResync = time.Minute

// redisOptions accepts "host:port" or a redis:// URL.
func redisOptions(addr string) (*redis.Options, error) {
	if strings.Contains(addr, "://") {
		return redis.ParseURL(addr)
	}
	return &redis.Options{Addr: addr}, nil
}

// openReplicated opens the replicated backend: store and ledger in
// PostgreSQL at o.StoreURL (migrations applied under an advisory lock), replay
// cache and rate limits in Redis at o.RedisAddr, and the fleet sync (e-stop
// fan-out, registry change bus, catch-up polling) attached by Build.
func openReplicated(ctx context.Context, o Options) (_ *Backend, err error) {
	if o.RedisAddr == "" {
		return nil, errors.New("--store postgres://… needs --redis ADDR (replay cache, rate limits and fan-out are shared in Redis)")
	}
	cfg, err := ReadConfig(o.DataDir)
	if err != nil {
		return nil, err
	}
	ropts, err := redisOptions(o.RedisAddr)
	if err != nil {
		return nil, fmt.Errorf("redis %q: %w", o.RedisAddr, err)
	}
	be := &Backend{}
	defer func() {
		if err != nil {
			for i := len(be.Closers) - 1; i >= 0; i-- {
				_ = be.Closers[i]()
			}
		}
	}()
	prefix := redisx.Prefix(cfg.GatewayID)
	ropts.OnConnect = redisx.CheckMarker(prefix)
	rdb := redis.NewClient(ropts)
	be.Closers = append(be.Closers, rdb.Close)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", o.RedisAddr, err)
	}
	guard := &evictionGuard{rdb: rdb, assume: o.RedisAssumeNoEviction, every: evictionCheckEvery, log: o.Log}
	if err := guard.check(pctx); err != nil {
		return nil, fmt.Errorf("redis %s: %w", o.RedisAddr, err)
	}
	pg, err := pgstore.Open(ctx, o.StoreURL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	be.Closers = append(be.Closers, pg.Close)
	lg, err := pgledger.Open(ctx, o.StoreURL, pgledger.Options{Clock: o.Clock, Tripped: fleetTripped})
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	be.Ledger = lg
	be.Closers = append(be.Closers, lg.Close)
	if err := importAPIKeys(ctx, o.DataDir, pg); err != nil {
		return nil, fmt.Errorf("import API keys into PostgreSQL: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	f := &fleet{
		id: cfg.GatewayID + "/" + hex.EncodeToString(suffix[:]), pg: pg, lg: lg, bus: redisx.NewBus(rdb, prefix),
		clock: o.Clock, log: o.Log, resync: revocationResync,
	}
	f.fanout = replica.New(replica.RedisBus{Client: rdb, Channel: prefix + "estop"}, f.id, replica.Config{}, f.log)
	f.roots.Store(&map[string]bool{})
	if err := f.reloadRoots(ctx); err != nil {
		return nil, err
	}
	// Catch up on circuit and standing-approval changes from a little
	// before the state Build loads from the store (a standing revocation
	// is in the ledger before it is in the store).
	size, err := lg.Size(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger size: %w", err)
	}
	f.ledgerSeq = size - min(size, changeLookback)
	be.Store = &fleetStore{Store: pg, f: f}
	ap, err := rdb.AutoPipeline()
	if err != nil {
		return nil, fmt.Errorf("redis autopipeline: %w", err)
	}
	replay := redisx.NewReplay(ap, rdb, prefix, func(ctx context.Context, remember func(agentID, requestID string) error) (int, error) {
		return gateway.RecoverReplay(ctx, lg, o.Clock(), gateway.ReplayLookback, remember)
	}, o.Log)
	rctx, rcancel := context.WithTimeout(ctx, 2*gateway.ReplayWindow)
	defer rcancel()
	if err := replay.Ready(rctx); err != nil {
		return nil, fmt.Errorf("replay protection: refill the redis replay set from the ledger: %w", err)
	}
	guard.ReplayCache = replay
	be.Replay = guard
	be.Limiter = redisx.NewLimiter(rdb, prefix)
	be.WrapRecorder = func(next estop.Recorder) estop.Recorder {
		return f.fanout.Recorder(ackRecorder{next: next, f: f})
	}
	be.FleetTrips = f
	be.Attach = func(ctx context.Context, g *Gateway) error {
		if err := f.attach(ctx, g); err != nil {
			return err
		}
		g.background = append(g.background, guard.run)
		return nil
	}
	return be, nil
}

// fleetTripped is the error of an allow the ledger refused because the
// chain holds a trip entry no reset entry has acknowledged yet (a trip on
// another replica that has not reached this one).
func fleetTripped(active []string) error {
	return &estop.TrippedError{Source: estop.Source{ID: strings.Join(active, ","), Kind: estop.KindReplica},
		Reason: "the fleet e-stop is engaged in the ledger"}
}

// importAPIKeys copies the API keys of the data dir's embedded store (the
// admin key made by `init`) into PostgreSQL when absent there, so that the
// key printed by init works against the fleet.
func importAPIKeys(ctx context.Context, dataDir string, pg store.APIKeys) error {
	path := filepath.Join(dataDir, stateFile)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	st, err := embedded.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := pg.GetAPIKey(ctx, k.ID); errors.Is(err, store.ErrNotFound) {
			err := pg.PutAPIKey(ctx, k)
			if errors.Is(err, store.ErrExists) {
				// Another replica started from the same data directory
				// imported it between our read and our write: the same key
				// is fine, a different one under the same id is not.
				err = sameAPIKey(ctx, pg, k)
			}
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	return nil
}

// sameAPIKey reports an error unless the stored key id k.ID has k's secret.
func sameAPIKey(ctx context.Context, pg store.APIKeys, k store.APIKey) error {
	got, err := pg.GetAPIKey(ctx, k.ID)
	if err != nil {
		return err
	}
	if !bytes.Equal(got.SecretHash, k.SecretHash) {
		return fmt.Errorf("API key %s is already in PostgreSQL with another secret", k.ID)
	}
	return nil
}

// fleet keeps one replica in step with the others.
type fleet struct {
	id     string // this replica: "<gatewayId>/<random>"
	pg     *pgstore.Store
	lg     *pgledger.Store
	bus    *redisx.Bus
	fanout *replica.Fanout
	clock  func() time.Time
	log    *slog.Logger

	reg     *gateway.Registry
	breaker *estop.Breaker
	ackMu   sync.Mutex
	acks    []string // trip ids acknowledged by the last reset
	ackOp   bool     // the last reset was an operator's (not applied from the fleet)
	roots   atomic.Pointer[map[string]bool]
	toks    sync.Map // tokenId → raw, registered on other replicas
	catchMu sync.Mutex
	lastRev time.Time     // guarded by catchMu
	lastAll time.Time     // last full read of the revocations; guarded by catchMu
	resync  time.Duration // revocationResync when built

	// Circuits and standing approvals (fleetsync.go).
	circuits  *gateway.Circuits
	approvals *approvals.Service
	onClosed  func(agentID string) // a circuit closed on another replica
	localCirc sync.Map             // agentID → time this replica last changed its circuit
	syncMu    sync.Mutex           // guards what follows
	ledgerSeq uint64               // catch-up cursor over the ledger's change events
	pending   map[string]time.Time // standing grants in the ledger not yet in the store → give up at
}

// attach points the pipeline at the fleet-wide view of roots and tokens and
// queues the sync loops.
func (f *fleet) attach(ctx context.Context, g *Gateway) error {
	reg, ok := g.Pipeline.State().Roots.(*gateway.Registry)
	if !ok {
		return errors.New("replicated backend: the pipeline's roots are not a *gateway.Registry")
	}
	f.reg, f.breaker = reg, g.Breaker
	f.fanout.Attach(g.Breaker)
	f.attachChanges(g)
	ns := *g.Pipeline.State()
	ns.Roots, ns.Tokens = fleetView{f}, fleetView{f}
	g.Pipeline.SetState(&ns)
	f.lastRev = f.clock().Add(-revocationOverlap)
	g.background = append(g.background, f.runFanout, f.runBus, f.runPoll)
	g.Log.Info("replicated backend", "replica", f.id)
	return nil
}

func (f *fleet) runFanout(ctx context.Context) {
	for ctx.Err() == nil {
		if err := f.fanout.Run(ctx); err != nil && ctx.Err() == nil {
			// Could not subscribe (Redis down at start): fail closed, retry.
			f.log.Error("e-stop fan-out", "err", err)
			f.fanout.TripGap(context.WithoutCancel(ctx), "replica bus unavailable: trips from other replicas may be missed")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		return
	}
}

func (f *fleet) runBus(ctx context.Context) {
	for ctx.Err() == nil {
		in, err := f.bus.Subscribe(ctx)
		if err != nil {
			f.log.Warn("registry bus subscribe", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(SyncInterval):
			}
			continue
		}
		for d := range in {
			switch {
			case d.Gap:
				f.catchUp(ctx)
			case d.Change.Origin == f.id:
			case d.Change.Type == redisx.ChangeRevoke:
				f.reg.ApplyRevocations(d.Change.IDs)
			case d.Change.Type == redisx.ChangeAgents, d.Change.Type == redisx.ChangeApprovals:
				f.applyChange(ctx, d.Change)
			case d.Change.Type == redisx.ChangeRoots:
				if err := f.reloadRoots(ctx); err != nil {
					f.log.Warn("reload roots", "err", err)
				}
			}
		}
	}
}

func (f *fleet) runPoll(ctx context.Context) {
	t := time.NewTicker(SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.catchUp(ctx)
		}
	}
}

// catchUp reads revocations, roots and the e-stop state from PostgreSQL.
// Errors are logged: while PostgreSQL is unreachable every allow fails at the
// ledger append (LEDGER_UNAVAILABLE), so the replica denies anyway.
//
// The e-stop part also ends this replica's bus gap: a catch-up that began
// with the subscription up (and no gap since) has read every trip published
// before it (a trip is in the ledger before it is published), so the gap
// source is cleared after it, and the replica re-arms once an operator's
// reset has acknowledged its trip ids in the row (convergeEstop).
func (f *fleet) catchUp(ctx context.Context) {
	f.catchMu.Lock() // runBus (on a gap) and runPoll both catch up
	defer f.catchMu.Unlock()
	busUp, gapGen := f.fanout.BusState()
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	from := f.lastRev
	now := f.clock()
	ids, err := f.pg.RevokedSince(qctx, from)
	if err == nil {
		f.reg.ApplyRevocations(ids)
		f.lastRev = now.Add(-revocationOverlap)
	}
	if time.Since(f.lastAll) >= f.resync {
		if all, err := f.pg.RevokedTokens(qctx); err == nil {
			f.reg.ApplyRevocations(all)
			f.lastAll = time.Now()
		}
		f.resyncCircuits(qctx)
	}
	if err := f.reloadRoots(qctx); err != nil {
		return
	}
	st, err := f.pg.GetEstop(qctx)
	if err != nil {
		return
	}
	f.convergeEstop(context.WithoutCancel(ctx), st, false)
	if active, err := f.lg.ActiveTrips(qctx); err == nil {
		f.convergeLedgerTrips(context.WithoutCancel(ctx), active)
		if busUp && hasSource(f.breaker.Snapshot(), replica.GapSource.ID) && f.fanout.ClearGap(gapGen) {
			// The gap is over and caught up: re-arm now if the row
			// already acknowledges every trip id (no wait for the next poll).
			f.convergeEstop(context.WithoutCancel(ctx), st, true)
		}
	}
	f.catchUpChanges(qctx)
}

// convergeLedgerTrips trips this replica with each trip id the ledger
// holds active (and so refuses allows for) that this replica neither has
// nor just acknowledged: a trip whose bus message and row update were both
// lost (its replica crashed right after the trip entry). Without this every
// replica could be armed while the ledger refuses every allow, with no trip
// for an operator to reset; tripped, the replica shows it and a reset
// acknowledges it.
func (f *fleet) convergeLedgerTrips(ctx context.Context, active []string) {
	if len(active) == 0 {
		return
	}
	local := f.breaker.Snapshot()
	have := f.fanout.TripIDs(local)
	f.ackMu.Lock()
	ownAcks := f.acks
	f.ackMu.Unlock()
	for _, id := range active {
		if (local.Tripped && slices.Contains(have, id)) || slices.Contains(ownAcks, id) {
			continue
		}
		f.breaker.Trip(ctx, estop.Source{ID: id, Kind: estop.KindReplica}, "fleet e-stop tripped (caught up from the ledger): trip "+id+" not reset")
		local = f.breaker.Snapshot()
		have = f.fanout.TripIDs(local)
	}
}

// TripIDOf implements FleetTripIDs: a trip received from another replica
// carries its trip id, a local source this replica's trip id of the epoch;
// the replica's own bus gap ("bus") is no fleet trip.
func (f *fleet) TripIDOf(s estop.State, src estop.Source) string {
	if src.Kind == estop.KindReplica {
		if isTripID(src.ID) {
			return src.ID
		}
		return ""
	}
	return f.fanout.TripID(s.Epoch)
}

// ResetAcks implements FleetTripIDs: the trip ids ackRecorder noted for the
// reset being recorded.
func (f *fleet) ResetAcks() []string {
	f.ackMu.Lock()
	defer f.ackMu.Unlock()
	out := []string{}
	for _, id := range f.acks {
		if isTripID(id) && !f.fanout.IsGapID(id) { // a bus gap is no ledger trip
			out = append(out, id)
		}
	}
	return out
}

// convergeEstop applies what the shared e-stop row shows and this replica
// has not seen (a fan-out message it missed). The row holds the fleet's
// active and acknowledged trip ids (fleetrow.go):
//
//   - Trip: each active trip id of another replica that this replica does
//     not have, and did not itself acknowledge in its last reset, trips it
//     with the very source the bus would have delivered ({trip id,
//     replica}). Tripping from the row first is therefore harmless: the bus
//     message then changes nothing, and a reset acknowledges the source.
//   - Reset: when every trip id of this replica's trip is acknowledged in
//     the row, it re-arms by the rule of a reset received from the bus (a
//     latched local source keeps it tripped). Its own bus gap counts as
//     acknowledged once an operator's reset on any replica acknowledged it
//     (fleetrow.go, gaps) and the gap source is clear (bus back, caught up).
//
// resetOnly skips the trip part (a second pass in the same catch-up).
func (f *fleet) convergeEstop(ctx context.Context, st store.EstopState, resetOnly bool) {
	row := readFleetRow(st)
	local := f.breaker.Snapshot()
	f.ackMu.Lock()
	ownAcks := f.acks
	f.ackMu.Unlock()
	for _, src := range row.active {
		if resetOnly {
			break
		}
		id := src.ID
		if strings.HasPrefix(id, f.id+"/") || hasSource(local, id) || slices.Contains(ownAcks, id) {
			continue // this replica's own trip, one it has, or one it just reset
		}
		f.breaker.Trip(ctx, estop.Source{ID: id, Kind: estop.KindReplica},
			"fleet e-stop tripped (caught up from PostgreSQL, epoch "+fmt.Sprint(st.Epoch)+"): "+st.Reason)
		local = f.breaker.Snapshot()
	}
	if !local.Tripped || len(local.Latched()) > 0 {
		return // armed, or a latched source (bus gap, button) holds it
	}
	ids := f.fanout.TripIDs(local)
	if len(ids) == 0 {
		return
	}
	for _, id := range ids {
		if !row.isAcked(id) {
			return
		}
	}
	if _, err := f.breaker.Reset(ctx, replica.OperatorPrefix+"store", "fleet e-stop reset (caught up from PostgreSQL): "+st.Reason); err != nil {
		f.log.Warn("e-stop reset from PostgreSQL not applied", "err", err)
	}
}

func hasSource(s estop.State, id string) bool {
	for _, src := range s.Sources {
		if src.ID == id && src.Kind == estop.KindReplica {
			return true
		}
	}
	return false
}

// ackRecorder remembers the trip ids a reset acknowledges, for the armed
// row that fleetStore.PutEstop writes right after (Reset records, then
// persists, under the breaker's lock).
type ackRecorder struct {
	next estop.Recorder
	f    *fleet
}

func (r ackRecorder) RecordTrip(ctx context.Context, s estop.State, src estop.Source, reason string) error {
	return r.next.RecordTrip(ctx, s, src, reason)
}

func (r ackRecorder) RecordReset(ctx context.Context, s estop.State, operator, reason string) error {
	if b := r.f.breaker; b != nil {
		acks := r.f.fanout.TripIDs(b.Snapshot()) // still the trip: Reset records before it re-arms
		r.f.ackMu.Lock()
		r.f.acks = acks
		r.f.ackOp = !strings.HasPrefix(operator, replica.OperatorPrefix)
		r.f.ackMu.Unlock()
	}
	return r.next.RecordReset(ctx, s, operator, reason)
}

func (f *fleet) reloadRoots(ctx context.Context) error {
	rs, err := f.pg.ListRoots(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]bool, len(rs))
	for _, r := range rs {
		m[r.PublicKey] = true
	}
	f.roots.Store(&m)
	return nil
}

func (f *fleet) publish(ctx context.Context, c redisx.Change) {
	c.Origin = f.id
	if err := f.bus.Publish(context.WithoutCancel(ctx), c); err != nil {
		f.log.Warn("registry bus publish (the others catch up from PostgreSQL)", "type", c.Type, "err", err)
	}
}

// publishAsync announces c without waiting for Redis: a circuit is
// persisted under the circuits' lock (and an approval under the approval
// service's), which must not wait for a bus that is down. Receivers re-read
// PostgreSQL, so the order of announcements does not matter; a lost one is
// made up for by the catch-up.
func (f *fleet) publishAsync(ctx context.Context, c redisx.Change) {
	go f.publish(context.WithoutCancel(ctx), c)
}

// fleetView is the decision core's view of roots and registered tokens
// across the fleet (tokens.Roots, tokens.Lookup).
type fleetView struct{ f *fleet }

// IsTrustedRoot implements tokens.Roots from the roots in PostgreSQL.
func (v fleetView) IsTrustedRoot(pub string) bool { return (*v.f.roots.Load())[pub] }

// TokenByID implements tokens.Lookup: this replica's registry, then tokens
// registered elsewhere (read from PostgreSQL once and cached; tokens are
// immutable).
func (v fleetView) TokenByID(id string) (string, bool) {
	if raw, ok := v.f.reg.TokenByID(id); ok {
		return raw, true
	}
	if raw, ok := v.f.toks.Load(id); ok {
		return raw.(string), true
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	t, err := v.f.pg.GetToken(ctx, id)
	if err != nil {
		return "", false
	}
	v.f.toks.Store(id, t.Raw)
	if t.RevokedAt != nil {
		v.f.reg.ApplyRevocations([]string{id})
	}
	return t.Raw, true
}

// fleetStore is the PostgreSQL store with announcements: changes other
// replicas hold in memory are published after they are durable.
type fleetStore struct {
	store.Store
	f *fleet
}

// RevokeToken implements store.Tokens and announces every id revoked.
func (s *fleetStore) RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error) {
	ids, err := s.Store.RevokeToken(ctx, id, at)
	if err == nil {
		s.f.publish(ctx, redisx.Change{Type: redisx.ChangeRevoke, IDs: append([]string{id}, ids...)})
	}
	return ids, err
}

// PutRoot implements store.Roots.
func (s *fleetStore) PutRoot(ctx context.Context, r store.Root) error {
	if err := s.Store.PutRoot(ctx, r); err != nil {
		return err
	}
	s.rootsChanged(ctx)
	return nil
}

// DeleteRoot implements store.Roots.
func (s *fleetStore) DeleteRoot(ctx context.Context, pub string) error {
	if err := s.Store.DeleteRoot(ctx, pub); err != nil {
		return err
	}
	s.rootsChanged(ctx)
	return nil
}

func (s *fleetStore) rootsChanged(ctx context.Context) {
	if err := s.f.reloadRoots(ctx); err != nil {
		s.f.log.Warn("reload roots", "err", err)
	}
	s.f.publish(ctx, redisx.Change{Type: redisx.ChangeRoots})
}

// PutEstop implements store.Estop: this replica's transition merged into
// the shared row (fleetrow.go) under the row's lock: a trip adds this
// replica's trip ids, a reset acknowledges the trip ids it reset.
func (s *fleetStore) PutEstop(ctx context.Context, st store.EstopState) error {
	var rs rowSave
	if st.State == "tripped" {
		gap := s.f.fanout.GapID(st.Epoch)
		for _, id := range s.f.fanout.TripIDs(estop.FromStore(st)) {
			if id == gap {
				rs.gapID = id
			} else {
				rs.tripIDs = append(rs.tripIDs, id)
			}
		}
	} else {
		s.f.ackMu.Lock()
		rs.acks, rs.operator = s.f.acks, s.f.ackOp
		s.f.ackMu.Unlock()
	}
	return s.f.pg.UpdateEstop(ctx, func(cur store.EstopState) store.EstopState {
		return mergeSave(cur, st, rs)
	})
}

// PutAgent implements store.Agents and announces the agent (its circuit
// may have changed).
func (s *fleetStore) PutAgent(ctx context.Context, a store.Agent) error {
	if err := s.Store.PutAgent(ctx, a); err != nil {
		return err
	}
	s.f.publishAsync(ctx, redisx.Change{Type: redisx.ChangeAgents, IDs: []string{a.AgentID}})
	return nil
}

// UpdateApproval implements store.Approvals and announces the approval (a
// standing approval may have been granted or revoked).
func (s *fleetStore) UpdateApproval(ctx context.Context, a store.Approval) (store.Approval, error) {
	got, err := s.Store.UpdateApproval(ctx, a)
	if err == nil {
		s.f.publishAsync(ctx, redisx.Change{Type: redisx.ChangeApprovals, IDs: []string{a.ApprovalID}})
	}
	return got, err
}

// RevokedSince implements store.RevocationFeed.
func (s *fleetStore) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	return s.f.pg.RevokedSince(ctx, since)
}
