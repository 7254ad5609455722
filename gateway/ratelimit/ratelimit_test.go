package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.UnixMilli(1763928000000)

func TestTake(t *testing.T) {
	type call struct {
		at   time.Duration // offset from t0
		want bool
	}
	tests := []struct {
		name   string
		max    int64
		window time.Duration
		calls  []call
	}{
		{"allow/under-limit", 3, time.Second, []call{{0, true}, {1, true}, {2, true}}},
		{"deny/over-limit", 2, time.Second, []call{{0, true}, {1, true}, {2, false}}},
		{"allow/after-window-slides", 2, time.Second, []call{{0, true}, {500 * time.Millisecond, true}, {999 * time.Millisecond, false}, {time.Second, true}, {1499 * time.Millisecond, false}, {1500 * time.Millisecond, true}}},
		{"deny/edge-is-half-open", 1, time.Second, []call{{0, true}, {time.Second - 1, false}, {time.Second, true}}},
		{"deny/denied-calls-not-counted", 1, time.Second, []call{{0, true}, {100, false}, {200, false}, {time.Second, true}}},
		{"deny/zero-max", 0, time.Second, []call{{0, false}}},
		{"deny/negative-max", -1, time.Second, []call{{0, false}}},
		{"deny/zero-window", 5, 0, []call{{0, false}}},
		{"allow/clock-backwards-still-counts", 2, time.Second, []call{{time.Second, true}, {0, true}, {500, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCounter()
			for i, cl := range tc.calls {
				if got := c.Take("k", tc.max, tc.window, t0.Add(cl.at)); got != cl.want {
					t.Fatalf("call %d at +%v: got %v, want %v", i, cl.at, got, cl.want)
				}
			}
		})
	}
}

func TestTakeKeysIndependent(t *testing.T) {
	c := NewCounter()
	if !c.Take("a", 1, time.Second, t0) || !c.Take("b", 1, time.Second, t0) {
		t.Fatal("separate keys must have separate quotas")
	}
	if c.Take("a", 1, time.Second, t0) {
		t.Fatal("key a is exhausted")
	}
}

func TestSweepEvictsIdleKeys(t *testing.T) {
	c := NewCounter()
	for i := 0; i < 5000; i++ {
		c.Take(fmt.Sprintf("k%d", i), 1, time.Millisecond, t0)
	}
	// Enough later calls on other keys to trigger a sweep on every shard.
	later := t0.Add(time.Hour)
	for i := 0; i < 2*shardCount*sweepEvery; i++ {
		c.Take(fmt.Sprintf("z%d", i%4096), 1<<20, time.Millisecond, later.Add(time.Duration(i)*time.Millisecond))
	}
	for i := range c.shards {
		for k := range c.shards[i].calls {
			if k[0] == 'k' {
				t.Fatalf("idle key %q not evicted", k)
			}
		}
	}
}

func TestTakeRepetition(t *testing.T) {
	tests := []struct {
		name  string
		max   int64
		calls int
		want  int // allowed
	}{
		{"allow/exactly-max", 3, 3, 3},
		{"deny/beyond-max", 3, 10, 3},
		{"deny/zero", 0, 2, 0},
		{"deny/negative", -4, 2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCounter()
			got := 0
			for i := 0; i < tc.calls; i++ {
				if c.TakeRepetition("tok", tc.max) {
					got++
				}
			}
			if got != tc.want {
				t.Fatalf("allowed %d, want %d", got, tc.want)
			}
			if c.Repetitions("tok") != int64(tc.want) {
				t.Fatalf("Repetitions = %d, want %d", c.Repetitions("tok"), tc.want)
			}
		})
	}
}

func TestInterfaces(t *testing.T) {
	var l Limiter = NewCounter()
	ok, err := l.Allow(context.Background(), "k", 1, time.Second, t0)
	if !ok || err != nil {
		t.Fatalf("Allow = %v, %v", ok, err)
	}
	ok, _ = l.Allow(context.Background(), "k", 1, time.Second, t0)
	if ok {
		t.Fatal("second Allow must deny")
	}
	var r RepetitionLimiter = NewCounter()
	if ok, err := r.AllowRepetition(context.Background(), "k", 1); !ok || err != nil {
		t.Fatal("first repetition must pass")
	}
	if ok, _ := r.AllowRepetition(context.Background(), "k", 1); ok {
		t.Fatal("second repetition must deny")
	}
}

// TestConcurrentExact checks under -race that concurrent takers never get more
// than max allowed calls within one window.
func TestConcurrentExact(t *testing.T) {
	c := NewCounter()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if c.Take("shared", 100, time.Minute, t0.Add(time.Duration(i))) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 100 {
		t.Fatalf("allowed %d, want exactly 100", allowed.Load())
	}
}

// TestTakeMatchesModel compares Take with a brute-force model over random,
// non-decreasing call times.
func TestTakeMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		max := rapid.Int64Range(1, 6).Draw(rt, "max")
		win := time.Duration(rapid.Int64Range(1, 50).Draw(rt, "window"))
		steps := rapid.SliceOfN(rapid.Int64Range(0, 20), 1, 80).Draw(rt, "steps")
		c := NewCounter()
		var model []int64
		now := int64(0)
		for i, s := range steps {
			now += s
			n := 0
			for _, m := range model {
				if m > now-int64(win) {
					n++
				}
			}
			want := int64(n) < max
			if want {
				model = append(model, now)
			}
			if got := c.Take("k", max, win, time.Unix(0, now)); got != want {
				rt.Fatalf("call %d at %d: got %v want %v", i, now, got, want)
			}
		}
	})
}

func BenchmarkTake(b *testing.B) {
	c := NewCounter()
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = fmt.Sprintf("agent-%d", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			c.Take(keys[i%len(keys)], 1000, time.Second, t0.Add(time.Duration(i)*time.Microsecond))
			i++
		}
	})
}
