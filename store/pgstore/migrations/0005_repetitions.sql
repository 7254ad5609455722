-- 0004: lifetime use counters of tokens' maxRepetitions
-- (store.Repetitions), so that a budget survives restarts and is shared by
-- every replica. One row per key, incremented in place.

CREATE TABLE repetitions (
    key   text PRIMARY KEY,
    count bigint NOT NULL CHECK (count >= 0)
);
