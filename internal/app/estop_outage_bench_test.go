package app

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"
)

// BenchmarkTripStoreDown measures an operator's POST /v1/estop/trip over
// loopback HTTP, from the request to the answer, while the store and the
// ledger fail every write (the trip is journaled and fsynced; the ledger
// entry follows when they are back), and with the store up for comparison.
// Each iteration then restores the store and resets, untimed.
//
//	go test -run XXX -bench TripStoreDown -benchtime 50x ./internal/app/
func BenchmarkTripStoreDown(b *testing.B) {
	b.Run("store-down", func(b *testing.B) { benchTrip(b, true) })
	b.Run("store-up", func(b *testing.B) { benchTrip(b, false) })
}

func benchTrip(b *testing.B, outage bool) {
	g, url, key, down, _ := outageGateway(b, "testdata/policy.yaml", Hardware{})
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(path string) int {
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader([]byte(`{"reason":"bench"}`)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		down.Store(outage)
		b.StartTimer()
		start := time.Now()
		if st := post("/v1/estop/trip"); st != 200 {
			b.Fatalf("trip: %d", st)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		if !g.Breaker.Tripped() {
			b.Fatal("not tripped")
		}
		down.Store(false)
		for post("/v1/estop/reset") != 200 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.5), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}
