package mcpbridge_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/mcpbridge"
	"github.com/sintgate/sintgate/bridges/mcpbridge/mcpbridgetest"
)

// BenchmarkCall measures one allowed tools/call through the bridge (agent →
// bridge over the in-memory transport → intercept over loopback HTTP to the
// in-process gateway with its durable embedded ledger → attestation
// verification → downstream tool), against the same call made directly to
// the downstream server.
func BenchmarkCall(b *testing.B) {
	args := map[string]any{"path": "/etc/robot.yaml"}
	b.Run("through-bridge", func(b *testing.B) {
		r := newRig(b, rigOpts{})
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			res, err := r.agent.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args})
			if err != nil || res.IsError {
				b.Fatalf("call: %v %+v", err, res)
			}
		}
	})
	b.Run("through-bridge-no-relist", func(b *testing.B) {
		// RelistAge negative: no tool listing before each call.
		r := newRig(b, rigOpts{relistAge: -1})
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			res, err := r.agent.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args})
			if err != nil || res.IsError {
				b.Fatalf("call: %v %+v", err, res)
			}
		}
	})
	b.Run("through-bridge-http", func(b *testing.B) {
		// The agent reaches the bridge over streamable HTTP (loopback,
		// bearer token); the downstream server is in memory.
		r := newRig(b, rigOpts{http: true})
		ctx := context.Background()
		b.ResetTimer()
		for b.Loop() {
			res, err := r.agent.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args})
			if err != nil || res.IsError {
				b.Fatalf("call: %v %+v", err, res)
			}
		}
	})
	b.Run("direct-http", func(b *testing.B) {
		// The same call made directly to the downstream server served over
		// streamable HTTP (loopback).
		ctx := context.Background()
		srv := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(nil))
		hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
		defer hs.Close()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: hs.URL, MaxRetries: -1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("intercept-only", func(b *testing.B) {
		// The gateway round trip alone, as the bridge makes it.
		g := newGateway(b)
		agent, tokenID, _ := g.agentToken()
		ctx := context.Background()
		params := json.RawMessage(`{"path":"/etc/robot.yaml"}`)
		b.ResetTimer()
		for b.Loop() {
			d, _, err := agent.Intercept(ctx, api.InterceptRequest{TokenID: tokenID, Resource: "mcp://testfs/readFile", Action: "call", Params: params})
			if err != nil || d.Decision != "allow" {
				b.Fatalf("intercept: %v %+v", err, d)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		ctx := context.Background()
		ct, st := mcp.NewInMemoryTransports()
		ss, err := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(nil)).Connect(ctx, st, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ss.Close()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "readFile", Arguments: args}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEstopToSafeStop measures, per trip, the delay from the
// operator's trip request being sent to the bridge being latched (Latched
// reports true: every call refused, the calls in flight cancelled),
// polling GET /v1/estop every 50 ms, with or without the pushed trips of
// the approvals stream (real in-process gateway). Each iteration waits a
// random fraction of the interval, trips, waits for the latch, resets and
// waits for the bridge to resume.
func BenchmarkEstopToSafeStop(b *testing.B) {
	for _, bc := range []struct {
		name string
		push bool
	}{{"poll-only/poll=50ms", false}, {"push/poll=50ms", true}} {
		b.Run(bc.name, func(b *testing.B) {
			const every = 50 * time.Millisecond
			r := newRig(b, rigOpts{poll: true, noPush: !bc.push, every: every})
			defer r.stop()
			if bc.push {
				r.gw.waitStreams(b, 1)
			}
			waitLatched := func(want bool) {
				deadline := time.Now().Add(5 * time.Second)
				for latched, _ := r.bridge.Latched(); latched != want; latched, _ = r.bridge.Latched() {
					if time.Now().After(deadline) {
						b.Fatalf("latched still %v after 5 s", !want)
					}
					time.Sleep(200 * time.Microsecond)
				}
			}
			waitLatched(false)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				time.Sleep(time.Duration(rand.Int64N(int64(every))))
				sent := time.Now() // the operator presses: the stop may beat the trip\'s answer (journal fsync)
				if st := r.gw.admin("POST", "/v1/estop/trip", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("trip: %d", st)
				}
				waitLatched(true)
				lat = append(lat, time.Since(sent))
				if st := r.gw.admin("POST", "/v1/estop/reset", map[string]string{"reason": "bench"}, nil); st != 200 {
					b.Fatalf("reset: %d", st)
				}
				waitLatched(false)
			}
			b.StopTimer()
			slices.Sort(lat)
			var sum time.Duration
			for _, l := range lat {
				sum += l
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(len(lat)), "mean-µs")
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Microseconds()), "p99-µs") // nearest rank
			b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
		})
	}
}

// BenchmarkRead measures one allowed resources/read through the bridge
// (agent → bridge in memory → intercept `read` on
// mcp://testfs/resource/<encoded uri> → attestation verification →
// downstream read → contents scan) against the same read made directly to
// the downstream server (in memory).
func BenchmarkRead(b *testing.B) {
	uri := "test://pub/note"
	b.Run("through-bridge", func(b *testing.B) {
		r := newRig(b, rigOpts{setup: resourceServer(&reads{}), scope: &mcpbridge.Scope{Resource: "mcp://testfs/**", Actions: agentActions}})
		ctx := context.Background()
		agentURI := res(uri)
		b.ResetTimer()
		for b.Loop() {
			if _, err := r.agent.ReadResource(ctx, &mcp.ReadResourceParams{URI: agentURI}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		ctx := context.Background()
		srv := mcpbridgetest.NewServer(mcpbridgetest.NewRecorder(nil))
		resourceServer(&reads{})(srv)
		ct, st := mcp.NewInMemoryTransports()
		ss, err := srv.Connect(ctx, st, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ss.Close()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "direct"}, nil).Connect(ctx, ct, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		b.ResetTimer()
		for b.Loop() {
			if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
