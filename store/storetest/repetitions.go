package storetest

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sintgate/sintgate/store"
)

func reps(t *testing.T, s store.Store) store.Repetitions {
	t.Helper()
	r, ok := s.(store.Repetitions)
	if !ok {
		t.Fatalf("%T does not implement store.Repetitions", s)
	}
	return r
}

// testRepetitions is the contract of store.Repetitions (lifetime counters).
func testRepetitions(t *testing.T, open Opener) {
	t.Run("absent-is-zero", func(t *testing.T) {
		r := reps(t, open(t))
		n, err := r.RepetitionCount(t.Context(), "rep:never")
		must(t, err)
		equal(t, "count", n, int64(0))
	})
	t.Run("counts-up-to-max-then-refuses", func(t *testing.T) {
		r, ctx := reps(t, open(t)), t.Context()
		for i := range 3 {
			ok, err := r.TakeRepetition(ctx, "rep:a", 3)
			must(t, err)
			equal(t, "take "+string(rune('1'+i)), ok, true)
		}
		ok, err := r.TakeRepetition(ctx, "rep:a", 3)
		must(t, err)
		equal(t, "take over max", ok, false)
		n, err := r.RepetitionCount(ctx, "rep:a")
		must(t, err)
		equal(t, "count after refusal", n, int64(3))
		n, err = r.RepetitionCount(ctx, "rep:b")
		must(t, err)
		equal(t, "other key", n, int64(0))
	})
	t.Run("max-not-positive-refuses-without-counting", func(t *testing.T) {
		r, ctx := reps(t, open(t)), t.Context()
		for _, max := range []int64{0, -1} {
			ok, err := r.TakeRepetition(ctx, "rep:z", max)
			must(t, err)
			equal(t, "take", ok, false)
		}
		n, err := r.RepetitionCount(ctx, "rep:z")
		must(t, err)
		equal(t, "count", n, int64(0))
	})
	t.Run("error/invalid-key", func(t *testing.T) {
		r := reps(t, open(t))
		if _, err := r.TakeRepetition(t.Context(), "", 1); err == nil {
			t.Fatal("TakeRepetition with an empty key succeeded")
		}
	})
	t.Run("concurrent-takes-never-exceed-max", func(t *testing.T) {
		r, ctx := reps(t, open(t)), t.Context()
		var took atomic.Int64
		var wg sync.WaitGroup
		for range 24 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := r.TakeRepetition(ctx, "rep:c", 7)
				if err != nil {
					t.Error(err)
				}
				if ok {
					took.Add(1)
				}
			}()
		}
		wg.Wait()
		equal(t, "granted", took.Load(), int64(7))
	})
}

// testRepetitionsDurable checks that counts survive Close and reopen: a
// budget exhausted before a restart stays exhausted after it.
func testRepetitionsDurable(t *testing.T, open Reopener) {
	s, reopen := open(t)
	ctx := t.Context()
	for range 2 {
		ok, err := reps(t, s).TakeRepetition(ctx, "rep:d", 2)
		must(t, err)
		equal(t, "take before reopen", ok, true)
	}
	must(t, s.Close())
	r := reps(t, reopen(t))
	n, err := r.RepetitionCount(ctx, "rep:d")
	must(t, err)
	equal(t, "count after reopen", n, int64(2))
	ok, err := r.TakeRepetition(ctx, "rep:d", 2)
	must(t, err)
	equal(t, "take after reopen", ok, false)
}
