-- sintgate evidence ledger, schema version 4: archival (retention).
--
-- Sealed entries (whole bundles of 256, covered by a signed checkpoint) can
-- be moved to an archive directory in the C2SP tlog-tiles layout the
-- embedded store uses (pgledger.Store.Archive, `sintctl ledger archive`),
-- then their rows removed, so sint_ledger_entries stops growing with the
-- ledger's age. What stays in PostgreSQL:
--
--   * sint_ledger_tree, whole: every inclusion and consistency proof and
--     checkpoint keeps working without the archive (≈ 2 stored hashes per
--     entry);
--   * sint_ledger_archived_ids: the event id and sequence number of every
--     removed row, so duplicate event ids are still refused (the UNIQUE
--     constraint no longer sees them) and GetByEventID finds them;
--   * the rows of the retained event types (the archive row's
--     retained_types: revocations, circuits, approvals, e-stop and
--     checkpoints), which the gateway reads by type from the start of the
--     chain at every start;
--   * the head: the archive boundary stays below the last entry.
--
-- sint_ledger_archive holds the single boundary row: entries 1..up_to are
-- in the archive at location; rows up to purged_to are removed. It only
-- moves forward. The append-only trigger of sint_ledger_entries now lets a
-- DELETE through only for a row at or below up_to whose event id is already
-- in sint_ledger_archived_ids and whose type is not retained; everything else is refused
-- as before. DELETE stays a privilege of the table owner (the gateway role
-- has INSERT/SELECT only).

CREATE TABLE IF NOT EXISTS sint_ledger_archive (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    up_to          bigint  NOT NULL CHECK (up_to >= 0 AND up_to % 256 = 0),
    purged_to      bigint  NOT NULL DEFAULT 0 CHECK (purged_to >= 0 AND purged_to <= up_to),
    location       text    NOT NULL,
    retained_types text[]  NOT NULL,
    checkpoint     text    NOT NULL,  -- the signed note the archive was verified against
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sint_ledger_archived_ids (
    event_id uuid   PRIMARY KEY,
    seq      bigint NOT NULL
);

CREATE OR REPLACE FUNCTION sint_ledger_archive_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
        IF TG_OP = 'UPDATE' AND (NEW.up_to < OLD.up_to OR NEW.purged_to < OLD.purged_to
            OR NEW.location <> OLD.location OR NEW.retained_types <> OLD.retained_types) THEN
            RAISE EXCEPTION 'sint_ledger_archive: the boundary only moves forward, at one location'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.up_to >= (SELECT coalesce(max(seq), 0) FROM sint_ledger_entries) THEN
            RAISE EXCEPTION 'sint_ledger_archive: the head entry stays live'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'sint ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER sint_ledger_archive_guard
    BEFORE INSERT OR UPDATE OR DELETE ON sint_ledger_archive
    FOR EACH ROW EXECUTE FUNCTION sint_ledger_archive_guard();
CREATE OR REPLACE TRIGGER sint_ledger_archive_no_truncate
    BEFORE TRUNCATE ON sint_ledger_archive
    FOR EACH STATEMENT EXECUTE FUNCTION sint_ledger_append_only();
CREATE OR REPLACE TRIGGER sint_ledger_archived_ids_no_change
    BEFORE UPDATE OR DELETE ON sint_ledger_archived_ids
    FOR EACH ROW EXECUTE FUNCTION sint_ledger_append_only();
CREATE OR REPLACE TRIGGER sint_ledger_archived_ids_no_truncate
    BEFORE TRUNCATE ON sint_ledger_archived_ids
    FOR EACH STATEMENT EXECUTE FUNCTION sint_ledger_append_only();

-- sint_ledger_entries: UPDATE refused; DELETE only of an archived row.
CREATE OR REPLACE FUNCTION sint_ledger_entries_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM sint_ledger_archive a
            WHERE OLD.seq <= a.up_to AND NOT OLD.event_type = ANY (a.retained_types))
        AND EXISTS (SELECT 1 FROM sint_ledger_archived_ids x
            WHERE x.event_id = OLD.event_id AND x.seq = OLD.seq) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'sint ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE TRIGGER sint_ledger_entries_no_change
    BEFORE UPDATE OR DELETE ON sint_ledger_entries
    FOR EACH ROW EXECUTE FUNCTION sint_ledger_entries_guard();

-- Duplicate event ids: also against the archived ones. Otherwise the
-- function of schema version 3, unchanged.
CREATE OR REPLACE FUNCTION sint_ledger_append(
    p_ids     uuid[],
    p_types   text[],
    p_agents  text[],
    p_prefix  bytea[],
    p_payload bytea[],
    p_suffix  bytea[],
    p_now     text[],
    p_check   uuid[],
    p_guarded boolean[]
) RETURNS TABLE (
    o_ord      int,
    o_dup      boolean,
    o_seq      bigint,
    o_ts       text,
    o_prev     bytea,
    o_hash     bytea,
    o_tree_idx bigint,
    o_tree     bytea[],
    o_refused  boolean,
    o_active   text[]
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
    -- fleet e-stop
    active    text[];
    refused   int[] := '{}';
    pj        jsonb;
    tid       text;
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    IF array_length(p_types, 1) IS DISTINCT FROM n OR array_length(p_agents, 1) IS DISTINCT FROM n
        OR array_length(p_prefix, 1) IS DISTINCT FROM n OR array_length(p_payload, 1) IS DISTINCT FROM n
        OR array_length(p_suffix, 1) IS DISTINCT FROM n OR array_length(p_now, 1) IS DISTINCT FROM n
        OR array_length(p_guarded, 1) IS DISTINCT FROM n THEN
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

    SELECT coalesce(array_agg(a.trip_id), '{}') INTO active FROM sint_ledger_estop_active a;

    IF cardinality(p_check) > 0 THEN
        SELECT array_agg(t.o::int) INTO dups
            FROM unnest(p_ids) WITH ORDINALITY AS t(id, o)
            WHERE t.id = ANY (p_check)
            AND (EXISTS (SELECT 1 FROM sint_ledger_entries e WHERE e.event_id = t.id)
                OR EXISTS (SELECT 1 FROM sint_ledger_archived_ids x WHERE x.event_id = t.id));
    END IF;

    -- Stored hashes of record cur_seq (0-based) onwards start here:
    -- tlog.StoredHashIndex(0, n) = n + n/2 + n/4 + ... = 2n - popcount(n).
    base := 2 * cur_seq - length(replace((cur_seq::bit(64))::text, '0', ''));

    FOR i IN 1..n LOOP
        CONTINUE WHEN dups IS NOT NULL AND i = ANY (dups);
        IF p_guarded[i] AND cardinality(active) > 0 THEN
            refused := refused || i;
            CONTINUE;
        END IF;
        cur_seq := cur_seq + 1;
        IF p_types[i] = 'safety.estop.tripped' THEN
            pj := convert_from(p_payload[i], 'UTF8')::jsonb;
            tid := pj ->> 'tripId';
            IF tid IS NOT NULL AND NOT tid = ANY (active)
                AND NOT EXISTS (SELECT 1 FROM sint_ledger_estop_acked c WHERE c.trip_id = tid) THEN
                active := active || tid;
                INSERT INTO sint_ledger_estop_active (trip_id, seq) VALUES (tid, cur_seq);
            END IF;
        ELSIF p_types[i] = 'safety.estop.reset' THEN
            pj := convert_from(p_payload[i], 'UTF8')::jsonb;
            IF jsonb_typeof(pj -> 'acks') = 'array' THEN
                FOR tid IN SELECT jsonb_array_elements_text(pj -> 'acks') LOOP
                    active := array_remove(active, tid);
                    DELETE FROM sint_ledger_estop_active a WHERE a.trip_id = tid;
                    INSERT INTO sint_ledger_estop_acked (trip_id, seq) VALUES (tid, cur_seq)
                        ON CONFLICT (trip_id) DO NOTHING;
                END LOOP;
                -- Keep the newest acknowledged ids (pgledger.maxAcked).
                DELETE FROM sint_ledger_estop_acked c WHERE c.seq < (
                    SELECT min(k.seq) FROM (SELECT seq FROM sint_ledger_estop_acked ORDER BY seq DESC LIMIT 4096) k);
            END IF;
        END IF;
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
        SELECT a.o::int, e.seq IS NULL AND NOT a.o = ANY (refused), e.seq, e.ts, e.prev, e.hash,
            CASE WHEN a.o = 1 THEN base END,
            CASE WHEN a.o = 1 THEN t_hash END,
            a.o = ANY (refused),
            CASE WHEN a.o = ANY (refused) THEN active END
        FROM unnest(p_ids) WITH ORDINALITY AS a(id, o)
        LEFT JOIN (
            SELECT r.event_id, r.seq, r.ts, r.hash,
                coalesce(lag(r.hash) OVER (ORDER BY r.seq), head_hash) AS prev
            FROM unnest(rows_) AS r
        ) e ON e.event_id = a.id
        ORDER BY a.o;
END
$$;
