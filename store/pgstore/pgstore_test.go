package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/store"
	"github.com/sintgate/sintgate/store/storetest"
)

// openFresh opens a store on a database private to t (dropped at cleanup).
func openFresh(t *testing.T) (*Store, string) {
	t.Helper()
	url := testenv.FreshPGDatabase(t)
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, url
}

// icuDatabase creates a database private to t whose default collation is
// ICU en-US, under which "k-b" < "kA" < "ka" does not hold: the contract's
// bytewise orders then prove that the schema's COLLATE "C" is in effect.
// Servers without ICU get testenv's plain fresh database.
func icuDatabase(t *testing.T) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := "t_pgstore_icu_" + hex.EncodeToString(rnd[:])
	admin := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(context.Background()) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	err = admin(t.Context(), "CREATE DATABASE "+name+
		" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
	if err != nil {
		t.Logf("no ICU database (%v): using the server's default collation", err)
		return testenv.FreshPGDatabase(t)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// shared is a Store whose Close does nothing: the contract's subtests share
// one database, emptied before each, because creating a database per subtest
// costs about a second.
type shared struct{ *Store }

func (shared) Close() error { return nil }

func TestContract(t *testing.T) {
	s, err := Open(t.Context(), icuDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	storetest.Run(t, func(t *testing.T) store.Store {
		if _, err := s.pool.Exec(t.Context(), "TRUNCATE roots, api_keys, tokens, revoked_ids, approvals, estop, agents, repetitions"); err != nil {
			t.Fatal(err)
		}
		return shared{s}
	})
	storetest.RunDurable(t, func(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
		s, url := openFresh(t)
		return s, func(t *testing.T) store.Store {
			s, err := Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
	})
}

func migrationRows(t *testing.T, url string) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, err := conn.Query(t.Context(), "SELECT component || ':' || version || ':' || name FROM schema_migrations ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrate(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, Component+":"+strconv.Itoa(m.Version)+":"+m.Name)
	}
	t.Run("concurrent-opens-apply-once", func(t *testing.T) {
		url := testenv.FreshPGDatabase(t)
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				s, err := Open(t.Context(), url)
				if err == nil {
					err = s.Ping(t.Context())
					_ = s.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
		if got := migrationRows(t, url); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("schema_migrations = %v, want %v", got, want)
		}
	})
	t.Run("reopen-applies-nothing", func(t *testing.T) {
		_, url := openFresh(t)
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := Migrate(t.Context(), cfg)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second Migrate applied %v, %v; want nothing", applied, err)
		}
	})
	t.Run("error/database-ahead-of-binary", func(t *testing.T) {
		_, url := openFresh(t)
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (component, version, name) VALUES ($1, 999, 'future')", Component); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(t.Context(), url); err == nil {
			_ = s.Close()
			t.Fatal("Open accepted a database migrated by a newer binary")
		}
	})
	t.Run("other-components-are-ignored", func(t *testing.T) {
		_, url := openFresh(t)
		conn, err := pgx.Connect(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(t.Context(), "INSERT INTO schema_migrations (component, version, name) VALUES ('ledger', 999, 'x')"); err != nil {
			t.Fatal(err)
		}
		s, err := Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	})
}

func TestParseMigrationName(t *testing.T) {
	for _, tc := range []struct {
		file    string
		version int
		name    string
		ok      bool
	}{
		{"0001_init.sql", 1, "init", true},
		{"0012_add_x2.sql", 12, "add_x2", true},
		{"7_a.sql", 7, "a", true},
		{"0000_zero.sql", 0, "", false},
		{"0001_init.txt", 0, "", false},
		{"0001init.sql", 0, "", false},
		{"_init.sql", 0, "", false},
		{"0001_.sql", 0, "", false},
		{"00x1_init.sql", 0, "", false},
		{"+001_init.sql", 0, "", false},
		{"0001_Init.sql", 0, "", false},
		{"0001_in-it.sql", 0, "", false},
		{"1234567890_big.sql", 0, "", false},
		{"0001_" + strings.Repeat("a", maxMigrationName+1) + ".sql", 0, "", false},
	} {
		name := "ok/" + tc.file
		if !tc.ok {
			name = "error/" + tc.file
		}
		t.Run(name, func(t *testing.T) {
			v, n, err := ParseMigrationName(tc.file)
			if (err == nil) != tc.ok || v != tc.version || n != tc.name {
				t.Fatalf("ParseMigrationName(%q) = %d, %q, %v", tc.file, v, n, err)
			}
		})
	}
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "7_a.sql", "0000_zero.sql", "0001_Init.sql", "1234567890_big.sql", "_x.sql", "0001_.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		v, name, err := ParseMigrationName(file)
		if err != nil {
			return
		}
		if v < 1 || v > 999999999 || name == "" || len(name) > maxMigrationName {
			t.Fatalf("accepted %q as %d %q", file, v, name)
		}
		// The accepted name round-trips through the canonical spelling.
		v2, name2, err := ParseMigrationName(strconv.Itoa(v) + "_" + name + ".sql")
		if err != nil || v2 != v || name2 != name {
			t.Fatalf("canonical form of %q does not parse back: %d %q %v", file, v2, name2, err)
		}
	})
}

func BenchmarkStore(b *testing.B) {
	s, err := Open(b.Context(), testenv.FreshPGDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	storetest.Benchmark(b, func(b *testing.B) store.Store {
		if _, err := s.pool.Exec(b.Context(), "TRUNCATE roots, api_keys, tokens, revoked_ids, approvals, estop, agents, repetitions"); err != nil {
			b.Fatal(err)
		}
		return shared{s}
	})
}

func TestLoadMigrations(t *testing.T) {
	file := func(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want []int // nil: error
	}{
		{"ok/ordered-by-version", fstest.MapFS{"m/0002_b.sql": file("B"), "m/0001_a.sql": file("A"), "m/0010_c.sql": file("C"),
			"m/0003_d.sql": file("D"), "m/0004_e.sql": file("E"), "m/0005_f.sql": file("F"), "m/0006_g.sql": file("G"),
			"m/0007_h.sql": file("H"), "m/0008_i.sql": file("I"), "m/0009_j.sql": file("J")}, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"error/gap", fstest.MapFS{"m/0001_a.sql": file("A"), "m/0003_c.sql": file("C")}, nil},
		{"error/duplicate", fstest.MapFS{"m/0001_a.sql": file("A"), "m/1_b.sql": file("B")}, nil},
		{"error/not-starting-at-1", fstest.MapFS{"m/0002_a.sql": file("A")}, nil},
		{"error/bad-name", fstest.MapFS{"m/0001_a.sql": file("A"), "m/notes.txt": file("x")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := LoadMigrations(tc.fs, "m")
			if tc.want == nil {
				if err == nil {
					t.Fatalf("LoadMigrations accepted %v", ms)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("ok/embedded", func(t *testing.T) {
		ms, err := Migrations()
		if err != nil || len(ms) == 0 || ms[0].Name != "init" {
			t.Fatalf("embedded migrations: %v, %v", ms, err)
		}
	})
}

func TestMigrateSteps(t *testing.T) {
	url := testenv.FreshPGDatabase(t)
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	m1 := Migration{Version: 1, Name: "a", SQL: "CREATE TABLE step_a (x int); INSERT INTO step_a VALUES (1)"}
	m2 := Migration{Version: 2, Name: "b", SQL: "CREATE TABLE step_b (x int)"}
	bad := Migration{Version: 3, Name: "bad", SQL: "CREATE TABLE step_c (x int); SELECT no_such_function()"}
	steps := []struct {
		name    string
		ms      []Migration
		applied []int
		fails   bool
	}{
		{"first", []Migration{m1}, []int{1}, false},
		{"second-applies-only-the-new-one", []Migration{m1, m2}, []int{2}, false},
		{"failing-migration-is-rolled-back", []Migration{m1, m2, bad}, nil, true},
		{"nothing-left", []Migration{m1, m2}, nil, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			applied, err := migrate(t.Context(), cfg, "steptest", st.ms)
			if (err != nil) != st.fails || !slices.Equal(applied, st.applied) {
				t.Fatalf("migrate = %v, %v", applied, err)
			}
		})
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var stepC *string
	var rows int
	if err := conn.QueryRow(t.Context(),
		"SELECT to_regclass('step_c')::text, (SELECT count(*) FROM schema_migrations WHERE component = 'steptest')").
		Scan(&stepC, &rows); err != nil {
		t.Fatal(err)
	}
	if stepC != nil || rows != 2 {
		t.Fatalf("after the failed migration: step_c = %v, %d recorded, want no table and 2", stepC, rows)
	}
}

// TestOutage drops the database under an open store: every call must fail
// with a plain error (never ErrNotFound), so that callers fail closed.
func TestOutage(t *testing.T) {
	s, dbURL := openFresh(t)
	ctx := t.Context()
	if err := s.PutToken(ctx, store.TokenRecord{TokenID: "t1", Raw: "a.b.c", RegisteredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize()+" WITH (FORCE)")
	_ = conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plain := func(what string, err error) {
		t.Helper()
		if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrConflict) {
			t.Errorf("%s during an outage: %v, want a plain error", what, err)
		}
	}
	_, err = s.GetToken(ctx, "t1")
	plain("GetToken", err)
	_, err = s.GetToken(ctx, "missing")
	plain("GetToken of a missing id", err)
	_, err = s.RevokedTokens(ctx)
	plain("RevokedTokens", err)
	_, err = s.RevokeToken(ctx, "t1", time.Now())
	plain("RevokeToken", err)
	_, err = s.GetEstop(ctx)
	plain("GetEstop", err)
	plain("Ping", s.Ping(ctx))
}

// UpdateEstop is a read-modify-write under the row's lock: concurrent
// writers each see the others' writes, so none is lost (what the replicas
// of a fleet rely on when they add their trip ids to the shared row).
func TestUpdateEstopConcurrent(t *testing.T) {
	s, _ := openFresh(t)
	ctx := context.Background()
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d/%d", w, i)
				err := s.UpdateEstop(ctx, func(cur store.EstopState) store.EstopState {
					cur.State = "tripped"
					cur.Sources = append(cur.Sources, store.EstopSource{ID: id, Kind: "replica", State: "clear", Since: 1})
					return cur
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, err := s.GetEstop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "tripped" || len(st.Sources) != writers*each {
		t.Fatalf("row %s with %d sources, want tripped with %d (no write lost)", st.State, len(st.Sources), writers*each)
	}
	t.Run("invalid-state-refused", func(t *testing.T) {
		err := s.UpdateEstop(ctx, func(cur store.EstopState) store.EstopState {
			return store.EstopState{State: "armed", Reason: "nul\x00"}
		})
		if err == nil {
			t.Fatal("a reason with U+0000 was stored")
		}
		if st, _ := s.GetEstop(ctx); st.State != "tripped" || len(st.Sources) != writers*each {
			t.Fatalf("row %s with %d sources after a refused update, want it unchanged", st.State, len(st.Sources))
		}
	})
}
