-- sintgate evidence ledger, schema version 2: the append as one server-side
-- statement.
--
-- sint_ledger_append takes the cross-process advisory lock, reads the head,
-- and for each event of the arrays (one element per event, in order): reports
-- an event id that is already recorded as a duplicate, or assigns the next
-- sequence and the timestamp greatest(p_now[i], previous timestamp), builds
-- the hashed bytes (ledger.HashInput) and the stored entry (ledger.EncodeEntry)
-- from client-built pieces, hashes them with sha256, and computes the RFC 6962
-- stored hashes in golang.org/x/mod/sumdb/tlog layout. Entries and stored
-- hashes are inserted in two statements at the end. The lock is held until
-- the caller's COMMIT, which the client pipelines behind this call, so no
-- client round trip happens while it is held.
--
-- Pieces per event (all exact JCS bytes, built by the client):
--   p_prefix[i]  = {"agentId":<A>,"eventId":<E>,"eventType":<T>
--   p_payload[i] = the canonical payload object
--   p_suffix[i]  = ,"tokenId":<K>}   or   }   when the token id is empty
-- Timestamps are fixed-width TimestampLayout strings, so text order (COLLATE
-- "C") is chronological. Only the ids in p_check are looked up as possible
-- duplicates (the client passes those the caller chose; ids the store
-- generated are fresh UUIDv7s, and the unique index still refuses a
-- collision, failing the call). Event ids must be distinct within one call (the
-- client drops repeats); a repeat would violate the unique index and fail the
-- whole call.
--
-- Returns one row per event, in order: its ordinal, whether it was a
-- duplicate (then all else is NULL), else its sequence, timestamp, previous
-- hash and hash. The first row also carries the stored hashes the call added
-- (o_tree) and the index of the first (o_tree_idx), for the client's cache.
--
-- The loop is kept to few PL/pgSQL statements per event (each costs about a
-- microsecond of interpretation while the lock is held): rows are collected
-- as one array of sint_ledger_entries, and the answer is one query at the
-- end.

CREATE OR REPLACE FUNCTION sint_ledger_append(
    p_ids     uuid[],
    p_types   text[],
    p_agents  text[],
    p_prefix  bytea[],
    p_payload bytea[],
    p_suffix  bytea[],
    p_now     text[],
    p_check   uuid[]
) RETURNS TABLE (
    o_ord      int,
    o_dup      boolean,
    o_seq      bigint,
    o_ts       text,
    o_prev     bytea,
    o_hash     bytea,
    o_tree_idx bigint,
    o_tree     bytea[]
) LANGUAGE plpgsql VOLATILE
-- The statements' plans do not depend on the arrays' contents: plan once per
-- connection instead of re-planning on every call.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    n         int := coalesce(array_length(p_ids, 1), 0);
    cur_seq   bigint;
    cur_hash  bytea;
    cur_ts    text;
    head_hash bytea;
    dups      int[];
    rows_     sint_ledger_entries[] := '{}';
    k         int := 0;
    -- stored hashes added, from index base
    base      bigint;
    t_hash    bytea[] := '{}';
    nt        int := 0;
    frontier  bytea[] := '{}';  -- [l+1]: latest complete tree node at level l
    zero_b    bytea := decode('00', 'hex');
    one_b     bytea := decode('01', 'hex');
    -- per event
    seqb      bytea;
    tail      bytea;
    pv        bytea;
    y         bigint;
    want      bigint;
    old       bytea;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    IF array_length(p_types, 1) IS DISTINCT FROM n OR array_length(p_agents, 1) IS DISTINCT FROM n
        OR array_length(p_prefix, 1) IS DISTINCT FROM n OR array_length(p_payload, 1) IS DISTINCT FROM n
        OR array_length(p_suffix, 1) IS DISTINCT FROM n OR array_length(p_now, 1) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'sint_ledger_append: argument arrays differ in length'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- pgledger.appendLockKey ("sintledg"): serialises appenders across
    -- processes until COMMIT.
    PERFORM pg_advisory_xact_lock(8316299633230177383);

    SELECT e.seq, e.hash, e.ts INTO cur_seq, cur_hash, cur_ts
        FROM sint_ledger_entries e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        cur_seq := 0;
        cur_hash := decode(repeat('00', 32), 'hex'); -- ledger.ZeroHash
        cur_ts := NULL;
    END IF;
    head_hash := cur_hash;

    IF cardinality(p_check) > 0 THEN
        SELECT array_agg(t.o::int) INTO dups
            FROM unnest(p_ids) WITH ORDINALITY AS t(id, o)
            WHERE t.id = ANY (p_check)
            AND EXISTS (SELECT 1 FROM sint_ledger_entries e WHERE e.event_id = t.id);
    END IF;

    -- Stored hashes of record cur_seq (0-based) onwards start here:
    -- tlog.StoredHashIndex(0, n) = n + n/2 + n/4 + ... = 2n - popcount(n).
    base := 2 * cur_seq - length(replace((cur_seq::bit(64))::text, '0', ''));

    FOR i IN 1..n LOOP
        CONTINUE WHEN dups IS NOT NULL AND i = ANY (dups);
        cur_seq := cur_seq + 1;
        cur_ts := CASE WHEN cur_ts IS NULL OR p_now[i] COLLATE "C" > cur_ts COLLATE "C" THEN p_now[i] ELSE cur_ts END;
        seqb := convert_to(cur_seq::text, 'UTF8');
        tail := convert_to(cur_ts, 'UTF8') || '"'::bytea || p_suffix[i];
        pv := ',"previousHash":"'::bytea || convert_to(encode(cur_hash, 'hex'), 'UTF8') || '","sequenceNumber":'::bytea;
        -- ledger.HashInput: sequenceNumber is a string.
        cur_hash := sha256(p_prefix[i] || ',"payload":'::bytea || p_payload[i] || pv
            || '"'::bytea || seqb || '","timestamp":"'::bytea || tail);
        k := k + 1;
        -- ledger.EncodeEntry: hash member, sequenceNumber a number.
        rows_[k] := ROW(cur_seq, p_ids[i], p_types[i], p_agents[i], cur_ts, cur_hash,
            p_prefix[i] || ',"hash":"'::bytea || convert_to(encode(cur_hash, 'hex'), 'UTF8')
            || '","payload":'::bytea || p_payload[i] || pv
            || seqb || ',"timestamp":"'::bytea || tail)::sint_ledger_entries;

        -- tlog.StoredHashes(cur_seq-1, hash): the record hash, then one node
        -- hash per subtree the record completes (one per trailing 1 bit of
        -- its index), each combining the level's latest complete node (the
        -- frontier) with the new node below it.
        nt := nt + 1;
        t_hash[nt] := sha256(zero_b || cur_hash);
        FOR l IN 0..62 LOOP
            IF (((cur_seq - 1) >> l) & 1) = 0 THEN
                frontier[l + 1] := t_hash[nt];
                EXIT;
            END IF;
            old := frontier[l + 1];
            IF old IS NULL THEN
                -- Not completed in this call, so stored before it:
                -- tlog.StoredHashIndex(l, ((cur_seq-1) >> l) - 1), which is
                -- 2v - popcount(v) + l for v = (((cur_seq-1) >> l) << l) - 1.
                y := (((cur_seq - 1) >> l) << l) - 1;
                want := 2 * y - length(replace((y::bit(64))::text, '0', '')) + l;
                SELECT t.hash INTO old FROM sint_ledger_tree t WHERE t.idx = want;
                IF old IS NULL THEN
                    RAISE EXCEPTION 'sint_ledger_append: stored hash % missing', want
                        USING ERRCODE = 'data_corrupted';
                END IF;
            END IF;
            frontier[l + 1] := t_hash[nt];
            nt := nt + 1;
            t_hash[nt] := sha256(one_b || old || t_hash[nt - 1]);
        END LOOP;
    END LOOP;

    IF k > 0 THEN
        INSERT INTO sint_ledger_entries SELECT * FROM unnest(rows_);
        INSERT INTO sint_ledger_tree (idx, hash)
            SELECT base + t.o - 1, t.hash FROM unnest(t_hash) WITH ORDINALITY AS t(hash, o);
    END IF;

    RETURN QUERY
        SELECT a.o::int, e.seq IS NULL, e.seq, e.ts, e.prev, e.hash,
            CASE WHEN a.o = 1 THEN base END,
            CASE WHEN a.o = 1 THEN t_hash END
        FROM unnest(p_ids) WITH ORDINALITY AS a(id, o)
        LEFT JOIN (
            SELECT r.event_id, r.seq, r.ts, r.hash,
                coalesce(lag(r.hash) OVER (ORDER BY r.seq), head_hash) AS prev
            FROM unnest(rows_) AS r
        ) e ON e.event_id = a.id
        ORDER BY a.o;
END
$$;
