package injection

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortHits: sortHits orders exactly as the stable comparison sort on
// (pattern, start), including ties and hits that arrive out of start order.
func TestSortHits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []hit
	for round := 0; round < 2000; round++ {
		n := rng.IntN(300)
		hs := make([]hit, n)
		for i := range hs {
			hs[i] = hit{pat: int32(rng.IntN(64)), start: int32(rng.IntN(n/2 + 1)), end: int32(i)}
		}
		want := slices.Clone(hs)
		slices.SortStableFunc(want, cmpHit)
		// Two sorts in a row with one scratch buffer, as match does for
		// hits and reqs: neither may clobber the other.
		hs2 := slices.Clone(hs)
		slices.Reverse(hs2)
		want2 := slices.Clone(hs2)
		slices.SortStableFunc(want2, cmpHit)
		got := sortHits(slices.Clone(hs), &buf)
		got2 := sortHits(hs2, &buf)
		if !slices.Equal(got, want) || !slices.Equal(got2, want2) {
			t.Fatalf("round %d: sortHits %v, want %v", round, got, want)
		}
	}
}

// FuzzSortHits: the same on fuzzer-chosen hits.
func FuzzSortHits(f *testing.F) {
	f.Add([]byte{0, 1, 2, 0, 1, 1, 63, 5, 63, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		var hs []hit
		for i := 0; i+1 < len(b); i += 2 {
			hs = append(hs, hit{pat: int32(b[i] % 64), start: int32(b[i+1]), end: int32(i)})
		}
		want := slices.Clone(hs)
		slices.SortStableFunc(want, cmpHit)
		var buf []hit
		if got := sortHits(hs, &buf); !slices.Equal(got, want) {
			t.Fatalf("sortHits %v, want %v", got, want)
		}
	})
}
