package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/gateway/approvals"
	"github.com/sintgate/sintgate/ledger"
)

// approvalsHub returns the hub behind the approval streams and the ledger
// wrapped so that every append wakes it. Build uses the wrapped ledger for
// everything.
func approvalsHub(l ledger.Store, log *slog.Logger) (*approvals.Hub, ledger.Store) {
	hub := &approvals.Hub{Ledger: l, Log: log}
	return hub, hub.Wrap(l)
}

// cancelAttemptTimeout bounds one attempt of the trip watcher to cancel
// the pending approvals; it retries until one succeeds.
const cancelAttemptTimeout = 2 * time.Second

// wireApprovals completes the approvals service once the pipeline exists:
// the granting side (breaker, signer, facts), standing approvals in the
// pipeline's state, the stream hub, and cancellation of every pending
// approval on a trip from any source. Its goroutines stop at Close (the
// hub also when ctx ends).
func wireApprovals(ctx context.Context, g *Gateway, hub *approvals.Hub, p *gateway.Pipeline, gatewayID string) error {
	a := g.Approvals
	a.GatewayID, a.Breaker, a.Signer, a.Facts, a.Hub = gatewayID, g.Breaker, p.Signer, p, hub
	if err := a.LoadStanding(ctx); err != nil {
		return fmt.Errorf("load standing approvals: %w", err)
	}
	st := *p.State()
	st.Standing = a.Standing()
	p.SetState(&st)
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	// The hub also stops when Build's context ends (Serve's shutdown), so
	// that open streams end and the server's graceful shutdown does not wait
	// for stream clients.
	hctx, hcancel := context.WithCancel(ctx)
	if err := hub.Start(hctx); err != nil {
		cancel()
		hcancel()
		return fmt.Errorf("start approvals hub: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = estop.WatchTrips(bctx, g.Breaker, func(estop.State) {
			// Retried until every pending approval is cancelled: a trip
			// while the store is down must still cancel them once it is
			// back (and until then no vote can grant them: Vote refuses
			// while tripped, and an approval older than the last re-arm).
			// Each attempt is bounded (cancelAttemptTimeout): a store that
			// does not answer at all must not hold the watcher, nor the
			// approvals' lock that the trip endpoint's own cancellation
			// and every vote take.
			for delay := 50 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
				actx, acancel := context.WithTimeout(context.WithoutCancel(bctx), cancelAttemptTimeout)
				err := a.CancelPending(actx, "e-stop tripped")
				acancel()
				if err == nil {
					return
				}
				g.Log.Warn("e-stop: pending approvals not all cancelled yet (retrying)", "err", err)
				select {
				case <-bctx.Done():
					return
				case <-time.After(delay):
				}
			}
		})
	}()
	g.closers = append(g.closers, func() error {
		hcancel()
		cancel()
		wg.Wait()
		return nil
	})
	return nil
}
