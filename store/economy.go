package store

import (
	"context"
	"errors"
	"time"
)

// ErrInsufficientBalance is returned by Charge when the account's balance
// is below the amount; nothing is written.
var ErrInsufficientBalance = errors.New("store: insufficient balance")

// ErrChargeRefunded is returned by ChargePending when the key's charge
// exists but was refunded: the caller's earlier attempt was not delivered,
// and a new attempt must be charged under a new key.
var ErrChargeRefunded = errors.New("store: the charge under this key was refunded")

// Account is an agent's balance in integer credits.
type Account struct {
	AgentID   string    `json:"agentId"`
	Balance   int64     `json:"balance"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Transaction kinds.
const (
	TxBudget = "budget" // an operator set the balance; Amount is the change
	TxCharge = "charge" // a charge; Amount is negative
	TxRefund = "refund" // a charge given back; Amount is positive
)

// Transaction is one change of an account's balance.
type Transaction struct {
	TxID           string    `json:"txId"`
	AgentID        string    `json:"agentId"`
	Kind           string    `json:"kind"`
	Amount         int64     `json:"amount"` // signed change of the balance
	BalanceAfter   int64     `json:"balanceAfter"`
	IdempotencyKey string    `json:"idempotencyKey"`
	Memo           string    `json:"memo,omitempty"`
	At             time.Time `json:"at"`
	// Pending marks a charge made by ChargePending whose ledger record is
	// not yet confirmed (SettleCharge clears it).
	Pending bool `json:"pending,omitempty"`
}

// Prices is the economy's price list, one JSON document.
type Prices struct {
	Tiers     map[string]int64 `json:"tiers"`     // "1".."5" → credits
	Resources []ResourcePrice  `json:"resources"` // first match wins, before the tier price
	Version   int64            `json:"version"`   // incremented by every PutPrices
	UpdatedAt time.Time        `json:"updatedAt"`
}

// ResourcePrice prices the actions on resources matching Pattern (a §2
// resource pattern) and, when Action is set, only that action.
type ResourcePrice struct {
	Pattern string `json:"pattern"`
	Action  string `json:"action,omitempty"`
	Price   int64  `json:"price"`
}

// Economy holds budgets, balances, transactions and prices. Every balance
// change is one atomic transaction keyed by (agentId, idempotencyKey): a
// key already used by the agent returns the transaction recorded the first
// time (replayed = true) and changes nothing, whichever replica retries.
type Economy interface {
	// SetBalance sets the agent's balance (creating the account) and
	// records a TxBudget transaction with the change.
	SetBalance(ctx context.Context, agentID string, balance int64, key, memo string, at time.Time) (tx Transaction, replayed bool, err error)
	// Charge subtracts amount (> 0) from the balance. ErrInsufficientBalance
	// if the balance (0 without an account) is below amount.
	Charge(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time) (tx Transaction, replayed bool, err error)
	// ChargePending is Charge whose transaction is recorded as pending
	// (Transaction.Pending): the charge of a decision that the ledger has
	// yet to record. The caller settles it with SettleCharge once the
	// ledger holds the charge's record (or its refund); PendingCharges
	// finds those left pending by a crash. A replay returns the first
	// transaction as it stands (possibly settled), or ErrChargeRefunded if
	// that charge was refunded.
	ChargePending(ctx context.Context, agentID string, amount int64, key, memo string, at time.Time) (tx Transaction, replayed bool, err error)
	// SettleCharge clears the pending mark of the charge recorded under
	// key. Idempotent (settling a settled charge changes nothing);
	// ErrNotFound if the agent has no charge under key.
	SettleCharge(ctx context.Context, agentID, key string) error
	// PendingCharges returns up to limit (0 = no limit) pending charges
	// made before before, oldest first.
	PendingCharges(ctx context.Context, before time.Time, limit int) ([]Transaction, error)
	// Refund gives back the charge recorded under chargeKey, once (its own
	// key is "refund:"+chargeKey). ErrNotFound if there is no such charge.
	// It does not settle a pending charge: that is SettleCharge's.
	Refund(ctx context.Context, agentID, chargeKey string, at time.Time) (tx Transaction, replayed bool, err error)
	// GetAccount returns the account; ErrNotFound if it was never set.
	GetAccount(ctx context.Context, agentID string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error) // by agent id
	// ListTransactions returns the agent's transactions, newest first;
	// limit 0 = no limit.
	ListTransactions(ctx context.Context, agentID string, limit int) ([]Transaction, error)
	GetPrices(ctx context.Context) (Prices, error) // zero Prices when never set
	// PutPrices stores p if the stored version equals p.Version (0 when
	// never set), storing p.Version+1; otherwise ErrConflict.
	PutPrices(ctx context.Context, p Prices) (Prices, error)
}

// Limits of economy input.
const (
	MaxIdempotencyKey = 128
	MaxMemo           = 256
)
