package topicbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
)

func TestTopicName(t *testing.T) {
	for in, want := range map[string]string{"cmd_vel": "/cmd_vel", "/a/b_2": "/a/b_2", "": "", "/a//b": "", "/1a": "", "/a b": "", "/a/": "", "/" + strings.Repeat("a", MaxTopicLen): ""} {
		got, err := TopicName(in)
		if (err != nil) != (want == "") || got != want && want != "" {
			t.Errorf("TopicName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestParseReport(t *testing.T) {
	if _, err := ParseReport([]byte(`{"outcome":"deny","code":"PHYSICS_CONSTRAINT","at":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"outcome":`, `{"outcome":"x","pad":"` + strings.Repeat("a", MaxReportBytes) + `"}`} {
		if _, err := ParseReport([]byte(bad)); err == nil {
			t.Errorf("ParseReport(%.40q) accepted", bad)
		}
	}
}

type allowNoAttestation struct{}

func (allowNoAttestation) AgentID() string { return "agent" }
func (allowNoAttestation) Intercept(context.Context, api.InterceptRequest) (*api.Decision, int, error) {
	return &api.Decision{Decision: "allow"}, 200, nil
}
func (allowNoAttestation) AwaitApproval(context.Context, string) (*api.Decision, int, error) {
	return nil, 0, context.Canceled
}

type noVerifier struct{}

func (noVerifier) Verify(context.Context, string, time.Time, attest.Expect) (*attest.Claims, error) {
	return nil, &attest.VerifyError{Reason: attest.ReasonSignature}
}

type jsonCodec struct{}

func (jsonCodec) Params(m Message) ([]byte, error) { return []byte(m.(string)), nil }
func (jsonCodec) Clamp(m Message, _ []byte) (Message, bool, error) {
	return m, false, nil
}

type out struct {
	mu  sync.Mutex
	got []Message
}

func (o *out) Publish(_ context.Context, m Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, m)
	return nil
}

// TestCoreRefusesAllowWithoutAttestation: the core never publishes an
// allow that carries no attestation, and New refuses incomplete configs.
func TestCoreRefusesAllowWithoutAttestation(t *testing.T) {
	if _, err := New(Config{Gateway: allowNoAttestation{}, Verifier: noVerifier{}, TokenID: "t"}, []Route{{Agent: "/a", Codec: jsonCodec{}, Out: &out{}, Stop: motionOff()}}); err == nil {
		t.Fatal("New without Report accepted")
	}
	var mu sync.Mutex
	var reports []Report
	o := &out{}
	c, err := New(Config{Gateway: allowNoAttestation{}, Verifier: noVerifier{}, TokenID: "t", KeepAll: true,
		Report: func(r Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }},
		[]Route{{Agent: "/a", Resource: "ros2:///a", Codec: jsonCodec{}, Out: o, Stop: motionOff()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	handlers := make(chan []func(Message), 1)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx, func(_ context.Context, h []func(Message)) (func(), error) { handlers <- h; return func() {}, nil }, nil)
	}()
	h := <-handlers
	h[0](`{"x":1}`)
	cancel()
	<-done
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.got) != 0 {
		t.Fatalf("published %v", o.got)
	}
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, r := range reports {
		if r.Outcome == OutcomeDropped && r.Code == "INVALID_SIGNATURE" && strings.Contains(r.Reason, "without attestation") {
			found = true
		}
	}
	if !found || c.Stats().Dropped != 1 {
		t.Fatalf("reports %+v stats %+v", reports, c.Stats())
	}
}

func motionOff() (p stopsem.Policy) {
	f := false
	p.Motion = &f
	return p
}

// failOut refuses every publish with err.
type failOut struct{ err error }

func (o failOut) Publish(context.Context, Message) error { return o.err }

// TestPublishRefusalKeepsItsCode: an output that refuses a publish with a
// stable code (the ROS 2 bridge's ROS2_TYPE_HASH_MISMATCH) is reported with
// that code, not as INTERNAL_ERROR with the code buried in the reason; an
// uncoded failure stays INTERNAL_ERROR.
func TestPublishRefusalKeepsItsCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"coded", codes.New("ROS2_TYPE_HASH_MISMATCH", "a matched reader announces another type hash"), "ROS2_TYPE_HASH_MISMATCH"},
		{"wrapped", fmt.Errorf("writer: %w", codes.New("ROS2_TYPE_HASH_MISMATCH", "x")), "ROS2_TYPE_HASH_MISMATCH"},
		{"uncoded", errors.New("no reader matched"), string(codes.InternalError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &httpDecider{}
			var mu sync.Mutex
			var reports []Report
			c, err := New(Config{Gateway: dec, Verifier: lastIDVerifier{dec}, TokenID: "t", KeepAll: true,
				Report: func(r Report) { mu.Lock(); reports = append(reports, r); mu.Unlock() }},
				[]Route{{Agent: "/a", Resource: "ros2:///a", Codec: jsonCodec{}, Out: failOut{tc.err}, Stop: motionOff()}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			handlers := make(chan []func(Message), 1)
			done := make(chan error, 1)
			go func() {
				done <- c.Run(ctx, func(_ context.Context, h []func(Message)) (func(), error) { handlers <- h; return func() {}, nil }, nil)
			}()
			(<-handlers)[0](`{"x":1}`)
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			for _, r := range reports {
				if r.Outcome == OutcomeDropped {
					if r.Code != tc.want {
						t.Fatalf("dropped with code %q (%s), want %q", r.Code, r.Reason, tc.want)
					}
					return
				}
			}
			t.Fatalf("no drop report: %+v", reports)
		})
	}
}
