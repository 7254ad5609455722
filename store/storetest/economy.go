package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sintgate/sintgate/store"
)

// EconomyOpener returns a fresh, empty economy store.
type EconomyOpener func(t *testing.T) store.Economy

// RunEconomy runs the economy contract against stores made by open.
func RunEconomy(t *testing.T, open EconomyOpener) {
	agent := "a1"
	t.Run("balance/absent-is-not-found", func(t *testing.T) {
		s := open(t)
		_, err := s.GetAccount(t.Context(), agent)
		wantErr(t, "GetAccount", err, store.ErrNotFound)
		accs, err := s.ListAccounts(t.Context())
		must(t, err)
		equal(t, "accounts", len(accs), 0)
	})
	t.Run("charge/without-account-insufficient", func(t *testing.T) {
		s := open(t)
		_, _, err := s.Charge(t.Context(), agent, 1, "k", "", base)
		wantErr(t, "Charge", err, store.ErrInsufficientBalance)
	})
	t.Run("set-charge-refund", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		tx, rep, err := s.SetBalance(ctx, agent, 100, "b1", "budget", base)
		must(t, err)
		equal(t, "budget", [3]any{tx.Kind, tx.Amount, tx.BalanceAfter}, [3]any{store.TxBudget, int64(100), int64(100)})
		equal(t, "replayed", rep, false)
		equal(t, "time", tx.At, store.NormTime(base))
		tx, _, err = s.Charge(ctx, agent, 30, "c1", "intercept", base)
		must(t, err)
		equal(t, "charge", [2]int64{tx.Amount, tx.BalanceAfter}, [2]int64{-30, 70})
		_, _, err = s.Charge(ctx, agent, 71, "c2", "", base)
		wantErr(t, "over-balance charge", err, store.ErrInsufficientBalance)
		again, rep, err := s.Charge(ctx, agent, 30, "c1", "intercept", base)
		must(t, err)
		equal(t, "retry replayed", rep, true)
		equal(t, "retry same tx", again.TxID, tx.TxID)
		rf, _, err := s.Refund(ctx, agent, "c1", base)
		must(t, err)
		equal(t, "refund", [2]int64{rf.Amount, rf.BalanceAfter}, [2]int64{30, 100})
		_, rep, err = s.Refund(ctx, agent, "c1", base)
		must(t, err)
		equal(t, "refund once", rep, true)
		_, _, err = s.Refund(ctx, agent, "nope", base)
		wantErr(t, "refund unknown", err, store.ErrNotFound)
		tx, _, err = s.SetBalance(ctx, agent, 40, "b2", "", base)
		must(t, err)
		equal(t, "lowered", [2]int64{tx.Amount, tx.BalanceAfter}, [2]int64{-60, 40})
		acc, err := s.GetAccount(ctx, agent)
		must(t, err)
		equal(t, "balance", acc.Balance, int64(40))
		txs, err := s.ListTransactions(ctx, agent, 0)
		must(t, err)
		kinds := []string{}
		for _, x := range txs {
			kinds = append(kinds, x.Kind)
		}
		equal(t, "newest first", kinds, []string{store.TxBudget, store.TxRefund, store.TxCharge, store.TxBudget})
		txs, err = s.ListTransactions(ctx, agent, 2)
		must(t, err)
		equal(t, "limit", len(txs), 2)
		other, err := s.ListTransactions(ctx, "a", 0)
		must(t, err)
		equal(t, "other agent has none", len(other), 0)
	})
	t.Run("pending/charge-settle-list", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, _, err := s.SetBalance(ctx, agent, 100, "b", "", base)
		must(t, err)
		_, _, err = s.SetBalance(ctx, "b1", 100, "b", "", base)
		must(t, err)
		plain, _, err := s.Charge(ctx, agent, 1, "service", "", base)
		must(t, err)
		equal(t, "a plain charge is settled", plain.Pending, false)
		p1, rep, err := s.ChargePending(ctx, agent, 10, "intercept:r1", "", base.Add(time.Second))
		must(t, err)
		equal(t, "pending charge", [4]any{p1.Pending, p1.Kind, p1.Amount, rep}, [4]any{true, store.TxCharge, int64(-10), false})
		_, _, err = s.ChargePending(ctx, "b1", 20, "intercept:r2", "", base)
		must(t, err)
		_, _, err = s.ChargePending(ctx, agent, 30, "intercept:r3", "", base.Add(time.Hour))
		must(t, err)
		_, _, err = s.ChargePending(ctx, agent, 1000, "intercept:r4", "", base)
		wantErr(t, "pending over balance", err, store.ErrInsufficientBalance)
		again, rep, err := s.ChargePending(ctx, agent, 10, "intercept:r1", "", base)
		must(t, err)
		equal(t, "replay", [2]any{rep, again.TxID}, [2]any{true, p1.TxID})
		got, err := s.PendingCharges(ctx, base.Add(time.Minute), 0)
		must(t, err)
		keys := []string{}
		for _, x := range got {
			keys = append(keys, x.AgentID+"/"+x.IdempotencyKey)
		}
		equal(t, "pending before the cut, oldest first", keys, []string{"b1/intercept:r2", "a1/intercept:r1"})
		got, err = s.PendingCharges(ctx, base.Add(2*time.Hour), 1)
		must(t, err)
		equal(t, "limit", len(got), 1)
		must(t, s.SettleCharge(ctx, agent, "intercept:r1"))
		must(t, s.SettleCharge(ctx, agent, "intercept:r1")) // idempotent
		must(t, s.SettleCharge(ctx, agent, "service"))      // already settled
		wantErr(t, "settle unknown", s.SettleCharge(ctx, agent, "nope"), store.ErrNotFound)
		wantErr(t, "settle a budget", s.SettleCharge(ctx, agent, "b"), store.ErrNotFound)
		again, rep, err = s.ChargePending(ctx, agent, 10, "intercept:r1", "", base)
		must(t, err)
		equal(t, "replay after settle", [2]any{rep, again.Pending}, [2]any{true, false})
		// A refund leaves the pending mark: settling is the caller's.
		_, _, err = s.Refund(ctx, "b1", "intercept:r2", base)
		must(t, err)
		got, err = s.PendingCharges(ctx, base.Add(2*time.Hour), 0)
		must(t, err)
		keys = keys[:0]
		for _, x := range got {
			keys = append(keys, x.AgentID+"/"+x.IdempotencyKey)
		}
		equal(t, "after settle", keys, []string{"b1/intercept:r2", "a1/intercept:r3"})
		must(t, s.SettleCharge(ctx, "b1", "intercept:r2"))
		_, _, err = s.ChargePending(ctx, "b1", 20, "intercept:r2", "", base)
		wantErr(t, "pending replay of a refunded charge", err, store.ErrChargeRefunded)
		_, rep, err = s.Charge(ctx, "b1", 20, "intercept:r2", "", base)
		must(t, err)
		equal(t, "a plain replay is a replay", rep, true)
		txs, err := s.ListTransactions(ctx, agent, 0)
		must(t, err)
		for _, x := range txs {
			if x.IdempotencyKey == "intercept:r1" && x.Pending {
				t.Error("settled charge listed as pending")
			}
		}
		acc, err := s.GetAccount(ctx, agent)
		must(t, err)
		equal(t, "balance", acc.Balance, int64(100-1-10-30))
	})
	t.Run("pending/concurrent-settle", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, _, err := s.SetBalance(ctx, agent, 100, "b", "", base)
		must(t, err)
		_, _, err = s.ChargePending(ctx, agent, 10, "k", "", base)
		must(t, err)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if err := s.SettleCharge(ctx, agent, "k"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := s.PendingCharges(ctx, base.Add(time.Hour), 0)
		must(t, err)
		equal(t, "none pending", len(got), 0)
	})
	t.Run("keys/per-agent", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, _, err := s.SetBalance(ctx, "x", 5, "same", "", base)
		must(t, err)
		_, rep, err := s.SetBalance(ctx, "y", 7, "same", "", base)
		must(t, err)
		equal(t, "another agent's key is not a replay", rep, false)
	})
	t.Run("concurrent/same-key-charges-once", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, _, err := s.SetBalance(ctx, agent, 1000, "b", "", base)
		must(t, err)
		var wg sync.WaitGroup
		var fresh atomic.Int32
		for range 16 {
			wg.Go(func() {
				_, rep, err := s.Charge(ctx, agent, 10, "retry-me", "", base)
				if err != nil {
					t.Error(err)
				}
				if !rep {
					fresh.Add(1)
				}
			})
		}
		wg.Wait()
		acc, err := s.GetAccount(ctx, agent)
		must(t, err)
		equal(t, "charged once", [2]int64{int64(fresh.Load()), acc.Balance}, [2]int64{1, 990})
	})
	t.Run("concurrent/never-negative", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		_, _, err := s.SetBalance(ctx, agent, 50, "b", "", base)
		must(t, err)
		var wg sync.WaitGroup
		var ok atomic.Int32
		for i := range 20 {
			wg.Go(func() {
				_, _, err := s.Charge(ctx, agent, 10, fmt.Sprint("k", i), "", base)
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, store.ErrInsufficientBalance):
					t.Error(err)
				}
			})
		}
		wg.Wait()
		acc, err := s.GetAccount(ctx, agent)
		must(t, err)
		equal(t, "five charges, balance 0", [2]int64{int64(ok.Load()), acc.Balance}, [2]int64{5, 0})
	})
	t.Run("prices/compare-and-set", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		p, err := s.GetPrices(ctx)
		must(t, err)
		equal(t, "empty", [2]int{len(p.Tiers), int(p.Version)}, [2]int{0, 0})
		p.Tiers = map[string]int64{"3": 5}
		p.Resources = []store.ResourcePrice{{Pattern: "ros:///arm/*", Action: "call", Price: 20}}
		p.UpdatedAt = base
		put, err := s.PutPrices(ctx, p)
		must(t, err)
		equal(t, "version", put.Version, int64(1))
		got, err := s.GetPrices(ctx)
		must(t, err)
		equal(t, "round trip", got, put)
		_, err = s.PutPrices(ctx, p) // stale version 0
		wantErr(t, "stale PutPrices", err, store.ErrConflict)
	})
	t.Run("validation", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if _, _, err := s.Charge(ctx, agent, 0, "k", "", base); err == nil {
			t.Error("zero charge accepted")
		}
		if _, _, err := s.SetBalance(ctx, agent, -1, "k", "", base); err == nil {
			t.Error("negative balance accepted")
		}
		if _, _, err := s.Charge(ctx, agent, 1, "", "", base); err == nil {
			t.Error("empty key accepted")
		}
		if _, _, err := s.SetBalance(ctx, "", 1, "k", "", base); err == nil {
			t.Error("empty agent accepted")
		}
		if _, _, err := s.SetBalance(ctx, agent, 1, "k\x00", "", base); err == nil {
			t.Error("NUL key accepted")
		}
	})
}
