package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// The economy (migration 0002). A balance change runs in one READ
// COMMITTED transaction that first locks the account row (SELECT … FOR
// UPDATE), then looks the idempotency key up: a concurrent retry of the
// same key, on any replica, waits for the lock and then finds the first
// attempt's transaction. The balance CHECK (≥ 0) backs the charge rule.

var _ store.Economy = (*Store)(nil)

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

const txCols = "tx_id, agent_id, kind, amount, balance_after, idempotency_key, memo, at, pending"

func scanTx(r pgx.Row) (store.Transaction, error) {
	var t store.Transaction
	err := r.Scan(&t.TxID, &t.AgentID, &t.Kind, &t.Amount, &t.BalanceAfter, &t.IdempotencyKey, &t.Memo, &t.At, &t.Pending)
	t.At = t.At.UTC()
	return t, err
}

// apply runs one balance change; change sees the locked balance (exists
// false when there is no account) and returns the signed amount and kind.
func (s *Store) apply(ctx context.Context, op, agentID, key, memo string, at time.Time, create, pending bool,
	change func(ctx context.Context, tx pgx.Tx, balance int64, exists bool) (int64, string, error)) (store.Transaction, bool, error) {
	return s.applyReplay(ctx, op, agentID, key, memo, at, create, pending, nil, change)
}

// applyReplay is apply with a check of a replayed key in the same
// transaction, under the account row lock (replay non-nil).
func (s *Store) applyReplay(ctx context.Context, op, agentID, key, memo string, at time.Time, create, pending bool,
	replay func(ctx context.Context, tx pgx.Tx) error,
	change func(ctx context.Context, tx pgx.Tx, balance int64, exists bool) (int64, string, error)) (store.Transaction, bool, error) {
	if err := checkEcon(agentID, key, memo); err != nil {
		return store.Transaction{}, false, wrap(op, err)
	}
	at = store.NormTime(at)
	var out store.Transaction
	var replayed bool
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		out, replayed = store.Transaction{}, false
		if create {
			if _, err := tx.Exec(ctx, `INSERT INTO econ_accounts (agent_id, balance, updated_at) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING`, agentID, at); err != nil {
				return err
			}
		}
		var balance int64
		exists := true
		if err := tx.QueryRow(ctx, `SELECT balance FROM econ_accounts WHERE agent_id = $1 FOR UPDATE`, agentID).Scan(&balance); errors.Is(err, pgx.ErrNoRows) {
			exists = false
		} else if err != nil {
			return err
		}
		prev, err := scanTx(tx.QueryRow(ctx, "SELECT "+txCols+" FROM econ_transactions WHERE agent_id = $1 AND idempotency_key = $2", agentID, key))
		if err == nil {
			out, replayed = prev, true
			if replay != nil {
				return replay(ctx, tx)
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		amount, kind, err := change(ctx, tx, balance, exists)
		if err != nil {
			return err
		}
		if !exists {
			return store.ErrInsufficientBalance
		}
		balance += amount
		if _, err := tx.Exec(ctx, `UPDATE econ_accounts SET balance = $2, updated_at = $3 WHERE agent_id = $1`, agentID, balance, at); err != nil {
			return err
		}
		out = store.Transaction{TxID: uuid.Must(uuid.NewV7()).String(), AgentID: agentID, Kind: kind, Amount: amount,
			BalanceAfter: balance, IdempotencyKey: key, Memo: memo, At: at, Pending: pending}
		_, err = tx.Exec(ctx, "INSERT INTO econ_transactions ("+txCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			out.TxID, agentID, kind, amount, balance, key, memo, at, pending)
		return err
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
	return s.apply(ctx, "set balance", agentID, key, memo, at, true, false, func(_ context.Context, _ pgx.Tx, cur int64, _ bool) (int64, string, error) {
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

// SettleCharge implements store.Economy: one UPDATE, idempotent, safe
// from any number of replicas at once.
func (s *Store) SettleCharge(ctx context.Context, agentID, key string) error {
	if err := checkEcon(agentID, key, ""); err != nil {
		return wrap("settle charge", err)
	}
	var found bool
	err := s.pool.QueryRow(ctx, `WITH u AS (UPDATE econ_transactions SET pending = false WHERE agent_id = $1 AND idempotency_key = $2 AND kind = 'charge' AND pending RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u) OR EXISTS (SELECT 1 FROM econ_transactions WHERE agent_id = $1 AND idempotency_key = $2 AND kind = 'charge')`, agentID, key).Scan(&found)
	if err == nil && !found {
		err = store.ErrNotFound
	}
	return wrap("settle charge", err)
}

// PendingCharges implements store.Economy (the partial index of 0003).
func (s *Store) PendingCharges(ctx context.Context, before time.Time, limit int) ([]store.Transaction, error) {
	q := "SELECT " + txCols + " FROM econ_transactions WHERE pending AND at < $1 ORDER BY at, seq"
	args := []any{store.NormTime(before)}
	if limit > 0 {
		q += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("pending charges", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Transaction, error) { return scanTx(r) })
	if out == nil {
		out = []store.Transaction{}
	}
	return out, wrap("pending charges", err)
}

func (s *Store) charge(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time, pending bool) (store.Transaction, bool, error) {
	if amount <= 0 {
		return store.Transaction{}, false, wrap("charge", fmt.Errorf("%w: amount must be positive", check.ErrInvalid))
	}
	var replay func(ctx context.Context, tx pgx.Tx) error
	if pending {
		replay = func(ctx context.Context, tx pgx.Tx) error {
			var refunded bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM econ_transactions WHERE agent_id = $1 AND idempotency_key = $2)`, agentID, "refund:"+key).Scan(&refunded); err != nil {
				return err
			}
			if refunded {
				return store.ErrChargeRefunded
			}
			return nil
		}
	}
	return s.applyReplay(ctx, "charge", agentID, key, memo, at, false, pending, replay, func(_ context.Context, _ pgx.Tx, cur int64, _ bool) (int64, string, error) {
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
	return s.apply(ctx, "refund", agentID, "refund:"+chargeKey, "refund of "+chargeKey, at, false, false, func(ctx context.Context, tx pgx.Tx, _ int64, _ bool) (int64, string, error) {
		var amount int64
		err := tx.QueryRow(ctx, `SELECT amount FROM econ_transactions WHERE agent_id = $1 AND idempotency_key = $2 AND kind = 'charge'`, agentID, chargeKey).Scan(&amount)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, "", store.ErrNotFound
		}
		return -amount, store.TxRefund, err
	})
}

// GetAccount implements store.Economy.
func (s *Store) GetAccount(ctx context.Context, agentID string) (store.Account, error) {
	a := store.Account{AgentID: agentID}
	err := s.pool.QueryRow(ctx, `SELECT balance, updated_at FROM econ_accounts WHERE agent_id = $1`, agentID).Scan(&a.Balance, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Account{}, wrap("get account", store.ErrNotFound)
	}
	a.UpdatedAt = a.UpdatedAt.UTC()
	return a, wrap("get account", err)
}

// ListAccounts implements store.Economy.
func (s *Store) ListAccounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT agent_id, balance, updated_at FROM econ_accounts ORDER BY agent_id`)
	if err != nil {
		return nil, wrap("list accounts", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Account, error) {
		var a store.Account
		err := r.Scan(&a.AgentID, &a.Balance, &a.UpdatedAt)
		a.UpdatedAt = a.UpdatedAt.UTC()
		return a, err
	})
	if out == nil {
		out = []store.Account{}
	}
	return out, wrap("list accounts", err)
}

// ListTransactions implements store.Economy.
func (s *Store) ListTransactions(ctx context.Context, agentID string, limit int) ([]store.Transaction, error) {
	q := "SELECT " + txCols + " FROM econ_transactions WHERE agent_id = $1 ORDER BY seq DESC"
	args := []any{agentID}
	if limit > 0 {
		q += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list transactions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Transaction, error) { return scanTx(r) })
	if out == nil {
		out = []store.Transaction{}
	}
	return out, wrap("list transactions", err)
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

// GetPrices implements store.Economy.
func (s *Store) GetPrices(ctx context.Context) (store.Prices, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT doc FROM econ_prices WHERE id = 1`).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return normPrices(store.Prices{}), nil
	}
	if err != nil {
		return store.Prices{}, wrap("get prices", err)
	}
	var p store.Prices
	if err := json.Unmarshal(doc, &p); err != nil {
		return store.Prices{}, wrap("get prices", err)
	}
	return normPrices(p), nil
}

// PutPrices implements store.Economy.
func (s *Store) PutPrices(ctx context.Context, p store.Prices) (store.Prices, error) {
	for _, r := range p.Resources {
		if err := check.Text("price pattern", r.Pattern, r.Action); err != nil {
			return store.Prices{}, wrap("put prices", err)
		}
	}
	out := normPrices(p)
	out.Version = p.Version + 1
	doc, err := json.Marshal(out)
	if err != nil {
		return store.Prices{}, wrap("put prices", err)
	}
	var tag int64
	if p.Version == 0 {
		err = s.pool.QueryRow(ctx, `INSERT INTO econ_prices (id, doc, version) VALUES (1, $1, 1) ON CONFLICT DO NOTHING RETURNING version`, doc).Scan(&tag)
	} else {
		err = s.pool.QueryRow(ctx, `UPDATE econ_prices SET doc = $1, version = $2 WHERE id = 1 AND version = $3 RETURNING version`, doc, out.Version, p.Version).Scan(&tag)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Prices{}, wrap("put prices", store.ErrConflict)
	}
	if err != nil {
		return store.Prices{}, wrap("put prices", err)
	}
	return out, nil
}
