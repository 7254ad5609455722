package link

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkControllerSilenceToTrip measures, on the gateway side, the time
// from the controller's last heartbeat to the breaker tripping when the
// controller falls silent with its connection still open (20 ms / 100 ms
// defaults). Run with -benchtime=30x or so.
func BenchmarkControllerSilenceToTrip(b *testing.B) {
	br, srv, addr := startServer(b, Config{})
	tripped := make(chan time.Time, 4)
	ch, unsub := br.Subscribe()
	defer unsub()
	go func() {
		for s := range ch {
			if s.Tripped {
				select {
				case tripped <- time.Now():
				default:
				}
			}
		}
	}()
	codec, _ := NewCodec(testKey, RoleController, uint64(time.Now().UnixNano()), 0)
	payload, _ := json.Marshal(Status{Button: "released"})
	lat := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		last := make(chan time.Time, 1)
		go func() { // heartbeats until cancelled, then silence (conn stays open)
			t := time.NewTicker(DefaultInterval)
			defer t.Stop()
			var at time.Time
			for {
				f, _ := codec.Seal(Heartbeat, time.Now(), payload)
				conn.Write(f)
				at = time.Now()
				select {
				case <-ctx.Done():
					last <- at
					return
				case <-t.C:
				}
			}
		}()
		deadline := time.Now().Add(10 * time.Second)
		for br.Tripped() {
			if s := br.Snapshot(); len(s.Latched()) == 0 {
				br.Reset(context.Background(), "bench", "re-arm")
			}
			if time.Now().After(deadline) {
				b.Fatal("never re-armed")
			}
			time.Sleep(time.Millisecond)
		}
		for len(tripped) > 0 {
			<-tripped
		}
		b.StartTimer()
		cancel()
		at := <-tripped
		b.StopTimer()
		lat = append(lat, at.Sub(<-last))
		conn.Close()
	}
	_ = srv
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
		b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
		b.ReportMetric(float64(lat[0].Microseconds())/1000, "min-ms")
	}
}
