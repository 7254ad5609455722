package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/estop"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestAttestedEnvelopeCarriesGeofenceFrame: the envelope of an allow, in the
// body and inside the signed attestation, names the geofence frame of the
// token, not a default: an actuator clamping in "map" to a fence drawn in
// "odom" clamps to the wrong place.
func TestAttestedEnvelopeCarriesGeofenceFrame(t *testing.T) {
	for _, frame := range []string{"odom", "map", "cell1/base_link"} {
		t.Run(frame, func(t *testing.T) {
			f := newFixture(t)
			c := tokentest.Root("root", "geo", 7000, f.now.UnixMilli())
			c.Tier = 2
			c.Constraints.Geofence = &tokens.Geofence{Frame: frame, Polygon: [][2]float64{{0, 0}, {10, 0}, {10, 10}, {0, 10}}}
			tok := tokentest.Sign("root", c)
			f.agent = "geo"
			res := f.p.Intercept(context.Background(), f.input(func(m map[string]any) {
				delete(m, "tokenId")
				m["token"] = tok.Raw
				m["params"] = map[string]any{"linear": map[string]any{"x": 0.2, "y": 0, "z": 0}, "position": map[string]any{"x": 1, "y": 1}}
			}))
			if res.Status != 200 || res.Body.Attestation == nil {
				t.Fatalf("got %d %s (%s), want an allow", res.Status, res.Outcome.Code, res.Outcome.Reason)
			}
			var body struct {
				Geofence struct{ Frame string } `json:"geofence"`
			}
			if err := json.Unmarshal(res.Body.Envelope, &body); err != nil || body.Geofence.Frame != frame {
				t.Fatalf("body envelope %s: frame %q, want %q (%v)", res.Body.Envelope, body.Geofence.Frame, frame, err)
			}
			parts := strings.Split(*res.Body.Attestation, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			var claims struct {
				Envelope struct {
					Geofence struct{ Frame string } `json:"geofence"`
				} `json:"envelope"`
			}
			if err := json.Unmarshal(payload, &claims); err != nil || claims.Envelope.Geofence.Frame != frame {
				t.Fatalf("attested envelope %s: frame %q, want %q (%v)", payload, claims.Envelope.Geofence.Frame, frame, err)
			}
		})
	}
}

// TestEveryDecisionCarriesPolicyHashAndRequestID: stages 1–3 deny without a
// ledger entry, but the decision body still names the policy it was made
// under (PROTOCOL.md §5.3: policyHash is recorded in every decision), and a
// body that parsed as JSON but failed the schema still names its requestId
// (§5.2: requestId is null only when the body could not be parsed).
func TestEveryDecisionCarriesPolicyHashAndRequestID(t *testing.T) {
	const rid = "01900000-0000-7000-8000-00000000abcd"
	cases := []struct {
		name   string
		setup  func(f *fixture)
		body   func(f *fixture) Input
		code   codes.Code
		status int
		reqID  string // "" wants null
	}{
		{name: "stage-2/unknown-field", code: codes.MalformedRequest, status: 400, reqID: rid,
			body: func(f *fixture) Input {
				return f.input(func(m map[string]any) { m["requestId"], m["extra"] = rid, true })
			}},
		{name: "stage-2/bad-resource", code: codes.MalformedRequest, status: 400, reqID: rid,
			body: func(f *fixture) Input {
				return f.input(func(m map[string]any) { m["requestId"], m["resource"] = rid, "ros:///a/../b" })
			}},
		{name: "stage-2/requestId-not-uuidv7", code: codes.MalformedRequest, status: 400, reqID: "not-a-uuid",
			body: func(f *fixture) Input {
				return f.input(func(m map[string]any) { m["requestId"] = "not-a-uuid" })
			}},
		{name: "stage-2/requestId-not-a-string", code: codes.MalformedRequest, status: 400,
			body: func(f *fixture) Input {
				return f.input(func(m map[string]any) { m["requestId"] = 42 })
			}},
		{name: "stage-2/not-json", code: codes.MalformedRequest, status: 400,
			body: func(f *fixture) Input { in := f.input(nil); in.Body = []byte(`{"requestId":"` + rid + `",`); return in }},
		{name: "stage-3/bad-signature", code: codes.Unauthenticated, status: 401, reqID: rid,
			body: func(f *fixture) Input {
				in := f.input(func(m map[string]any) { m["requestId"] = rid })
				in.Headers.Sig = base64.RawURLEncoding.EncodeToString(make([]byte, 64))
				return in
			}},
		{name: "stage-3/stale", code: codes.StaleRequest, status: 401, reqID: rid,
			body: func(f *fixture) Input {
				in := f.input(func(m map[string]any) { m["requestId"], m["timestamp"] = rid, f.now.UnixMilli()-100_000 })
				return in
			}},
		{name: "stage-1/estop-engaged", code: codes.EstopEngaged, status: 403, reqID: rid,
			setup: func(f *fixture) { tripFixture(t, f) },
			body: func(f *fixture) Input {
				return f.input(func(m map[string]any) { m["requestId"] = rid })
			}},
		{name: "stage-1/estop-engaged-unparsable", code: codes.EstopEngaged, status: 403,
			setup: func(f *fixture) { tripFixture(t, f) },
			body:  func(f *fixture) Input { in := f.input(nil); in.Body = []byte(`[`); return in }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			res := f.p.Intercept(context.Background(), tc.body(f))
			if res.Status != tc.status || res.Outcome.Code != tc.code {
				t.Fatalf("got %d %s (%s), want %d %s", res.Status, res.Outcome.Code, res.Outcome.Reason, tc.status, tc.code)
			}
			if want := f.p.State().Policy.Hash(); res.Body.PolicyHash == nil || *res.Body.PolicyHash != want {
				t.Fatalf("policyHash %v, want %s", res.Body.PolicyHash, want)
			}
			switch {
			case tc.reqID == "" && res.Body.RequestID != nil:
				t.Fatalf("requestId %q, want null", *res.Body.RequestID)
			case tc.reqID != "" && (res.Body.RequestID == nil || *res.Body.RequestID != tc.reqID):
				t.Fatalf("requestId %v, want %q", res.Body.RequestID, tc.reqID)
			}
		})
	}
}

func tripFixture(t *testing.T, f *fixture) {
	t.Helper()
	if _, err := f.b.Trip(context.Background(), estop.Source{ID: "t", Kind: estop.KindAPI}, "test"); err != nil {
		t.Fatal(err)
	}
}
