// Package economy is the agent economy: operators give agents budgets
// (balances in integer credits), a price list prices allowed actions per
// resource pattern, action and tier, and every allowed intercept is
// charged through the store's idempotent, atomic balance change before its
// decision commits (gateway.Charger), as a pending charge settled once the
// ledger holds its economy.charged event; Reconciler settles or refunds
// the charges a crash left pending. Agents also pay for services with
// idempotency keys.
//
// Price is pure. Service keeps the price list in memory (an atomic
// pointer swapped by SetPrices and Load) so that pricing an intercept
// does no I/O; only a priced action touches the store.
package economy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/tokens"
)

// Limits on the price list.
const (
	MaxResourcePrices = 256
	MaxPrice          = 1 << 40
)

// Price returns the price of action on resource at tier: the first
// resource entry whose pattern matches (and whose action, if set, equals
// action), else the tier's price, else 0 (free).
func Price(p *store.Prices, resource, action string, tier int) int64 {
	if p == nil {
		return 0
	}
	for _, r := range p.Resources {
		if (r.Action == "" || r.Action == action) && tokens.Match(r.Pattern, resource) {
			return r.Price
		}
	}
	return p.Tiers[strconv.Itoa(tier)]
}

// Validate checks a price list from an operator.
func Validate(p *store.Prices) error {
	if len(p.Resources) > MaxResourcePrices {
		return fmt.Errorf("at most %d resource prices", MaxResourcePrices)
	}
	for k, v := range p.Tiers {
		t, err := strconv.Atoi(k)
		if err != nil || t < 1 || t > 5 || strconv.Itoa(t) != k {
			return fmt.Errorf("tier %q: tiers are \"1\" to \"5\"", k)
		}
		if v < 0 || v > MaxPrice {
			return fmt.Errorf("tier %s: price out of range", k)
		}
	}
	for i, r := range p.Resources {
		if err := tokens.ValidPattern(r.Pattern); err != nil {
			return fmt.Errorf("resources[%d]: %v", i, err)
		}
		if len(r.Action) > gateway.MaxActionBytes {
			return fmt.Errorf("resources[%d]: action too long", i)
		}
		if r.Price < 0 || r.Price > MaxPrice {
			return fmt.Errorf("resources[%d]: price out of range", i)
		}
	}
	return nil
}

// Service implements gateway.Charger over a store.Economy.
type Service struct {
	Store store.Economy
	// RefreshEvery is how old the cached price list may get before a charge
	// starts a background reload (other replicas' changes); 0 = 10 s.
	RefreshEvery time.Duration

	prices     atomic.Pointer[store.Prices]
	loadedAt   atomic.Int64 // unix ms of the last load, from the caller's clock
	refreshing atomic.Bool
}

// DefaultRefresh is RefreshEvery's default.
const DefaultRefresh = 10 * time.Second

// maybeRefresh reloads the price list in the background when it is older
// than RefreshEvery; it never blocks the caller.
func (s *Service) maybeRefresh(now time.Time) {
	every := s.RefreshEvery
	if every <= 0 {
		every = DefaultRefresh
	}
	if now.UnixMilli()-s.loadedAt.Load() < every.Milliseconds() || !s.refreshing.CompareAndSwap(false, true) {
		return
	}
	s.loadedAt.Store(now.UnixMilli())
	go func() {
		defer s.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if p, err := s.Store.GetPrices(ctx); err == nil {
			s.prices.Store(&p)
		}
	}()
}

var _ gateway.Charger = (*Service)(nil)

// Load reads the price list from the store (at start, and on replicas
// after another one changed it).
func (s *Service) Load(ctx context.Context) error {
	p, err := s.Store.GetPrices(ctx)
	if err != nil {
		return err
	}
	s.prices.Store(&p)
	return nil
}

// LoadAt is Load that also stamps the load time used by the background
// refresh.
func (s *Service) LoadAt(ctx context.Context, now time.Time) error {
	if err := s.Load(ctx); err != nil {
		return err
	}
	s.loadedAt.Store(now.UnixMilli())
	return nil
}

// Prices returns the price list in use.
func (s *Service) Prices() store.Prices {
	if p := s.prices.Load(); p != nil {
		return *p
	}
	return store.Prices{Tiers: map[string]int64{}, Resources: []store.ResourcePrice{}}
}

// SetPrices validates and stores p (compare-and-set on p.Version) and puts
// it in use.
func (s *Service) SetPrices(ctx context.Context, p store.Prices, now time.Time) (store.Prices, error) {
	if err := Validate(&p); err != nil {
		return store.Prices{}, codes.New(codes.MalformedRequest, err.Error())
	}
	p.UpdatedAt = now
	out, err := s.Store.PutPrices(ctx, p)
	if err != nil {
		return store.Prices{}, err
	}
	s.prices.Store(&out)
	return out, nil
}

// MaxChargeAttempts bounds the charges of one request id whose earlier
// attempts were refunded (keys intercept:<id>, intercept:<id>#2, …).
const MaxChargeAttempts = 8

// InterceptKey is the idempotency key of the charge for an intercept.
func InterceptKey(requestID string) string { return "intercept:" + requestID }

// Charge implements gateway.Charger.
func (s *Service) Charge(ctx context.Context, req *gateway.Request, tier int, now time.Time) (gateway.Charge, error) {
	s.maybeRefresh(now)
	amount := Price(s.prices.Load(), req.Resource, req.Action, tier)
	if amount <= 0 {
		return gateway.Charge{}, nil
	}
	key := InterceptKey(req.RequestID)
	memo := req.Action + " " + truncate(req.Resource, 200)
	tx, _, err := s.Store.ChargePending(ctx, req.AgentID, amount, key, memo, now)
	// An earlier attempt for this request was charged and refunded (its
	// allow was not delivered, e.g. an approval grant whose ledger append
	// failed): this attempt is charged anew, under the next key.
	for n := 2; errors.Is(err, store.ErrChargeRefunded) && n <= MaxChargeAttempts; n++ {
		key = InterceptKey(req.RequestID) + "#" + strconv.Itoa(n)
		tx, _, err = s.Store.ChargePending(ctx, req.AgentID, amount, key, memo, now)
	}
	if errors.Is(err, store.ErrInsufficientBalance) {
		return gateway.Charge{}, codes.New(codes.InsufficientBalance, fmt.Sprintf("the action costs %d credits, more than the agent's balance", amount))
	}
	if err != nil {
		return gateway.Charge{}, err
	}
	return gateway.Charge{AgentID: req.AgentID, Key: key, TxID: tx.TxID, Amount: -tx.Amount, Balance: tx.BalanceAfter}, nil
}

// Settle implements gateway.Charger.
func (s *Service) Settle(ctx context.Context, c gateway.Charge) error {
	return s.Store.SettleCharge(ctx, c.AgentID, c.Key)
}

// Refund implements gateway.Charger.
func (s *Service) Refund(ctx context.Context, c gateway.Charge, now time.Time) error {
	_, _, err := s.Store.Refund(ctx, c.AgentID, c.Key, now)
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
