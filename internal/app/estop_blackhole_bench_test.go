package app

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sintgate/sintgate/tokens/tokentest"
)

// BenchmarkTripStoreNet measures a trip over loopback HTTP on a replicated
// gateway (PostgreSQL and Redis behind blackhole proxies) with the store
// up, refusing (connections closed at once, as a stopped server) and
// black-holed (connections accepted, nothing answered), for an operator's
// and an agent-signed trip: "flip" is from sending the request to the
// breaker tripping (the state's Since), "answer" to the response. Each
// iteration then restores the store and resets, untimed.
//
//	go test -run XXX -bench TripStoreNet -benchtime 20x ./internal/app/
func BenchmarkTripStoreNet(b *testing.B) {
	for _, mode := range []string{"up", "refused", "blackholed"} {
		for _, who := range []string{"operator", "agent"} {
			b.Run(mode+"/"+who, func(b *testing.B) { benchTripNet(b, mode, who == "agent") })
		}
	}
}

func benchTripNet(b *testing.B, mode string, agent bool) {
	g, url, key, pgHole, redisHole := blackholedBuild(b)
	hc := &http.Client{Timeout: 30 * time.Second}
	call := func(path string, hdr map[string]string, body []byte) int {
		req, _ := http.NewRequest("POST", url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	admin := func(path string, in any) int {
		body, _ := json.Marshal(in)
		return call(path, map[string]string{"Authorization": "Bearer " + key}, body)
	}
	if agent {
		if st := admin("/v1/roots", map[string]string{"publicKey": tokentest.Pub("root"), "name": "root"}); st != 201 {
			b.Fatalf("add root: %d", st)
		}
		tok := tokentest.Sign("root", tokentest.Root("root", "bench-tripper", 1, time.Now().UnixMilli()))
		if st := admin("/v1/tokens", map[string]string{"token": tok.Raw}); st != 201 {
			b.Fatalf("register token: %d", st)
		}
	}
	trip := func() int {
		if !agent {
			return admin("/v1/estop/trip", map[string]string{"reason": "bench"})
		}
		ts := time.Now().UnixMilli()
		body, _ := json.Marshal(map[string]any{"agentId": tokentest.Pub("bench-tripper"), "requestId": uuid.Must(uuid.NewV7()).String(), "timestamp": ts, "reason": "bench"})
		return call("/v1/estop/trip", signed("bench-tripper", body, ts), body)
	}
	flips := make([]time.Duration, 0, b.N)
	answers := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		switch mode {
		case "refused":
			pgHole.Refuse()
			redisHole.Refuse()
		case "blackholed":
			pgHole.Hole()
			redisHole.Hole()
		}
		b.StartTimer()
		start := time.Now()
		if st := trip(); st != 200 {
			b.Fatalf("trip: %d", st)
		}
		answers = append(answers, time.Since(start))
		b.StopTimer()
		s := g.Breaker.Snapshot()
		if !s.Tripped {
			b.Fatal("not tripped")
		}
		flips = append(flips, s.Since.Sub(start))
		pgHole.Restore()
		redisHole.Restore()
		deadline := time.Now().Add(30 * time.Second)
		for admin("/v1/estop/reset", map[string]string{"reason": "bench"}) != 200 {
			if time.Now().After(deadline) {
				b.Fatal("no reset within 30 s of the store's return")
			}
			time.Sleep(5 * time.Millisecond)
		}
		b.StartTimer()
	}
	b.StopTimer()
	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), name+"-p50-ms")
		b.ReportMetric(q(0.99), name+"-p99-ms")
	}
	report("flip", flips)
	report("answer", answers)
}
