package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/sintgate/sintgate/store"
)

// Benchmark measures the hot calls of a store: GetToken (serial and
// parallel), PutToken (without and with a parent, and from 8×GOMAXPROCS
// writers), CreateApproval (serial and 8×GOMAXPROCS writers), RevokeToken
// of a single token, TakeRepetition (8×GOMAXPROCS callers on 64 keys,
// the cost of a maxRepetitions decision). open must return an empty
// store whose cleanup is registered on b.
func Benchmark(b *testing.B, open func(b *testing.B) store.Store) {
	const preloaded = 1000
	b.Run("TakeRepetitionParallel", func(b *testing.B) {
		r, ok := open(b).(store.Repetitions)
		if !ok {
			b.Fatal("the store lacks store.Repetitions, which the gateway requires")
		}
		var n atomic.Int64
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := r.TakeRepetition(b.Context(), fmt.Sprintf("rep:%d", n.Add(1)%64), 1<<40); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("GetToken", func(b *testing.B) {
		s := open(b)
		for i := range preloaded {
			if err := s.PutToken(b.Context(), tok(fmt.Sprintf("g%04d", i), "", "agent")); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		i := 0
		for b.Loop() {
			if _, err := s.GetToken(b.Context(), fmt.Sprintf("g%04d", i%preloaded)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetTokenParallel", func(b *testing.B) {
		s := open(b)
		for i := range preloaded {
			if err := s.PutToken(b.Context(), tok(fmt.Sprintf("g%04d", i), "", "agent")); err != nil {
				b.Fatal(err)
			}
		}
		var n atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetToken(b.Context(), fmt.Sprintf("g%04d", n.Add(1)%preloaded)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("PutToken", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			if err := s.PutToken(b.Context(), tok(fmt.Sprintf("p%09d", i), "", "agent")); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("PutTokenWithParent", func(b *testing.B) {
		s := open(b)
		if err := s.PutToken(b.Context(), tok("root", "", "agent")); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			if err := s.PutToken(b.Context(), tok(fmt.Sprintf("c%09d", i), "root", "agent")); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("PutTokenParallel", func(b *testing.B) {
		s := open(b)
		b.SetParallelism(8) // 16 writers on 2 cores: what group commit is for
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.PutToken(b.Context(), tok(fmt.Sprintf("q%09d", n.Add(1)), "", "agent")); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("CreateApproval", func(b *testing.B) {
		s := open(b)
		i := 0
		for b.Loop() {
			id := fmt.Sprintf("%09d", i)
			if _, err := s.CreateApproval(b.Context(), approval("ap"+id, "agent", "req"+id, "pending", int64(i))); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("CreateApprovalParallel", func(b *testing.B) {
		s := open(b)
		b.SetParallelism(8) // 16 writers on 2 cores: what group commit is for
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				id := fmt.Sprintf("%09d", i)
				if _, err := s.CreateApproval(b.Context(), approval("ap"+id, "agent", "req"+id, "pending", i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("RevokeToken", func(b *testing.B) {
		s := open(b)
		for i := range b.N {
			if err := s.PutToken(b.Context(), tok(fmt.Sprintf("r%09d", i), "", "agent")); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.RevokeToken(b.Context(), fmt.Sprintf("r%09d", i), base); err != nil {
				b.Fatal(err)
			}
		}
	})
}
