package app

import (
	"context"
	"fmt"
	"path/filepath"

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
	// Attach, if set, is called at the end of Build with the built gateway;
	// it may add work to g.background, started by Background.
	Attach func(ctx context.Context, g *Gateway) error
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
	be.Store = st
	be.Closers = append(be.Closers, st.Close)
	lg, err := openEmbeddedLedger(filepath.Join(o.DataDir, ledgerDir), o.Clock)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	be.Ledger = lg
	be.Closers = append(be.Closers, lg.Close)
	return be, nil
}
