package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/ratelimit"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/embedded"
)

// Backend is where a gateway's state lives: the store, the ledger, and the
// replay cache and rate limiter (shared across replicas when replicated).
type Backend struct {
	Store   store.Store
	Ledger  ledger.Store
	Replay  gateway.ReplayCache
	Limiter gateway.Limiter
	// Closers release what was opened, in order of opening.
	Closers []func() error
	// WrapRecorder, if set, wraps the breaker's ledger recorder (the
	// replicated backend publishes trips and resets to the other replicas).
	WrapRecorder func(estop.Recorder) estop.Recorder
	// FleetTrips, if set, names the fleet trip ids of the e-stop entries
	// (the replicated backend: the ledger refuses allows while a trip id is
	// not acknowledged).
	FleetTrips FleetTripIDs
	// Marks, if set, keeps records that travel with the store's content
	// (the embedded store): the reconciliation cursor lives there.
	Marks storeMarks
	// Attach, if set, is called at the end of Build with the built gateway;
	// it may add work to g.background, started by Background.
	Attach func(ctx context.Context, g *Gateway) error
}

// repetitionLimiter is a Limiter whose lifetime repetition counts (token
// maxRepetitions) live in the durable store: a use is counted, fsynced or
// committed, before the pipeline may answer allow, so no restart or replica
// gives a spent budget back. If the durable increment fails the pipeline
// denies (fail closed). Sliding-window rate limits stay where they were
// (memory or Redis): only tokens with maxRepetitions pay for a write.
type repetitionLimiter struct {
	gateway.Limiter
	reps store.Repetitions
}

// AllowRepetition implements gateway.Limiter.
func (l repetitionLimiter) AllowRepetition(ctx context.Context, key string, max int64) (bool, error) {
	return l.reps.TakeRepetition(ctx, key, max)
}

// durableRepetitions wraps lim so that repetitions are counted in st;
// a store without store.Repetitions is refused.
func durableRepetitions(lim gateway.Limiter, st store.Store) (gateway.Limiter, error) {
	if fs, ok := st.(*fleetStore); ok {
		st = fs.Store
	}
	reps, ok := st.(store.Repetitions)
	if !ok {
		return nil, fmt.Errorf("store %T keeps no durable repetition counts", st)
	}
	return repetitionLimiter{Limiter: lim, reps: reps}, nil
}

// openBackend opens the embedded backend (no StoreURL) or the replicated
// one (PostgreSQL at StoreURL, Redis at RedisAddr).
func openBackend(ctx context.Context, o Options) (*Backend, error) {
	if o.StoreURL != "" {
		return openReplicated(ctx, o)
	}
	be := &Backend{Replay: gateway.NewMemoryReplay(4_000_000), Limiter: ratelimit.NewCounter()}
	st, err := embedded.Open(filepath.Join(o.DataDir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	be.Store, be.Marks = st, st
	be.Closers = append(be.Closers, st.Close)
	lg, err := openEmbeddedLedger(filepath.Join(o.DataDir, ledgerDir), o.Clock)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	be.Ledger = lg
	be.Closers = append(be.Closers, lg.Close)
	if err := recoverMemoryReplay(ctx, be, o); err != nil {
		_ = lg.Close()
		_ = st.Close()
		return nil, err
	}
	return be, nil
}

// recoverMemoryReplay refills the in-memory replay cache from the ledger
// tail (gateway.RecoverMemoryReplay), so that a restart, clean or not,
// does not reopen the replay window: every request answered in the last
// gateway.ReplayWindow is refused REPLAY_DETECTED after it as before it.
// If the ledger cannot be read the gateway does not start (fail closed).
func recoverMemoryReplay(ctx context.Context, be *Backend, o Options) error {
	mr, ok := be.Replay.(*gateway.MemoryReplay)
	if !ok {
		return nil
	}
	start := time.Now()
	n, err := gateway.RecoverMemoryReplay(ctx, mr, be.Ledger, o.Clock())
	if err != nil {
		return fmt.Errorf("recover replay protection from the ledger: %w", err)
	}
	o.Log.Info("replay protection recovered from the ledger", "requestIds", n, "took", time.Since(start).String())
	return nil
}
