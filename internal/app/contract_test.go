package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/tokens"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestContractDeviations: what a black-box client written from
// PROTOCOL.md alone sees over the wire, one named case per deviation found
// by such a client.
func TestContractDeviations(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	_, use := h.allowToken("cd-agent")
	st, allow := h.intercept("cd-agent", h.interceptBody("cd-agent", use))
	if st != 200 || allow.PolicyHash == nil || len(*allow.PolicyHash) != 64 {
		t.Fatalf("reference allow: %d %+v", st, allow)
	}
	policyHash := *allow.PolicyHash
	reader := h.operatorKey("cd-rita", "read")
	const rid = "01900000-0000-7000-8000-0000000c0de1"

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		// §5.3: policyHash is recorded in every decision, stage 2–3 denies
		// (no ledger entry of their own) included.
		{"policyHash/stage-2-malformed-deny", func(t *testing.T) {
			st, d := h.intercept("cd-agent", h.interceptBody("cd-agent", func(m map[string]any) { use(m); m["unknownField"] = 1 }))
			if st != 400 || str(d.Code) != "MALFORMED_REQUEST" || str(d.PolicyHash) != policyHash {
				t.Fatalf("%d %s policyHash %s, want 400 MALFORMED_REQUEST %s", st, str(d.Code), str(d.PolicyHash), policyHash)
			}
		}},
		{"policyHash/stage-3-unauthenticated-deny", func(t *testing.T) {
			body, _ := json.Marshal(h.interceptBody("cd-agent", use))
			var d api.Decision
			hdr := signed("someone-else", body, h.clock.Now().UnixMilli())
			hdr[api.HeaderAgentID] = tokentest.Pub("cd-agent")
			st := h.do("POST", "/v1/intercept", hdr, body, &d)
			if st != 401 || str(d.Code) != "UNAUTHENTICATED" || str(d.PolicyHash) != policyHash {
				t.Fatalf("%d %s policyHash %s, want 401 UNAUTHENTICATED %s", st, str(d.Code), str(d.PolicyHash), policyHash)
			}
		}},
		// §5.2: requestId is null only when the body could not be parsed.
		{"requestId/parsed-body-failing-the-schema", func(t *testing.T) {
			st, d := h.intercept("cd-agent", h.interceptBody("cd-agent", func(m map[string]any) {
				use(m)
				m["requestId"], m["resource"] = rid, "ros:///a/../cmd_vel"
			}))
			if st != 400 || str(d.Code) != "MALFORMED_REQUEST" || str(d.RequestID) != rid {
				t.Fatalf("%d %s requestId %s, want 400 MALFORMED_REQUEST %s", st, str(d.Code), str(d.RequestID), rid)
			}
		}},
		{"requestId/unparsable-body-is-null", func(t *testing.T) {
			var d api.Decision
			body := []byte(`{"requestId":"` + rid + `",`)
			st := h.do("POST", "/v1/intercept", signed("cd-agent", body, h.clock.Now().UnixMilli()), body, &d)
			if st != 400 || d.RequestID != nil || str(d.PolicyHash) != policyHash {
				t.Fatalf("%d requestId %s policyHash %s, want 400 null %s", st, str(d.RequestID), str(d.PolicyHash), policyHash)
			}
		}},
		// §3.1 step 4: a chain deeper than 3 is DELEGATION_DEPTH_EXCEEDED,
		// inline as registered, never a schema error.
		{"delegation/depth-4-inline-chain", func(t *testing.T) {
			chain := []*tokens.Token{h.rootToken("cd-d1", func(c *tokens.Claims) { c.Tier = 5 })}
			for i, sub := range []string{"cd-d2", "cd-d3", "cd-d4", "cd-d5"} {
				prev := chain[len(chain)-1]
				chain = append(chain, tokentest.Sign([]string{"cd-d1", "cd-d2", "cd-d3", "cd-d4"}[i], tokentest.Child(prev, sub, h.n())))
			}
			leaf := chain[4]
			if leaf.Depth() != 4 {
				t.Fatalf("leaf depth %d", leaf.Depth())
			}
			var raws []string
			for _, c := range chain[:4] {
				raws = append(raws, c.Raw)
			}
			st, d := h.intercept("cd-d5", h.interceptBody("cd-d5", func(m map[string]any) {
				m["token"], m["chain"] = leaf.Raw, raws
			}))
			if st != 403 || str(d.Code) != "DELEGATION_DEPTH_EXCEEDED" {
				t.Fatalf("%d %s (%s), want 403 DELEGATION_DEPTH_EXCEEDED", st, str(d.Code), str(d.Reason))
			}
			// The same chain one link shorter is allowed: the depth is what
			// was refused.
			st, d = h.intercept("cd-d4", h.interceptBody("cd-d4", func(m map[string]any) {
				m["token"], m["chain"] = chain[3].Raw, raws[:3]
			}))
			if st != 200 {
				t.Fatalf("depth 3: %d %s (%s)", st, str(d.Code), str(d.Reason))
			}
		}},
		// §4: clients that can set headers send Authorization and need not
		// offer a subprotocol; only the bearer.<key> form needs sint.v1.
		{"websocket/authorization-without-subprotocol", func(t *testing.T) {
			for _, path := range []string{"/v1/approvals/ws", "/v1/risk/stream"} {
				d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
				c, resp, err := d.Dial("ws"+strings.TrimPrefix(h.url, "http")+path, http.Header{"Authorization": {"Bearer " + reader}})
				if err != nil {
					t.Fatalf("%s: %v (%v)", path, err, resp)
				}
				if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
					t.Fatalf("%s: selected subprotocol %q that was not offered", path, p)
				}
				c.Close()
			}
		}},
		{"websocket/bearer-subprotocol-still-needs-sint.v1", func(t *testing.T) {
			for _, path := range []string{"/v1/approvals/ws", "/v1/risk/stream"} {
				d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, Subprotocols: []string{"bearer." + reader}}
				_, resp, err := d.Dial("ws"+strings.TrimPrefix(h.url, "http")+path, nil)
				if err == nil || resp == nil || resp.StatusCode != 400 {
					t.Fatalf("%s: %v %v, want 400", path, err, resp)
				}
			}
		}},
		{"websocket/no-key-401", func(t *testing.T) {
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
			_, resp, err := d.Dial("ws"+strings.TrimPrefix(h.url, "http")+"/v1/approvals/ws", nil)
			if err == nil || resp == nil || resp.StatusCode != 401 {
				t.Fatalf("%v %v, want 401", err, resp)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			tc.run(t)
		})
	}
}
