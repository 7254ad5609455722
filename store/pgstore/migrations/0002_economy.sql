-- 0002: the agent economy (store.Economy): balances, an append-only
-- transaction log with per-agent idempotency keys, and the price list.

CREATE TABLE econ_accounts (
    agent_id   text COLLATE "C" PRIMARY KEY,
    balance    bigint NOT NULL CHECK (balance >= 0),
    updated_at timestamptz NOT NULL
);

CREATE TABLE econ_transactions (
    seq             bigserial PRIMARY KEY,
    tx_id           text NOT NULL UNIQUE,
    agent_id        text COLLATE "C" NOT NULL,
    kind            text NOT NULL,
    amount          bigint NOT NULL,
    balance_after   bigint NOT NULL,
    idempotency_key text COLLATE "C" NOT NULL,
    memo            text NOT NULL,
    at              timestamptz NOT NULL,
    UNIQUE (agent_id, idempotency_key)
);
CREATE INDEX econ_transactions_agent ON econ_transactions (agent_id, seq DESC);

CREATE TABLE econ_prices (
    id      int PRIMARY KEY CHECK (id = 1),
    doc     bytea NOT NULL, -- store.Prices as JSON, exactly as written
    version bigint NOT NULL
);
