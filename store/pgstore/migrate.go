package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Component is this package's name in schema_migrations, which other
// packages (the ledger) may share with their own component name.
const Component = "store"

// migrationLockKey is the pg_advisory_lock key that serialises migrations
// of this component across processes ("sintstor" in ASCII).
const migrationLockKey int64 = 0x73696e7473746f72

// maxMigrationName bounds the name part of a migration file.
const maxMigrationName = 100

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// ParseMigrationName parses "NNNN_name.sql": a positive decimal version of
// 1 to 9 digits, an underscore, and a name of [a-z0-9_], 1 to 100 bytes.
func ParseMigrationName(file string) (version int, name string, err error) {
	base, ok := strings.CutSuffix(file, ".sql")
	if !ok {
		return 0, "", fmt.Errorf("migration %q: not a .sql file", file)
	}
	num, name, ok := strings.Cut(base, "_")
	if !ok || num == "" || len(num) > 9 {
		return 0, "", fmt.Errorf("migration %q: want NNNN_name.sql", file)
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, "", fmt.Errorf("migration %q: version %q is not decimal", file, num)
		}
	}
	version, _ = strconv.Atoi(num) // ≤ 9 decimal digits cannot fail
	if version == 0 {
		return 0, "", fmt.Errorf("migration %q: version 0", file)
	}
	if name == "" || len(name) > maxMigrationName {
		return 0, "", fmt.Errorf("migration %q: name must be 1 to %d bytes", file, maxMigrationName)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return 0, "", fmt.Errorf("migration %q: name may hold only [a-z0-9_]", file)
		}
	}
	return version, name, nil
}

// LoadMigrations reads every .sql file of dir in fsys, ordered by version.
// Versions must be 1, 2, 3, … without gaps or duplicates.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		v, name, err := ParseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		sql, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(sql)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: want version %d, found %d_%s (gap or duplicate)", i+1, m.Version, m.Name)
		}
	}
	return out, nil
}

// Migrations returns this package's embedded migrations.
func Migrations() ([]Migration, error) { return LoadMigrations(migrationFiles, "migrations") }

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    component  text NOT NULL,
    version    integer NOT NULL,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (component, version)
)`

// Migrate applies the migrations that schema_migrations does not list for
// Component, each in its own transaction, holding a session-level advisory
// lock so that concurrent starters apply each migration exactly once. It
// runs on its own connection, closed at the end, so the lock can never stay
// behind in a pool. It fails if the database is ahead of this binary.
func Migrate(ctx context.Context, cfg *pgx.ConnConfig) (applied []int, err error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, cfg, Component, ms)
}

// migrate applies ms (versions 1..n, as LoadMigrations returns them) for
// component.
func migrate(ctx context.Context, cfg *pgx.ConnConfig, component string, ms []Migration) (applied []int, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }() // ends the session: releases the lock
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := conn.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations WHERE component = $1", component)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for _, v := range done {
		if int(v) > len(ms) {
			return nil, fmt.Errorf("migrate: database has %s migration %d, this binary knows %d", component, v, len(ms))
		}
	}
	for _, m := range ms {
		if slices.Contains(done, int32(m.Version)) {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: the simple protocol, so a file may hold several statements.
			if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (component, version, name) VALUES ($1, $2, $3)",
				component, m.Version, m.Name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate: %04d_%s: %w", m.Version, m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	// Closing the connection (deferred) releases the lock as well; unlocking
	// first only hands it over sooner, so its error does not matter.
	_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrationLockKey)
	return applied, nil
}
