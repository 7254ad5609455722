package fastddspeer

import (
	"testing"
	"time"
)

func TestSummarise(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	cases := []struct {
		name string
		in   []time.Duration
		want LatencyStats
	}{
		{"empty", nil, LatencyStats{}},
		{"one", []time.Duration{ms(3)}, LatencyStats{N: 1, P50: ms(3), P99: ms(3), Max: ms(3)}},
		{"unsorted", []time.Duration{ms(4), ms(1), ms(3), ms(2)}, LatencyStats{N: 4, P50: ms(2), P99: ms(4), Max: ms(4)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Summarise(c.in); got != c.want {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(100 - i)
	}
	if got := Summarise(hundred); got.P50 != ms(50) || got.P99 != ms(99) || got.Max != ms(100) {
		t.Fatalf("1..100 ms: %v", got)
	}
}
