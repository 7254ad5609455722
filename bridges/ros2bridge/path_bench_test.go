package ros2bridge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/ros2bridge/msgs"
	"github.com/sintgate/sintgate/bridges/topicbridge"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/gateway/attest"
)

// cannedGateway is an http.RoundTripper that answers every intercept like
// the gateway's allow, with an attestation signed for the request's id and
// params, without a network or a gateway (the bridge's own work only, plus
// this answer's signature).
type cannedGateway struct {
	key      attest.Key
	agentID  string
	envelope json.RawMessage
}

func (g cannedGateway) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var req api.InterceptRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	ph, err := attest.ParamsHash(req.Params)
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	att, err := attest.Sign(g.key, attest.Claims{Issuer: "gw", Subject: g.agentID, Audience: req.Resource, Action: req.Action,
		JTI: req.RequestID, IssuedAt: now, ExpiresAt: now + 30, TokenID: req.TokenID, Tier: 2, ParamsHash: ph,
		Envelope: g.envelope, PolicyHash: strings.Repeat("0", 64), LedgerSeq: 7})
	if err != nil {
		return nil, err
	}
	pol := strings.Repeat("0", 64)
	d := api.Decision{RequestID: &req.RequestID, Decision: "allow", Tier: 2, Attestation: &att, Envelope: g.envelope,
		Ledger: &api.LedgerRef{EventID: "01940000-0000-7000-8000-000000000000", Sequence: 7, Hash: strings.Repeat("1", 64)}, PolicyHash: &pol}
	out, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(out)), ContentLength: int64(len(out)), Request: r}, nil
}

// offline is a fixed key set (what JWKSCache serves from its cache).
type offline struct{ v *attest.Verifier }

func (o offline) Verify(_ context.Context, token string, now time.Time, want attest.Expect) (*attest.Claims, error) {
	return o.v.Verify(token, now, want)
}

// encodeOutput encodes the message like the actuator writer (no DDS).
type encodeOutput struct{ n int }

func (o *encodeOutput) Publish(_ context.Context, m topicbridge.Message) error {
	o.n += len(msgs.Encode(m.(msgs.Message)))
	return nil
}

// BenchmarkBridgePath/bridge is the bridge's own work for one Twist, without DDS
// and without a gateway: decode the agent's sample, the params JSON, the
// intercept's encoding and signature, the answer's decoding (an allow with
// an attestation signed by cannedGateway, whose signature and parsing are
// in the figure too: BenchmarkBridgePath/canned-answer-alone is that part
// alone), the attestation check, the clamp to the envelope
// and the actuator sample's encoding.
//
//	go test -run '^$' -bench BridgePath -benchmem ./bridges/ros2bridge/
func BenchmarkBridgePath(b *testing.B) {
	b.Run("bridge", benchBridgePath)
	b.Run("canned-answer-alone", benchCannedAnswer)
}

// cpuNow is the process's CPU time (user + system).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCannedAnswer is cannedGateway's part of benchBridgePath (to
// subtract): one intercept body (signed like the bridge's) answered.
func benchCannedAnswer(b *testing.B) {
	key, err := attest.NewKey(bytes.Repeat([]byte{7}, 32), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	agent := &client.Agent{BaseURL: "http://gateway", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))}
	gw := cannedGateway{key: key, agentID: agent.AgentID(),
		envelope: json.RawMessage(`{"maxVelocityMps":1,"maxAngularVelocityRps":2,"maxForceNewtons":50,"maxTorqueNm":5}`)}
	body, err := json.Marshal(api.InterceptRequest{RequestID: "019aaf00-0000-7000-8000-0000000000ab", AgentID: agent.AgentID(), Timestamp: 1,
		TokenID: "tok", Resource: "ros2:///cmd_vel", Action: "publish", Params: json.RawMessage(`{"linear":{"x":0.5,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.25}}`)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuNow()
	b.ResetTimer()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPost, "http://gateway/v1/intercept", bytes.NewReader(body))
		resp, err := gw.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}

func benchBridgePath(b *testing.B) {
	seed := bytes.Repeat([]byte{7}, 32)
	key, err := attest.NewKey(seed, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	agentKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	agent := &client.Agent{BaseURL: "http://gateway", Key: agentKey}
	gw := cannedGateway{key: key, agentID: agent.AgentID(),
		envelope: json.RawMessage(`{"maxVelocityMps":1,"maxAngularVelocityRps":2,"maxForceNewtons":50,"maxTorqueNm":5}`)}
	agent.HTTP = &http.Client{Transport: gw}
	rt, err := ParseRoute("/agent/cmd_vel=/cmd_vel")
	if err != nil {
		b.Fatal(err)
	}
	out := &encodeOutput{}
	var failed []topicbridge.Report
	f := false
	rt.Stop.Motion = &f
	core, err := topicbridge.New(topicbridge.Config{Gateway: agent, Verifier: offline{attest.NewVerifier(key)}, TokenID: "tok",
		KeepAll: true, Report: func(r topicbridge.Report) { failed = append(failed, r) }},
		[]topicbridge.Route{{Agent: rt.Agent, Resource: rt.Resource(), Codec: newCodec(rt), Out: out, Stop: rt.Stop}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hs := make(chan []func(topicbridge.Message), 1)
	done := make(chan error, 1)
	go func() {
		done <- core.Run(ctx, func(_ context.Context, h []func(topicbridge.Message)) (func(), error) { hs <- h; return func() {}, nil }, nil)
	}()
	h := (<-hs)[0]
	sample := msgs.Encode(&msgs.Twist{Linear: msgs.Vector3{X: 0.5}, Angular: msgs.Vector3{Z: 0.25}})
	b.ReportAllocs()
	cpu0 := cpuNow()
	b.ResetTimer()
	for range b.N {
		m, err := msgs.Decode(msgs.TwistType, sample)
		if err != nil {
			b.Fatal(err)
		}
		h(m)
	}
	b.StopTimer()
	// Process CPU time (the machine's load stretches wall time, much less
	// CPU time), the canned answer included (canned-answer-alone).
	b.ReportMetric(float64(cpuNow()-cpu0)/1e3/float64(b.N), "cpu-µs/op")
	cancel()
	<-done
	if st := core.Stats(); st.Forwarded != int64(b.N) || len(failed) > 1 { // the one report: Run's final latch
		b.Fatalf("stats %+v reports %+v", st, failed)
	}
}
