package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/internal/testenv"
)

// TestPostgresHarness proves the PostgreSQL service: a private database,
// create a table, insert, read back; and the database is gone afterwards.
func TestPostgresHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var fresh string
	t.Run("fresh-database/roundtrip", func(t *testing.T) {
		fresh = testenv.FreshPGDatabase(t)
		conn, err := pgx.Connect(ctx, fresh)
		if err != nil {
			t.Fatalf("connect %s: %v", fresh, err)
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, `CREATE TABLE harness (id bigint PRIMARY KEY, body text NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO harness (id, body) VALUES ($1, $2), ($3, $4)`, 1, "one", 2, "two"); err != nil {
			t.Fatal(err)
		}
		var body string
		if err := conn.QueryRow(ctx, `SELECT body FROM harness WHERE id = $1`, 2).Scan(&body); err != nil {
			t.Fatal(err)
		}
		if body != "two" {
			t.Fatalf("read back %q, want %q", body, "two")
		}
	})
	t.Run("fresh-database/dropped-after-test", func(t *testing.T) {
		if fresh == "" {
			t.Skip("previous subtest did not create a database")
		}
		conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(ctx) }()
		cfg, err := pgx.ParseConfig(fresh)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname = $1`, cfg.Database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("database %s still exists after its test ended", cfg.Database)
		}
	})
	t.Run("fresh-database/isolated", func(t *testing.T) {
		a, b := testenv.FreshPGDatabase(t), testenv.FreshPGDatabase(t)
		if a == b {
			t.Fatalf("two fresh databases share the URL %s", a)
		}
		ca, err := pgx.Connect(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ca.Close(ctx) }()
		// A connection left open must not block the forced drop in Cleanup.
		cb, err := pgx.Connect(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cb.Close(ctx) }()
		if _, err := ca.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := cb.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatal("table created in one fresh database is visible in another")
		}
	})
}
