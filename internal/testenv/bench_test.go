package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// BenchmarkFreshPGDatabaseCycle measures what FreshPGDatabase costs a test:
// CREATE DATABASE from template1 plus the forced DROP in cleanup.
func BenchmarkFreshPGDatabaseCycle(b *testing.B) {
	base := PostgresURL(b)
	ctx := context.Background()
	for b.Loop() {
		name := pgx.Identifier{dbName(b.Name())}.Sanitize()
		if err := adminExec(ctx, base, "CREATE DATABASE "+name); err != nil {
			b.Fatal(err)
		}
		if err := adminExec(ctx, base, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisAddr measures an accessor's reachability probe (one TCP
// dial on loopback), paid once per call.
func BenchmarkRedisAddr(b *testing.B) {
	for b.Loop() {
		if RedisAddr(b) == "" {
			b.Fatal("no address")
		}
	}
}
