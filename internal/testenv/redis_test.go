package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sintgate/sintgate/internal/testenv"
)

// TestRedisHarness proves the Redis service: SET, GET, and a key expiry.
func TestRedisHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t)})
	defer func() { _ = rdb.Close() }()
	key := "testenv:harness:" + t.Name()
	t.Cleanup(func() { _ = rdb.Del(context.Background(), key).Err() })

	t.Run("set-get/roundtrip", func(t *testing.T) {
		if err := rdb.Set(ctx, key, "hello", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		got, err := rdb.Get(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != "hello" {
			t.Fatalf("GET = %q, want %q", got, "hello")
		}
	})
	t.Run("get/missing-key", func(t *testing.T) {
		_, err := rdb.Get(ctx, key+":absent").Result()
		if err != redis.Nil {
			t.Fatalf("GET of a missing key: err = %v, want redis.Nil", err)
		}
	})
}
