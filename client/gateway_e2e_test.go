// End-to-end tests of the SDK against the real gateway (internal/app) built
// in-process on an embedded store.
package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/client"
	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/internal/app"
	"github.com/sintgate/sintgate/tokens/tokentest"
)

func startGateway(t *testing.T) (url, adminKey string) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	res, _, err := app.InitDataDir(ctx, dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Build(ctx, app.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Server.Serve(ln) }()
	t.Cleanup(func() {
		_ = g.Server.App.ShutdownWithTimeout(5 * time.Second)
		_ = g.Close()
	})
	return "http://" + ln.Addr().String(), res.AdminAPIKey
}

func TestAgainstRealGateway(t *testing.T) {
	url, adminKey := startGateway(t)
	ctx := context.Background()
	hc := &http.Client{Timeout: 40 * time.Second}
	op := &client.Operator{BaseURL: url, HTTP: hc, APIKey: adminKey}
	agent := &client.Agent{BaseURL: url, HTTP: hc, Key: tokentest.Key("e2e-agent")}

	// An operator trusts a root and registers a token for the agent.
	if err := op.Do(ctx, "POST", "/v1/roots", map[string]string{"publicKey": tokentest.Pub("e2e-root")}, nil); err != nil {
		t.Fatalf("add root: %v", err)
	}
	claims := tokentest.Root("e2e-root", "e2e-agent", 1, time.Now().UnixMilli())
	claims.Actions = []string{"publish", "subscribe", "call"}
	tok := tokentest.Sign("e2e-root", claims)
	var reg struct {
		TokenID string `json:"tokenId"`
		Token   string `json:"token"`
	}
	if err := op.Do(ctx, "POST", "/v1/tokens", map[string]string{"token": tok.Raw}, &reg); err != nil {
		t.Fatalf("register token: %v", err)
	}
	if reg.Token != tok.Raw {
		t.Fatal("token not kept byte for byte")
	}

	t.Run("operator/typed-error", func(t *testing.T) {
		bad := &client.Operator{BaseURL: url, HTTP: hc, APIKey: "sk_nope_nope"}
		err := bad.Do(ctx, "GET", "/v1/roots", nil, nil)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 401 || ae.Code == "" {
			t.Fatalf("err = %#v", err)
		}
	})

	params := json.RawMessage(`{"target":{"x":1,"y":2},"note":"a<b"}`)
	t.Run("intercept/allow-with-verifiable-attestation", func(t *testing.T) {
		d, status, err := agent.Intercept(ctx, api.InterceptRequest{TokenID: reg.TokenID, Resource: "ros:///compute_ik", Action: "call", Params: params})
		if err != nil || status != 200 || d.Decision != api.Allow || d.Attestation == nil {
			t.Fatalf("decision %+v status %d err %v (code %v reason %v)", d, status, err, deref(d, true), deref(d, false))
		}
		cache := attest.NewJWKSCache(hc, url+"/.well-known/jwks.json")
		ph, err := attest.ParamsHash(params)
		if err != nil {
			t.Fatal(err)
		}
		c, err := cache.Verify(ctx, *d.Attestation, time.Now(), attest.Expect{AgentID: agent.AgentID(), Resource: "ros:///compute_ik", Action: "call", ParamsHash: ph})
		if err != nil {
			t.Fatalf("attestation from the real gateway: %v", err)
		}
		if c.JTI != *d.RequestID || c.LedgerSeq != d.Ledger.Sequence {
			t.Errorf("claims %+v vs decision %+v", c, d)
		}
	})
	t.Run("intercept/batch", func(t *testing.T) {
		rs, status, err := agent.InterceptBatch(ctx, []api.InterceptRequest{
			{TokenID: reg.TokenID, Resource: "ros:///compute_ik", Action: "call"},
			{TokenID: reg.TokenID, Resource: "ros:///compute_ik", Action: "move"},
		})
		if err != nil || status != 200 || len(rs) != 2 {
			t.Fatalf("%+v %d %v", rs, status, err)
		}
		if rs[0].Status != 200 || rs[0].Decision.Decision != api.Allow {
			t.Errorf("item 0: %d %s %v", rs[0].Status, rs[0].Decision.Decision, deref(&rs[0].Decision, true))
		}
		if rs[1].Decision.Decision != api.Deny || *rs[1].Decision.Code != string(codes.InsufficientPermissions) {
			t.Errorf("item 1: %d %s %v", rs[1].Status, rs[1].Decision.Decision, deref(&rs[1].Decision, true))
		}
	})
	t.Run("intercept/deny-stale-clock", func(t *testing.T) {
		skewed := *agent
		skewed.Now = func() time.Time { return time.Now().Add(-time.Minute) }
		d, status, err := skewed.Intercept(ctx, api.InterceptRequest{TokenID: reg.TokenID, Resource: "ros:///compute_ik", Action: "call"})
		if err != nil || status != 401 || d.Code == nil || *d.Code != string(codes.StaleRequest) {
			t.Fatalf("%+v %d %v", d, status, err)
		}
	})
	t.Run("tokens/delegate", func(t *testing.T) {
		child := tokentest.Sign("e2e-agent", tokentest.Child(tok, "e2e-agent2", 2))
		res, err := agent.Delegate(ctx, child.Raw)
		if err != nil || res.Token != child.Raw || res.TokenID != child.Claims.TokenID {
			t.Fatalf("%+v %v", res, err)
		}
		wide := tokentest.Child(tok, "e2e-agent2", 3)
		wide.Tier = 4
		_, err = agent.Delegate(ctx, tokentest.Sign("e2e-agent", wide).Raw)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Code != string(codes.ConstraintViolation) {
			t.Fatalf("widening child: %#v", err)
		}
	})
	t.Run("approvals/escalate-approve-wait", func(t *testing.T) {
		d, status, err := agent.Intercept(ctx, api.InterceptRequest{TokenID: reg.TokenID, Resource: "ros:///cmd_vel", Action: "publish", Params: json.RawMessage(`{"linear":{"x":0.1,"y":0,"z":0}}`)})
		if err != nil || status != 202 || d.ApprovalID == nil {
			t.Fatalf("%+v %d %v (code %s)", d, status, err, deref(d, true))
		}
		orig := *d.RequestID
		// A missing vote route (404) is a failure like any other: the
		// route is part of the protocol (§7), never a reason to skip.
		if err := op.Do(ctx, "POST", "/v1/approvals/"+*d.ApprovalID+"/approve", map[string]string{"reason": "e2e"}, nil); err != nil {
			t.Fatalf("approve: %v", err)
		}
		wctx, cancel := context.WithTimeout(ctx, 35*time.Second)
		defer cancel()
		w, status, err := agent.AwaitApproval(wctx, *d.ApprovalID)
		if err != nil || status != 200 || w.Decision != api.Allow || w.Attestation == nil || *w.RequestID != orig {
			t.Fatalf("wait: %+v %d %v (code %s)", w, status, err, deref(w, true))
		}
	})
	t.Run("estop/agent-trip-then-deny", func(t *testing.T) {
		st, err := agent.Trip(ctx, "e2e: obstacle")
		if err != nil {
			t.Fatalf("trip: %v", err)
		}
		if st != nil && st.State != "tripped" {
			t.Fatalf("state %+v", st)
		}
		d, status, err := agent.Intercept(ctx, api.InterceptRequest{TokenID: reg.TokenID, Resource: "ros:///compute_ik", Action: "call"})
		if err != nil || d.Decision != api.Deny || *d.Code != string(codes.EstopEngaged) {
			t.Fatalf("after trip: %+v %d %v", d, status, err)
		}
	})
}

func deref(d *api.Decision, code bool) string {
	if d == nil {
		return "<nil>"
	}
	p := d.Reason
	if code {
		p = d.Code
	}
	if p == nil {
		return "null"
	}
	return *p
}
