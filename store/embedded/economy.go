package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// Economy buckets, created by the first economy write (files written
// before the economy existed simply lack them):
//
//	econ_accounts: agentId → accountRec (JSON)
//	econ_tx:       lp(agentId) ‖ ord(seq) → txRec (JSON); seq from the bucket sequence
//	econ_keys:     lp(agentId) ‖ idempotencyKey → the econ_tx key
//	econ_meta:     "prices" → store.Prices (JSON)
//	econ_pending:  the econ_tx key of a pending charge → agentId
var (
	bEconAccounts = []byte("econ_accounts")
	bEconTx       = []byte("econ_tx")
	bEconKeys     = []byte("econ_keys")
	bEconMeta     = []byte("econ_meta")
	bEconPending  = []byte("econ_pending")
	keyPrices     = []byte("prices")
)

var _ store.Economy = (*Store)(nil)

type accountRec struct {
	Balance   int64 `json:"balance"`
	UpdatedAt int64 `json:"updatedAtUs"`
}

type txRec struct {
	TxID   string `json:"txId"`
	Kind   string `json:"kind"`
	Amount int64  `json:"amount"`
	After  int64  `json:"balanceAfter"`
	Key    string `json:"key"`
	Memo   string `json:"memo,omitempty"`
	At     int64  `json:"atUs"`
	// Pending: a ChargePending charge not yet settled.
	Pending bool `json:"pending,omitempty"`
}

func (r txRec) tx(agentID string) store.Transaction {
	return store.Transaction{TxID: r.TxID, AgentID: agentID, Kind: r.Kind, Amount: r.Amount, BalanceAfter: r.After,
		IdempotencyKey: r.Key, Memo: r.Memo, At: fromMicros(r.At), Pending: r.Pending}
}

func checkEcon(agentID, key, memo string) error {
	if err := check.ID("agent id", agentID); err != nil {
		return err
	}
	if err := check.ID("idempotency key", key); err != nil {
		return err
	}
	if len(key) > store.MaxIdempotencyKey || len(memo) > store.MaxMemo {
		return fmt.Errorf("%w: idempotency key or memo too long", check.ErrInvalid)
	}
	return check.Text("memo", memo)
}

func econBuckets(tx *bolt.Tx) (acc, txs, keys *bolt.Bucket, err error) {
	if acc, err = tx.CreateBucketIfNotExists(bEconAccounts); err != nil {
		return
	}
	if txs, err = tx.CreateBucketIfNotExists(bEconTx); err != nil {
		return
	}
	keys, err = tx.CreateBucketIfNotExists(bEconKeys)
	return
}

// apply is the one balance-changing transaction: replay by key, then
// change(balance, exists) → (amount, kind, error), then write.
func (s *Store) apply(ctx context.Context, op, agentID, key, memo string, at time.Time, pending bool,
	change func(tx *bolt.Tx, balance int64, exists bool) (amount int64, kind string, err error)) (store.Transaction, bool, error) {
	return s.applyReplay(ctx, op, agentID, key, memo, at, pending, nil, change)
}

// applyReplay is apply with a check of a replayed key in the same
// transaction (replay non-nil).
func (s *Store) applyReplay(ctx context.Context, op, agentID, key, memo string, at time.Time, pending bool,
	replay func(keys *bolt.Bucket) error,
	change func(tx *bolt.Tx, balance int64, exists bool) (amount int64, kind string, err error)) (store.Transaction, bool, error) {
	if err := checkEcon(agentID, key, memo); err != nil {
		return store.Transaction{}, false, wrap(op, err)
	}
	var out store.Transaction
	var replayed bool
	err := s.update(ctx, func(tx *bolt.Tx) error {
		out, replayed = store.Transaction{}, false
		acc, txs, keys, err := econBuckets(tx)
		if err != nil {
			return err
		}
		kk := append(lp(agentID), key...)
		if ref := keys.Get(kk); ref != nil {
			var r txRec
			if err := json.Unmarshal(txs.Get(ref), &r); err != nil {
				return fmt.Errorf("decode transaction: %w", err)
			}
			out, replayed = r.tx(agentID), true
			if replay != nil {
				return replay(keys)
			}
			return nil
		}
		var a accountRec
		raw := acc.Get([]byte(agentID))
		if raw != nil {
			if err := json.Unmarshal(raw, &a); err != nil {
				return fmt.Errorf("decode account: %w", err)
			}
		}
		amount, kind, err := change(tx, a.Balance, raw != nil)
		if err != nil {
			return err
		}
		a.Balance += amount
		a.UpdatedAt = micros(at)
		seq, err := txs.NextSequence()
		if err != nil {
			return err
		}
		r := txRec{TxID: uuid.Must(uuid.NewV7()).String(), Kind: kind, Amount: amount, After: a.Balance, Key: key, Memo: memo, At: micros(at), Pending: pending}
		tk := append(lp(agentID), ordered(int64(seq))...)
		if err := putJSON(txs, string(tk), r); err != nil {
			return err
		}
		if pending {
			pb, err := tx.CreateBucketIfNotExists(bEconPending)
			if err != nil {
				return err
			}
			if err := pb.Put(tk, []byte(agentID)); err != nil {
				return err
			}
		}
		if err := keys.Put(kk, tk); err != nil {
			return err
		}
		if err := putJSON(acc, agentID, a); err != nil {
			return err
		}
		out = r.tx(agentID)
		return nil
	})
	if err != nil {
		return store.Transaction{}, false, wrap(op, err)
	}
	return out, replayed, nil
}

// SetBalance implements store.Economy.
func (s *Store) SetBalance(ctx context.Context, agentID string, balance int64, key, memo string, at time.Time) (store.Transaction, bool, error) {
	if balance < 0 {
		return store.Transaction{}, false, wrap("set balance", fmt.Errorf("%w: negative balance", check.ErrInvalid))
	}
	return s.apply(ctx, "set balance", agentID, key, memo, at, false, func(_ *bolt.Tx, cur int64, _ bool) (int64, string, error) {
		return balance - cur, store.TxBudget, nil
	})
}

// Charge implements store.Economy.
func (s *Store) Charge(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time) (store.Transaction, bool, error) {
	return s.charge(ctx, agentID, amount, key, memo, at, false)
}

// ChargePending implements store.Economy.
func (s *Store) ChargePending(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time) (store.Transaction, bool, error) {
	return s.charge(ctx, agentID, amount, key, memo, at, true)
}

// SettleCharge implements store.Economy.
func (s *Store) SettleCharge(ctx context.Context, agentID, key string) error {
	if err := checkEcon(agentID, key, ""); err != nil {
		return wrap("settle charge", err)
	}
	return wrap("settle charge", s.update(ctx, func(tx *bolt.Tx) error {
		keys, txs := tx.Bucket(bEconKeys), tx.Bucket(bEconTx)
		if keys == nil || txs == nil {
			return store.ErrNotFound
		}
		tk := keys.Get(append(lp(agentID), key...))
		if tk == nil {
			return store.ErrNotFound
		}
		tk = append([]byte(nil), tk...)
		var r txRec
		if err := json.Unmarshal(txs.Get(tk), &r); err != nil {
			return fmt.Errorf("decode transaction: %w", err)
		}
		if r.Kind != store.TxCharge {
			return store.ErrNotFound
		}
		if !r.Pending {
			return nil
		}
		r.Pending = false
		if err := putJSON(txs, string(tk), r); err != nil {
			return err
		}
		if pb := tx.Bucket(bEconPending); pb != nil {
			return pb.Delete(tk)
		}
		return nil
	}))
}

// PendingCharges implements store.Economy. The pending index holds only
// the charges in flight or left by a crash, so a scan is cheap.
func (s *Store) PendingCharges(ctx context.Context, before time.Time, limit int) ([]store.Transaction, error) {
	out := []store.Transaction{}
	cut := micros(before)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		pb, txs := tx.Bucket(bEconPending), tx.Bucket(bEconTx)
		if pb == nil || txs == nil {
			return nil
		}
		return pb.ForEach(func(k, v []byte) error {
			var r txRec
			if err := json.Unmarshal(txs.Get(k), &r); err != nil {
				return fmt.Errorf("decode transaction: %w", err)
			}
			if r.At < cut {
				out = append(out, r.tx(string(v)))
			}
			return nil
		})
	})
	if err != nil {
		return nil, wrap("pending charges", err)
	}
	slices.SortStableFunc(out, func(a, b store.Transaction) int { return a.At.Compare(b.At) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *Store) charge(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time, pending bool) (store.Transaction, bool, error) {
	if amount <= 0 {
		return store.Transaction{}, false, wrap("charge", fmt.Errorf("%w: amount must be positive", check.ErrInvalid))
	}
	var replay func(keys *bolt.Bucket) error
	if pending {
		replay = func(keys *bolt.Bucket) error {
			if keys.Get(append(lp(agentID), "refund:"+key...)) != nil {
				return store.ErrChargeRefunded
			}
			return nil
		}
	}
	return s.applyReplay(ctx, "charge", agentID, key, memo, at, pending, replay, func(_ *bolt.Tx, cur int64, _ bool) (int64, string, error) {
		if cur < amount {
			return 0, "", store.ErrInsufficientBalance
		}
		return -amount, store.TxCharge, nil
	})
}

// Refund implements store.Economy.
func (s *Store) Refund(ctx context.Context, agentID, chargeKey string, at time.Time) (store.Transaction, bool, error) {
	if err := check.ID("charge key", chargeKey); err != nil {
		return store.Transaction{}, false, wrap("refund", err)
	}
	return s.apply(ctx, "refund", agentID, "refund:"+chargeKey, "refund of "+chargeKey, at, false, func(tx *bolt.Tx, _ int64, _ bool) (int64, string, error) {
		ref := tx.Bucket(bEconKeys).Get(append(lp(agentID), chargeKey...))
		if ref == nil {
			return 0, "", store.ErrNotFound
		}
		var r txRec
		if err := json.Unmarshal(tx.Bucket(bEconTx).Get(ref), &r); err != nil {
			return 0, "", fmt.Errorf("decode transaction: %w", err)
		}
		if r.Kind != store.TxCharge {
			return 0, "", store.ErrNotFound
		}
		return -r.Amount, store.TxRefund, nil
	})
}

// GetAccount implements store.Economy.
func (s *Store) GetAccount(ctx context.Context, agentID string) (store.Account, error) {
	var a store.Account
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bEconAccounts)
		if b == nil {
			return store.ErrNotFound
		}
		var r accountRec
		if err := getJSON(b, agentID, &r); err != nil {
			return err
		}
		a = store.Account{AgentID: agentID, Balance: r.Balance, UpdatedAt: fromMicros(r.UpdatedAt)}
		return nil
	})
	return a, wrap("get account", err)
}

// ListAccounts implements store.Economy.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	out := []store.Account{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bEconAccounts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r accountRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, store.Account{AgentID: string(k), Balance: r.Balance, UpdatedAt: fromMicros(r.UpdatedAt)})
			return nil
		})
	})
	return out, wrap("list accounts", err)
}

// ListTransactions implements store.Economy.
func (s *Store) ListTransactions(ctx context.Context, agentID string, limit int) ([]store.Transaction, error) {
	out := []store.Transaction{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bEconTx)
		if b == nil {
			return nil
		}
		prefix := lp(agentID)
		c := b.Cursor()
		// Seek past the agent's last key: the prefix followed by 0xff….
		var v []byte
		k, _ := c.Seek(append(append([]byte{}, prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && len(k) == len(prefix)+8 && string(k[:len(prefix)]) == string(prefix); k, v = c.Prev() {
			var r txRec
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r.tx(agentID))
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	return out, wrap("list transactions", err)
}

// GetPrices implements store.Economy.
func (s *Store) GetPrices(ctx context.Context) (store.Prices, error) {
	p := store.Prices{Tiers: map[string]int64{}, Resources: []store.ResourcePrice{}}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bEconMeta)
		if b == nil || b.Get(keyPrices) == nil {
			return nil
		}
		return json.Unmarshal(b.Get(keyPrices), &p)
	})
	return normPrices(p), wrap("get prices", err)
}

func normPrices(p store.Prices) store.Prices {
	if p.Tiers == nil {
		p.Tiers = map[string]int64{}
	}
	if p.Resources == nil {
		p.Resources = []store.ResourcePrice{}
	}
	if !p.UpdatedAt.IsZero() {
		p.UpdatedAt = store.NormTime(p.UpdatedAt)
	}
	return p
}

// PutPrices implements store.Economy.
func (s *Store) PutPrices(ctx context.Context, p store.Prices) (store.Prices, error) {
	for _, r := range p.Resources {
		if err := check.Text("price pattern", r.Pattern, r.Action); err != nil {
			return store.Prices{}, wrap("put prices", err)
		}
	}
	p = normPrices(p)
	var out store.Prices
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bEconMeta)
		if err != nil {
			return err
		}
		var cur store.Prices
		if raw := b.Get(keyPrices); raw != nil {
			if err := json.Unmarshal(raw, &cur); err != nil {
				return err
			}
		}
		if cur.Version != p.Version {
			return store.ErrConflict
		}
		out = p
		out.Version++
		return putJSON(b, string(keyPrices), out)
	})
	if err != nil {
		return store.Prices{}, wrap("put prices", err)
	}
	return out, nil
}
