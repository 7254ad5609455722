-- Revocations of token ids that are not registered: a token only ever
-- presented inline (or minted offline) can be revoked by its id
-- (PROTOCOL.md §3.3). Registered tokens keep their revocation in
-- tokens.revoked_at; an id is in at most one of the two places at the time
-- of its revocation.
CREATE TABLE revoked_ids (
    token_id   text COLLATE "C" PRIMARY KEY,
    revoked_at timestamptz NOT NULL
);
CREATE INDEX revoked_ids_at ON revoked_ids (revoked_at, token_id);
