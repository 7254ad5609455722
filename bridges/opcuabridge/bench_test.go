package opcuabridge_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
)

// quantiles reports p50 and p99 of ds as metrics.
func quantiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkWrite: an agent's write through the bridge (intercept, offline
// attestation check, clamp, OPC UA write, status back) until the PLC has
// it, beside a direct OPC UA write to the same PLC in the same run, and an
// e-stop trip until the PLC has the safe state. Run:
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 200x ./bridges/opcuabridge/
func BenchmarkWrite(b *testing.B) {
	p := startPLC(b)
	if p == nil {
		return
	}
	b.Run("direct", func(b *testing.B) {
		c := p.direct(b)
		nid := ua.MustParseNodeID("ns=1;s=Speed")
		ds := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			v := float64(i%90+1) / 100
			t0 := time.Now()
			res, err := c.Write(context.Background(), &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{{NodeID: nid, AttributeID: ua.AttributeIDValue,
				Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}}}})
			if err != nil || res.Results[0] != ua.StatusOK {
				b.Fatal(err, res)
			}
			p.expect("write", "Speed", v)
			ds = append(ds, time.Since(t0))
		}
		quantiles(b, ds)
	})
	b.Run("bridge", func(b *testing.B) {
		r := newRig(b, p, rigOpts{})
		ds := make([]time.Duration, 0, b.N)
		for i := 0; b.Loop(); i++ {
			v := float64(i%90+1) / 100
			t0 := time.Now()
			if o := r.write("ns1/Cell/Speed", "Double", fmt.Sprint(v)); o.Outcome != "written" {
				b.Fatalf("%+v", o)
			}
			p.expect("write", "Speed", v)
			ds = append(ds, time.Since(t0))
		}
		quantiles(b, ds)
	})
	b.Run("trip-to-safe-state", func(b *testing.B) {
		r := newRig(b, p, rigOpts{estop: true})
		ds := make([]time.Duration, 0, b.N)
		for b.Loop() {
			if o := r.write("ns1/Cell/Speed", "Double", "0.5"); o.Outcome != "written" {
				b.Fatalf("%+v", o)
			}
			p.expect("write", "Speed", 0.5)
			t0 := time.Now()
			if st := r.gw.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
				b.Fatalf("trip %d", st)
			}
			p.expect("write", "Speed", 0)
			ds = append(ds, time.Since(t0))
			if st := r.gw.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
				b.Fatalf("reset %d", st)
			}
			r.ready()
			p.drain()
		}
		quantiles(b, ds)
	})
}
