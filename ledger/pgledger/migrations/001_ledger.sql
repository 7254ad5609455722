-- sintgate evidence ledger, schema version 1.
-- entry holds the exact canonical (RFC 8785) JSON bytes of the entry; the
-- other columns are indexes over it. Both tables are append-only: a trigger
-- refuses UPDATE, DELETE and TRUNCATE.

CREATE TABLE IF NOT EXISTS sint_ledger_entries (
    seq        bigint PRIMARY KEY CHECK (seq >= 1),
    event_id   uuid   NOT NULL UNIQUE,
    event_type text   NOT NULL,
    agent_id   text   NOT NULL,
    ts         text   NOT NULL,               -- entry timestamp, fixed-width ISO 8601
    hash       bytea  NOT NULL CHECK (length(hash) = 32),
    entry      bytea  NOT NULL                -- canonical JSON, hashed bytes
);
CREATE INDEX IF NOT EXISTS sint_ledger_entries_type  ON sint_ledger_entries (event_type, seq);
CREATE INDEX IF NOT EXISTS sint_ledger_entries_agent ON sint_ledger_entries (agent_id, seq);

-- RFC 6962 stored hashes in golang.org/x/mod/sumdb/tlog layout.
CREATE TABLE IF NOT EXISTS sint_ledger_tree (
    idx  bigint PRIMARY KEY CHECK (idx >= 0),
    hash bytea  NOT NULL CHECK (length(hash) = 32)
);

CREATE OR REPLACE FUNCTION sint_ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sint ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER sint_ledger_entries_no_change
    BEFORE UPDATE OR DELETE ON sint_ledger_entries
    FOR EACH ROW EXECUTE FUNCTION sint_ledger_append_only();
CREATE OR REPLACE TRIGGER sint_ledger_entries_no_truncate
    BEFORE TRUNCATE ON sint_ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION sint_ledger_append_only();
CREATE OR REPLACE TRIGGER sint_ledger_tree_no_change
    BEFORE UPDATE OR DELETE ON sint_ledger_tree
    FOR EACH ROW EXECUTE FUNCTION sint_ledger_append_only();
CREATE OR REPLACE TRIGGER sint_ledger_tree_no_truncate
    BEFORE TRUNCATE ON sint_ledger_tree
    FOR EACH STATEMENT EXECUTE FUNCTION sint_ledger_append_only();
