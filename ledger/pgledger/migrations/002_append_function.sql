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
-- "C") is chronological. Event ids must be distinct within one call (the
-- client drops repeats); a repeat would violate the unique index and fail the
-- whole call.
--
-- Returns one row per event: its ordinal, whether it was a duplicate (then
-- all else is NULL), else its sequence, timestamp, previous hash, hash, the
-- stored-hash index of its record hash and the stored hashes it added (for
-- the client's cache).

CREATE OR REPLACE FUNCTION sint_ledger_stored_hash_index(p_level int, p_n bigint)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT AS $$
-- tlog.StoredHashIndex: level L's n'th hash is written right after level
-- L+1's 2n+1'th hash; level 0's n'th hash is at n + n/2 + n/4 + ...
DECLARE
    v_n bigint := p_n;
    v_i bigint := 0;
BEGIN
    FOR l IN 1..p_level LOOP
        v_n := 2 * v_n + 1;
    END LOOP;
    WHILE v_n > 0 LOOP
        v_i := v_i + v_n;
        v_n := v_n >> 1;
    END LOOP;
    RETURN v_i + p_level;
END
$$;

CREATE OR REPLACE FUNCTION sint_ledger_append(
    p_ids     uuid[],
    p_types   text[],
    p_agents  text[],
    p_prefix  bytea[],
    p_payload bytea[],
    p_suffix  bytea[],
    p_now     text[]
) RETURNS TABLE (
    o_ord      int,
    o_dup      boolean,
    o_seq      bigint,
    o_ts       text,
    o_prev     bytea,
    o_hash     bytea,
    o_tree_idx bigint,
    o_tree     bytea[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n         int := coalesce(array_length(p_ids, 1), 0);
    cur_seq   bigint;
    cur_hash  bytea;
    cur_ts    text;
    dups      int[];
    -- rows to insert
    e_seq     bigint[] := '{}';
    e_id      uuid[]   := '{}';
    e_type    text[]   := '{}';
    e_agent   text[]   := '{}';
    e_ts      text[]   := '{}';
    e_hash    bytea[]  := '{}';
    e_entry   bytea[]  := '{}';
    k         int := 0;
    -- stored hashes added, from index base
    base      bigint;
    t_hash    bytea[]  := '{}';
    nt        int := 0;
    zero_b    bytea := decode('00', 'hex');
    one_b     bytea := decode('01', 'hex');
    -- per event
    v_ts      text;
    seqb      bytea;
    tsb       bytea;
    prevb     bytea;
    h         bytea;
    rec       int;
    rn        bigint;
    m         int;
    x         bigint;
    want      bigint;
    old       bytea;
    mine      bytea[];
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

    SELECT array_agg(t.o::int) INTO dups
        FROM unnest(p_ids) WITH ORDINALITY AS t(id, o)
        WHERE EXISTS (SELECT 1 FROM sint_ledger_entries e WHERE e.event_id = t.id);

    -- Stored hashes of record cur_seq (0-based) onwards start here.
    base := sint_ledger_stored_hash_index(0, cur_seq);

    FOR i IN 1..n LOOP
        IF dups IS NOT NULL AND i = ANY (dups) THEN
            o_ord := i; o_dup := true;
            o_seq := NULL; o_ts := NULL; o_prev := NULL; o_hash := NULL; o_tree_idx := NULL; o_tree := NULL;
            RETURN NEXT;
            CONTINUE;
        END IF;
        cur_seq := cur_seq + 1;
        v_ts := p_now[i];
        IF cur_ts IS NOT NULL AND v_ts COLLATE "C" < cur_ts COLLATE "C" THEN
            v_ts := cur_ts;
        END IF;
        seqb := convert_to(cur_seq::text, 'UTF8');
        tsb := convert_to(v_ts, 'UTF8');
        prevb := convert_to(encode(cur_hash, 'hex'), 'UTF8');
        -- ledger.HashInput
        h := sha256(p_prefix[i] || ',"payload":'::bytea || p_payload[i]
            || ',"previousHash":"'::bytea || prevb
            || '","sequenceNumber":"'::bytea || seqb
            || '","timestamp":"'::bytea || tsb || '"'::bytea || p_suffix[i]);
        k := k + 1;
        e_seq[k] := cur_seq;
        e_id[k] := p_ids[i];
        e_type[k] := p_types[i];
        e_agent[k] := p_agents[i];
        e_ts[k] := v_ts;
        e_hash[k] := h;
        -- ledger.EncodeEntry
        e_entry[k] := p_prefix[i] || ',"hash":"'::bytea || convert_to(encode(h, 'hex'), 'UTF8')
            || '","payload":'::bytea || p_payload[i]
            || ',"previousHash":"'::bytea || prevb
            || '","sequenceNumber":'::bytea || seqb
            || ',"timestamp":"'::bytea || tsb || '"'::bytea || p_suffix[i];

        -- tlog.StoredHashes(rn, h, r): the record hash, then one node hash
        -- per subtree that record rn completes.
        rn := cur_seq - 1;
        rec := nt + 1;
        h := sha256(zero_b || h);
        nt := nt + 1;
        t_hash[nt] := h;
        m := 0;
        x := rn + 1;
        WHILE (x & 1) = 0 LOOP
            m := m + 1;
            x := x >> 1;
        END LOOP;
        FOR l IN 0..m - 1 LOOP
            want := sint_ledger_stored_hash_index(l, (rn >> l) - 1);
            IF want >= base THEN
                old := t_hash[want - base + 1];
            ELSE
                old := NULL;
                SELECT t.hash INTO old FROM sint_ledger_tree t WHERE t.idx = want;
            END IF;
            IF old IS NULL THEN
                RAISE EXCEPTION 'sint_ledger_append: stored hash % missing', want
                    USING ERRCODE = 'data_corrupted';
            END IF;
            h := sha256(one_b || old || h);
            nt := nt + 1;
            t_hash[nt] := h;
        END LOOP;
        mine := t_hash[rec:nt];

        o_ord := i; o_dup := false; o_seq := cur_seq; o_ts := v_ts; o_prev := cur_hash;
        o_hash := e_hash[k]; o_tree_idx := base + rec - 1; o_tree := mine;
        RETURN NEXT;
        cur_hash := e_hash[k];
        cur_ts := v_ts;
    END LOOP;

    IF k > 0 THEN
        INSERT INTO sint_ledger_entries (seq, event_id, event_type, agent_id, ts, hash, entry)
            SELECT * FROM unnest(e_seq, e_id, e_type, e_agent, e_ts, e_hash, e_entry);
        INSERT INTO sint_ledger_tree (idx, hash)
            SELECT base + o - 1, t.hash FROM unnest(t_hash) WITH ORDINALITY AS t(hash, o);
    END IF;
END
$$;
