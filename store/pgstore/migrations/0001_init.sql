-- 0001: the gateway's persistent state outside the ledger (package store).
-- Ids and keys use COLLATE "C" so that ORDER BY is bytewise, as in the
-- embedded store. Times the caller gives as time.Time are timestamptz
-- (microseconds); protocol times that are unix milliseconds stay bigint.

CREATE TABLE roots (
    public_key text COLLATE "C" PRIMARY KEY,
    name       text NOT NULL,
    added_at   timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id          text COLLATE "C" PRIMARY KEY,
    secret_hash bytea NOT NULL,
    operator_id text NOT NULL,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE tokens (
    token_id        text COLLATE "C" PRIMARY KEY,
    raw             text NOT NULL, -- the compact JWS exactly as registered
    issuer          text NOT NULL,
    subject         text NOT NULL,
    parent_token_id text COLLATE "C",
    registered_at   timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX tokens_parent  ON tokens (parent_token_id, token_id) WHERE parent_token_id IS NOT NULL;
CREATE INDEX tokens_subject ON tokens (subject, token_id);
CREATE INDEX tokens_issuer  ON tokens (issuer, token_id);
CREATE INDEX tokens_revoked ON tokens (revoked_at, token_id) WHERE revoked_at IS NOT NULL;

CREATE TABLE approvals (
    approval_id        text COLLATE "C" PRIMARY KEY,
    agent_id           text NOT NULL,
    request_id         text NOT NULL,
    state              text NOT NULL,
    token_id           text NOT NULL,
    resource           text NOT NULL,
    action             text NOT NULL,
    params             bytea,          -- raw JSON, exactly as given
    tier               integer NOT NULL,
    required_approvals integer NOT NULL,
    votes              jsonb NOT NULL,
    created_at         bigint NOT NULL, -- unix ms
    expires_at         bigint NOT NULL, -- unix ms
    resolved_at        bigint,          -- unix ms
    decision           bytea,           -- raw JSON, exactly as given
    extra              bytea,
    version            bigint NOT NULL,
    UNIQUE (agent_id, request_id)
);
CREATE INDEX approvals_created ON approvals (created_at DESC, approval_id DESC);
CREATE INDEX approvals_state   ON approvals (state, created_at DESC, approval_id DESC);

CREATE TABLE estop (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    state     text NOT NULL,
    epoch     bigint NOT NULL,
    since     bigint NOT NULL,
    reason    text NOT NULL,
    sources   jsonb NOT NULL
);

CREATE TABLE agents (
    agent_id      text COLLATE "C" PRIMARY KEY,
    name          text NOT NULL,
    owner         text NOT NULL,
    labels        jsonb,
    capabilities  text[],
    registered_at bigint NOT NULL,
    circuit_open  boolean NOT NULL,
    circuit_since bigint NOT NULL,
    circuit_cause text NOT NULL
);
