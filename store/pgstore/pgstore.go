// Package pgstore is the PostgreSQL implementation of store.Store, for
// replicated deployments where several gateways share one database.
//
// Open connects a pgx pool and applies the embedded, versioned migrations
// (migrations/NNNN_name.sql) under a PostgreSQL advisory lock, recording them
// in schema_migrations (component "store"), so that replicas starting
// together apply each migration exactly once.
//
// The token cascade runs in SQL (a recursive CTE) in one SERIALIZABLE
// transaction, and so does registering a token under a parent: a token can
// never be registered under a parent whose revocation is committing at the
// same time without being revoked too, whichever replica does either.
// Serialization failures are retried (maxTxAttempts). Approvals use
// optimistic compare-and-set on their version column.
//
// Raw token bytes are kept in a text column exactly as given; approval
// params, decision and extra in bytea columns exactly as given. PostgreSQL
// text cannot hold NUL bytes or invalid UTF-8: strings holding them are
// refused with an error.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

// maxTxAttempts bounds the retries of a SERIALIZABLE transaction that
// failed with a serialization failure or a deadlock.
const maxTxAttempts = 20

// Store is a store.Store on a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ store.Store          = (*Store)(nil)
	_ store.RevocationFeed = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN; pool settings such as pool_max_conns are read from it), applies the
// pending migrations, and returns the store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: parse url: %w", err)
	}
	if _, err := Migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool. It waits for connections in use to be returned.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the underlying pool (for metrics and health checks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping fails unless the server accepts writes on this connection: it is a
// single round trip that rejects a hot standby or a read-only session.
func (s *Store) Ping(ctx context.Context) error {
	var writable bool
	err := s.pool.QueryRow(ctx,
		"SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'").Scan(&writable)
	if err != nil {
		return wrap("ping", err)
	}
	if !writable {
		return errors.New("pgstore: ping: database is read-only")
	}
	return nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// findable reports whether id could have been stored (check.ID): lookups
// of other ids are answered ErrNotFound without a query, as the embedded
// store does, instead of a server error about the encoding.
func findable(id string) bool { return check.ID("id", id) == nil }

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// serializable runs fn in a SERIALIZABLE transaction, retrying it (from
// scratch: fn must reset what it collects) on serialization failures.
func (s *Store) serializable(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
		if err == nil || !retryable(err) || attempt == maxTxAttempts {
			return err
		}
		// Randomised backoff so that colliding replicas do not collide again.
		backoff := time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(backoff):
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ---- roots ----

// PutRoot adds r, or replaces the name of an existing root (its AddedAt
// stays the first one).
func (s *Store) PutRoot(ctx context.Context, r store.Root) error {
	if err := check.Root(r); err != nil {
		return wrap("put root", err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO roots (public_key, name, added_at) VALUES ($1, $2, $3)
		ON CONFLICT (public_key) DO UPDATE SET name = EXCLUDED.name`,
		r.PublicKey, r.Name, store.NormTime(r.AddedAt))
	return wrap("put root", err)
}

// DeleteRoot removes a root; ErrNotFound if it is not registered.
func (s *Store) DeleteRoot(ctx context.Context, publicKey string) error {
	return s.deleteOne(ctx, "delete root", "DELETE FROM roots WHERE public_key = $1", publicKey)
}

func (s *Store) deleteOne(ctx context.Context, op, sql, id string) error {
	if !findable(id) {
		return wrap(op, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, sql, id)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, store.ErrNotFound)
	}
	return nil
}

// ListRoots returns every root ordered by public key.
func (s *Store) ListRoots(ctx context.Context) ([]store.Root, error) {
	rows, err := s.pool.Query(ctx, "SELECT public_key, name, added_at FROM roots ORDER BY public_key")
	if err != nil {
		return nil, wrap("list roots", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Root, error) {
		var r store.Root
		err := row.Scan(&r.PublicKey, &r.Name, &r.AddedAt)
		r.AddedAt = r.AddedAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, wrap("list roots", err)
	}
	if out == nil {
		out = []store.Root{}
	}
	return out, nil
}

// ---- API keys ----

// PutAPIKey stores k; ErrExists if its id is taken.
func (s *Store) PutAPIKey(ctx context.Context, k store.APIKey) error {
	if err := check.APIKey(k); err != nil {
		return wrap("put api key", err)
	}
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	hash := k.SecretHash
	if hash == nil {
		hash = []byte{}
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, secret_hash, operator_id, scopes, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
		k.ID, hash, k.OperatorID, scopes, store.NormTime(k.CreatedAt))
	if err != nil {
		return wrap("put api key", err)
	}
	if tag.RowsAffected() == 0 {
		return wrap("put api key", store.ErrExists)
	}
	return nil
}

const apiKeyCols = "id, secret_hash, operator_id, scopes, created_at"

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	if err := row.Scan(&k.ID, &k.SecretHash, &k.OperatorID, &k.Scopes, &k.CreatedAt); err != nil {
		return store.APIKey{}, err
	}
	k.SecretHash = nilIfEmpty(k.SecretHash)
	if k.Scopes == nil {
		k.Scopes = []string{}
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}

// GetAPIKey returns the key with the given id, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	if !findable(id) {
		return store.APIKey{}, wrap("get api key", store.ErrNotFound)
	}
	k, err := scanAPIKey(s.pool.QueryRow(ctx, "SELECT "+apiKeyCols+" FROM api_keys WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.APIKey{}, wrap("get api key", err)
	}
	return k, nil
}

// DeleteAPIKey removes a key; ErrNotFound if it does not exist.
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	return s.deleteOne(ctx, "delete api key", "DELETE FROM api_keys WHERE id = $1", id)
}

// ListAPIKeys returns every key ordered by id.
func (s *Store) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+apiKeyCols+" FROM api_keys ORDER BY id")
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.APIKey, error) { return scanAPIKey(row) })
	if err != nil {
		return nil, wrap("list api keys", err)
	}
	if out == nil {
		out = []store.APIKey{}
	}
	return out, nil
}

// ---- estop ----

// GetEstop returns the stored breaker state, or {State: "armed"} if none
// was ever stored.
func (s *Store) GetEstop(ctx context.Context) (store.EstopState, error) {
	st, err := readEstop(ctx, s.pool, "")
	return st, wrap("get estop", err)
}

// UpdateEstop replaces the breaker state by next(current) in one
// transaction that holds the row's lock, so that concurrent writers (the
// replicas of a fleet) each see the others' writes: none is lost. A missing
// row reads as armed.
func (s *Store) UpdateEstop(ctx context.Context, next func(store.EstopState) store.EstopState) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		// The row must exist for FOR UPDATE to lock it.
		if _, err := tx.Exec(ctx, `INSERT INTO estop (singleton, state, epoch, since, reason, sources)
			VALUES (true, 'armed', 0, 0, '', '[]') ON CONFLICT (singleton) DO NOTHING`); err != nil {
			return err
		}
		cur, err := readEstop(ctx, tx, " FOR UPDATE")
		if err != nil {
			return err
		}
		return writeEstop(ctx, tx, next(cur))
	})
	return wrap("update estop", err)
}

// PutEstop replaces the breaker state.
func (s *Store) PutEstop(ctx context.Context, st store.EstopState) error {
	return wrap("put estop", writeEstop(ctx, s.pool, st))
}

// estopDB is what the e-stop row is read and written through: the pool or
// a transaction.
type estopDB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// readEstop reads the row (suffix: a locking clause or ""); no row is armed.
func readEstop(ctx context.Context, db estopDB, suffix string) (store.EstopState, error) {
	st := store.EstopState{State: "armed"}
	var epoch int64
	var sources []byte
	err := db.QueryRow(ctx, "SELECT state, epoch, since, reason, sources FROM estop"+suffix).
		Scan(&st.State, &epoch, &st.Since, &st.Reason, &sources)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return store.EstopState{}, err
	default:
		st.Epoch = uint64(epoch)
		if err := json.Unmarshal(sources, &st.Sources); err != nil {
			return store.EstopState{}, fmt.Errorf("decode sources: %w", err)
		}
	}
	if st.Sources == nil {
		st.Sources = []store.EstopSource{}
	}
	return st, nil
}

// writeEstop checks st and stores it as the row.
func writeEstop(ctx context.Context, db estopDB, st store.EstopState) error {
	if err := check.Estop(st); err != nil {
		return err
	}
	sources := st.Sources
	if sources == nil {
		sources = []store.EstopSource{}
	}
	js, err := json.Marshal(sources)
	if err != nil {
		return err
	}
	_, err = db.Exec(ctx, `INSERT INTO estop (singleton, state, epoch, since, reason, sources)
		VALUES (true, $1, $2, $3, $4, $5)
		ON CONFLICT (singleton) DO UPDATE SET state = EXCLUDED.state, epoch = EXCLUDED.epoch,
			since = EXCLUDED.since, reason = EXCLUDED.reason, sources = EXCLUDED.sources`,
		st.State, int64(st.Epoch), st.Since, st.Reason, string(js))
	return err
}

// ---- agents ----

// PutAgent adds or replaces an agent.
func (s *Store) PutAgent(ctx context.Context, a store.Agent) error {
	if err := check.Agent(a); err != nil {
		return wrap("put agent", err)
	}
	var labels *string
	if len(a.Labels) > 0 {
		js, err := json.Marshal(a.Labels)
		if err != nil {
			return wrap("put agent", err)
		}
		l := string(js)
		labels = &l
	}
	var caps []string
	if len(a.Capabilities) > 0 {
		caps = a.Capabilities
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO agents (agent_id, name, owner, labels, capabilities, registered_at,
			circuit_open, circuit_since, circuit_cause)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name, owner = EXCLUDED.owner,
			labels = EXCLUDED.labels, capabilities = EXCLUDED.capabilities,
			registered_at = EXCLUDED.registered_at, circuit_open = EXCLUDED.circuit_open,
			circuit_since = EXCLUDED.circuit_since, circuit_cause = EXCLUDED.circuit_cause`,
		a.AgentID, a.Name, a.Owner, labels, caps, a.RegisteredAt, a.CircuitOpen, a.CircuitSince, a.CircuitCause)
	return wrap("put agent", err)
}

const agentCols = "agent_id, name, owner, labels, capabilities, registered_at, circuit_open, circuit_since, circuit_cause"

func scanAgent(row pgx.Row) (store.Agent, error) {
	var a store.Agent
	var labels []byte
	if err := row.Scan(&a.AgentID, &a.Name, &a.Owner, &labels, &a.Capabilities, &a.RegisteredAt,
		&a.CircuitOpen, &a.CircuitSince, &a.CircuitCause); err != nil {
		return store.Agent{}, err
	}
	if labels != nil {
		if err := json.Unmarshal(labels, &a.Labels); err != nil {
			return store.Agent{}, fmt.Errorf("decode labels of %s: %w", a.AgentID, err)
		}
	}
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(a.Capabilities) == 0 {
		a.Capabilities = nil
	}
	return a, nil
}

// GetAgent returns the agent with the given id, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	if !findable(id) {
		return store.Agent{}, wrap("get agent", store.ErrNotFound)
	}
	a, err := scanAgent(s.pool.QueryRow(ctx, "SELECT "+agentCols+" FROM agents WHERE agent_id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Agent{}, wrap("get agent", err)
	}
	return a, nil
}

// DeleteAgent removes an agent; ErrNotFound if it does not exist.
func (s *Store) DeleteAgent(ctx context.Context, id string) error {
	return s.deleteOne(ctx, "delete agent", "DELETE FROM agents WHERE agent_id = $1", id)
}

// ListAgents returns every agent ordered by id.
func (s *Store) ListAgents(ctx context.Context) ([]store.Agent, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+agentCols+" FROM agents ORDER BY agent_id")
	if err != nil {
		return nil, wrap("list agents", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Agent, error) { return scanAgent(row) })
	if err != nil {
		return nil, wrap("list agents", err)
	}
	if out == nil {
		out = []store.Agent{}
	}
	return out, nil
}
