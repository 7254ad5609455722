package topicbridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/gateway/attest"
)

// outside is what httpDecider spends after its HTTP exchange.
const outside = 10 * time.Millisecond

// httpDecider answers every intercept after an HTTP call to url (whose
// handler takes its time): allow with an attestation for the request, or
// deny when the params are {"deny":true}.
type httpDecider struct {
	url string
	mu  sync.Mutex
	ids []string
}

func (*httpDecider) AgentID() string { return "agent" }
func (d *httpDecider) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	if d.url != "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		resp.Body.Close()
		time.Sleep(outside) // the answer's decoding, say: not the exchange
	}
	d.mu.Lock()
	d.ids = append(d.ids, r.RequestID)
	d.mu.Unlock()
	if string(r.Params) == `{"deny":true}` {
		code := "PHYSICS_CONSTRAINT"
		return &api.Decision{Decision: "deny", Code: &code}, 403, nil
	}
	att := "att"
	return &api.Decision{Decision: "allow", Attestation: &att}, 200, nil
}
func (*httpDecider) AwaitApproval(context.Context, string) (*api.Decision, int, error) {
	return nil, 0, context.Canceled
}

// lastIDVerifier accepts any attestation as one for the decider's latest
// request.
type lastIDVerifier struct{ d *httpDecider }

func (v lastIDVerifier) Verify(context.Context, string, time.Time, attest.Expect) (*attest.Claims, error) {
	v.d.mu.Lock()
	defer v.d.mu.Unlock()
	return &attest.Claims{JTI: v.d.ids[len(v.d.ids)-1]}, nil
}

// TestObserveTimings: Config.Observe sees every message forwarded on its
// own allow, once, after the publish, with the intercept's HTTP exchange
// (at least the gateway's 20 ms) inside the whole call and without what the
// Decider does after it; a denied message is
// not observed. A Decider that makes no HTTP call is measured as a whole.
func TestObserveTimings(t *testing.T) {
	const hold = 20 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(hold) }))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		url     string
		minHTTP time.Duration
	}{
		{"http", srv.URL, hold},
		{"no-http", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dec := &httpDecider{url: tc.url}
			var mu sync.Mutex
			var seen []Timing
			o := &out{}
			c, err := New(Config{Gateway: dec, Verifier: lastIDVerifier{dec}, TokenID: "t", KeepAll: true,
				Report:  func(Report) {},
				Observe: func(tm Timing) { mu.Lock(); seen = append(seen, tm); mu.Unlock() }},
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
			h[0](`{"x":1}`)       // KeepAll: handled in the subscriber's call
			h[0](`{"deny":true}`) // not observed
			h[0](`{"x":2}`)
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != 2 || len(o.got) != 2 {
				t.Fatalf("observed %d, published %d; want 2 and 2", len(seen), len(o.got))
			}
			for i, tm := range seen {
				want := dec.ids[[]int{0, 2}[i]]
				switch {
				case tm.Topic != "/a" || tm.RequestID != want:
					t.Errorf("timing %d is for %s %s, want /a %s", i, tm.Topic, tm.RequestID, want)
				case tm.Gateway < tc.minHTTP || tm.Gateway > tm.Call:
					t.Errorf("timing %d: HTTP exchange %v, call %v; want ≥ %v and ≤ the call", i, tm.Gateway, tm.Call, tc.minHTTP)
				case tc.url != "" && tm.Call-tm.Gateway < outside:
					t.Errorf("timing %d: HTTP exchange %v within a call of %v counts the %v spent after it", i, tm.Gateway, tm.Call, outside)
				case tm.BeforeHTTP < 0 || tm.BeforeHTTP+tm.Gateway > tm.Call || (tc.url == "") != (tm.BeforeHTTP == 0):
					t.Errorf("timing %d: before the exchange %v, exchange %v, call %v", i, tm.BeforeHTTP, tm.Gateway, tm.Call)
				case tc.url == "" && tm.Gateway != tm.Call:
					t.Errorf("timing %d: no HTTP made, yet HTTP %v ≠ call %v", i, tm.Gateway, tm.Call)
				case tm.Start.IsZero() || tm.Published.Sub(tm.Start) < tm.Call:
					t.Errorf("timing %d: start %v published %v shorter than the call %v", i, tm.Start, tm.Published, tm.Call)
				}
			}
		})
	}
}
