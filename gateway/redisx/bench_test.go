package redisx_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sintgate/sintgate/gateway/redisx"
)

// BenchmarkReplay: one SET NX PX per decision (parallel clients).
func BenchmarkReplay(b *testing.B) {
	c, p := client(b)
	r := redisx.NewReplay(c, c, p, nil, nil)
	if err := r.Ready(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	b.SetParallelism(8) // 16 goroutines on 2 cores, like 16 clients
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := r.FirstSeen(ctx, "agent", strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), now); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLimiterAllow: the sliding-window script on 64 keys, budget
// never exhausted.
func BenchmarkLimiterAllow(b *testing.B) {
	c, p := client(b)
	l := redisx.NewLimiter(c, p)
	ctx := context.Background()
	b.SetParallelism(8) // 16 goroutines on 2 cores, like 16 clients
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := l.Allow(ctx, "k"+strconv.Itoa(i%64), 1<<30, time.Second, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRepetition: the repetition script.
func BenchmarkRepetition(b *testing.B) {
	c, p := client(b)
	l := redisx.NewLimiter(c, p)
	ctx := context.Background()
	b.SetParallelism(8) // 16 goroutines on 2 cores, like 16 clients
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.AllowRepetition(ctx, "tok", 1<<40); err != nil {
				b.Fatal(err)
			}
		}
	})
}
