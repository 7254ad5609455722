package pgstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/internal/check"
)

const tokenCols = "token_id, raw, issuer, subject, parent_token_id, registered_at, revoked_at"

func scanToken(row pgx.Row) (store.TokenRecord, error) {
	var t store.TokenRecord
	var parent *string
	if err := row.Scan(&t.TokenID, &t.Raw, &t.Issuer, &t.Subject, &parent, &t.RegisteredAt, &t.RevokedAt); err != nil {
		return store.TokenRecord{}, err
	}
	if parent != nil {
		t.ParentTokenID = *parent
	}
	t.RegisteredAt = t.RegisteredAt.UTC()
	t.RevokedAt = utcPtr(t.RevokedAt)
	return t, nil
}

// putToken inserts the token; a token whose parent is revoked inherits the
// parent's revocation time (unless the caller gave one), and a token whose
// id (or parent id) was revoked before it was registered (revoked_ids) is
// stored revoked at that time.
const putToken = `INSERT INTO tokens (` + tokenCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, (SELECT revoked_at FROM tokens WHERE token_id = $5),
		(SELECT min(revoked_at) FROM revoked_ids WHERE token_id = $1 OR token_id = $5)))
	ON CONFLICT (token_id) DO NOTHING`

// PutToken registers t. Registering the same bytes again is a no-op;
// other bytes under a registered id give ErrExists. A token whose parent is
// revoked is stored revoked, with the parent's RevokedAt, and a token stored
// revoked also revokes the tokens registered earlier with it as their
// parent. With a parent or a RevokedAt this runs SERIALIZABLE so that it
// cannot interleave with a cascade.
func (s *Store) PutToken(ctx context.Context, t store.TokenRecord) error {
	var revoked *time.Time
	if t.RevokedAt != nil {
		at := store.NormTime(*t.RevokedAt)
		revoked = &at
	}
	put := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
		QueryRow(context.Context, string, ...any) pgx.Row
	}) error {
		var stored *time.Time
		err := q.QueryRow(ctx, putToken+" RETURNING revoked_at", t.TokenID, t.Raw, t.Issuer, t.Subject,
			nullString(t.ParentTokenID), store.NormTime(t.RegisteredAt), revoked).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) { // the id was taken
			var raw string
			if err := q.QueryRow(ctx, "SELECT raw FROM tokens WHERE token_id = $1", t.TokenID).Scan(&raw); err != nil {
				return err
			}
			if raw != t.Raw {
				return store.ErrExists
			}
			return nil
		}
		if err != nil || stored == nil {
			return err
		}
		// Stored revoked: tokens registered earlier under this id follow it.
		_, err = q.Exec(ctx, revokeCascade, t.TokenID, *stored)
		return err
	}
	if err := check.Token(t); err != nil {
		return wrap("put token", err)
	}
	if t.ParentTokenID == "" && t.RevokedAt == nil { // cannot be stored revoked: one statement
		return wrap("put token", put(s.pool))
	}
	return wrap("put token", s.serializable(ctx, func(tx pgx.Tx) error { return put(tx) }))
}

// GetToken returns the token with the given id, or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (store.TokenRecord, error) {
	if !findable(id) {
		return store.TokenRecord{}, wrap("get token", store.ErrNotFound)
	}
	t, err := scanToken(s.pool.QueryRow(ctx, "SELECT "+tokenCols+" FROM tokens WHERE token_id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.TokenRecord{}, wrap("get token", err)
	}
	return t, nil
}

// ListTokens returns the tokens matching f, ordered by token id (bytewise),
// at most f.Limit of them when f.Limit > 0.
func (s *Store) ListTokens(ctx context.Context, f store.TokenFilter) ([]store.TokenRecord, error) {
	if check.Text("filter", f.Subject, f.Issuer, f.ParentTokenID) != nil {
		return []store.TokenRecord{}, nil // matches nothing that could be stored
	}
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			args = append(args, v)
			where = append(where, col+" = $"+strconv.Itoa(len(args)))
		}
	}
	add("subject", f.Subject)
	add("issuer", f.Issuer)
	add("parent_token_id", f.ParentTokenID)
	q := "SELECT " + tokenCols + " FROM tokens"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY token_id"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT $" + strconv.Itoa(len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.TokenRecord, error) { return scanToken(row) })
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	if out == nil {
		out = []store.TokenRecord{}
	}
	return out, nil
}

// revokeCascade walks the descendants of $1 breadth-first (path guards
// against parent cycles), revokes those not yet revoked at $2, and returns
// the newly revoked ids in BFS order: by depth, then by the bytewise path,
// which is the order a queue visiting children in id order produces.
const revokeCascade = `WITH RECURSIVE tree (token_id, depth, path) AS (
		SELECT token_id, 0, ARRAY[token_id] FROM tokens WHERE token_id = $1
	UNION ALL
		SELECT c.token_id, t.depth + 1, t.path || c.token_id
		FROM tree t JOIN tokens c ON c.parent_token_id = t.token_id
		WHERE c.token_id <> ALL (t.path)
), revoked AS (
	UPDATE tokens SET revoked_at = $2
	WHERE token_id IN (SELECT token_id FROM tree) AND revoked_at IS NULL
	RETURNING token_id
)
SELECT tree.token_id FROM tree JOIN revoked USING (token_id)
ORDER BY tree.depth, tree.path COLLATE "C"`

// RevokeToken revokes id and every registered descendant in one
// SERIALIZABLE transaction (a recursive CTE) and returns the ids it newly
// revoked: id first (if it was not already revoked), then descendants
// breadth-first, siblings in token-id order. An id that is not registered
// is recorded in revoked_ids and returned alone (once). ErrNotFound only
// for an id that cannot be stored.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) ([]string, error) {
	if !findable(id) {
		return nil, wrap("revoke token", store.ErrNotFound)
	}
	var out []string
	err := s.serializable(ctx, func(tx pgx.Tx) error {
		out = []string{}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM tokens WHERE token_id = $1)", id).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			rows, err := tx.Query(ctx, `INSERT INTO revoked_ids (token_id, revoked_at) VALUES ($1, $2)
				ON CONFLICT (token_id) DO NOTHING RETURNING token_id`, id, store.NormTime(at))
			if err != nil {
				return err
			}
			out, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}
		rows, err := tx.Query(ctx, revokeCascade, id, store.NormTime(at))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, wrap("revoke token", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (s *Store) ids(ctx context.Context, op, q string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(op, err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// RevokedTokens returns every revoked token id, registered or not, ordered
// by id.
func (s *Store) RevokedTokens(ctx context.Context) ([]string, error) {
	return s.ids(ctx, "revoked tokens", `SELECT token_id FROM tokens WHERE revoked_at IS NOT NULL
		UNION SELECT token_id FROM revoked_ids ORDER BY token_id`)
}

// RevokedSince implements store.RevocationFeed: ids (registered or not)
// revoked at or after since, oldest first, ties by id.
func (s *Store) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	return s.ids(ctx, "revoked since", `SELECT token_id FROM (
			SELECT token_id, revoked_at FROM tokens WHERE revoked_at >= $1
			UNION ALL SELECT token_id, revoked_at FROM revoked_ids WHERE revoked_at >= $1
		) r ORDER BY revoked_at, token_id`, store.NormTime(since))
}
