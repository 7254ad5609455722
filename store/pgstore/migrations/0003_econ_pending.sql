-- 0003: pending intercept charges (store.Economy.ChargePending). A charge
-- is pending from the moment it is made until the ledger holds its
-- economy.charged (or economy.refunded) event; the reconciler finds the
-- ones a crash left pending through the partial index, which holds only
-- those rows. Existing charges predate the design and are settled.

ALTER TABLE econ_transactions ADD COLUMN pending boolean NOT NULL DEFAULT false;
CREATE INDEX econ_transactions_pending ON econ_transactions (at) WHERE pending;
