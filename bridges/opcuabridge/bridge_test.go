package opcuabridge_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
	"github.com/sintgate/sintgate/bridges"
	"github.com/sintgate/sintgate/bridges/opcuabridge"
	"github.com/sintgate/sintgate/bridges/stopsem"
	"github.com/sintgate/sintgate/tokens"
)

// tamper sends the gateway other params than the bridge will write: the
// attestation it gets back is for those params, not the bridge's.
type tamper struct{ bridges.Decider }

func (t tamper) Intercept(ctx context.Context, r api.InterceptRequest) (*api.Decision, int, error) {
	r.Params = json.RawMessage(`{"type":"Double","value":0.05}`)
	return t.Decider.Intercept(ctx, r)
}

// TestBridgeAgainstNodeOPCUA runs the bridge against a node-opcua server
// playing the PLC (one server for every subtest: it takes long to start).
func TestBridgeAgainstNodeOPCUA(t *testing.T) {
	p := startPLC(t)
	if p == nil {
		return
	}
	direct := p.direct(t)

	t.Run("allow/written-and-read-back", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		// The safe state written at start is not re-written once the
		// bridge is unlatched.
		p.none(1500 * time.Millisecond)
		o := r.write("ns1/Cell/Speed", "Double", "0.4")
		if o.Outcome != "written" || o.StatusCode != "0x00000000" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Speed", 0.4)
		if v := readValue(t, direct, "ns=1;s=Speed"); v != 0.4 {
			t.Fatalf("Speed = %v, want 0.4", v)
		}
		o = r.write("ns1/Cell/Mode", "String", `"running"`)
		if o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Mode", "running")
		// Nothing else is written: no kept safe stop is re-sent over the
		// allowed values (the re-send period is 1 s).
		p.none(1500 * time.Millisecond)
		if v := readValue(t, direct, "ns=1;s=Speed"); v != 0.4 {
			t.Fatalf("Speed = %v after 1.5 s, want 0.4", v)
		}
		if v := readValue(t, direct, "ns=1;s=Mode"); v != "running" {
			t.Fatalf("Mode = %v", v)
		}
		// read is gated at tier 1 and answers the value.
		o = r.bridge.Do(context.Background(), opcuabridge.ActionRead, "ns1/Cell/Speed", nil, nil)
		if o.Outcome != "read" || string(o.Value) != "0.4" {
			t.Fatalf("read %+v", o)
		}
	})

	t.Run("front/http", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		srv := httptest.NewServer(r.bridge.Handler("front-key"))
		defer srv.Close()
		post := func(key, body string) (int, opcuabridge.Outcome) {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+"/v1/opcua", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var o opcuabridge.Outcome
			_ = json.NewDecoder(res.Body).Decode(&o)
			return res.StatusCode, o
		}
		if st, _ := post("wrong", `{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":0.25}`); st != 401 {
			t.Fatalf("wrong key: %d", st)
		}
		if st, o := post("front-key", `{"action":"write","node":"ns1/Cell/Speed","type":"Boolean","value":true}`); st != 400 || !strings.Contains(o.Reason, "takes Double") {
			t.Fatalf("wrong type: %d %+v", st, o)
		}
		if st, o := post("front-key", `{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":1.5}`); st != 403 || o.Code != "PHYSICS_CONSTRAINT" {
			t.Fatalf("over the limit: %d %+v", st, o)
		}
		p.none(300 * time.Millisecond)
		if st, o := post("front-key", `{"action":"write","node":"ns1/Cell/Speed","type":"Double","value":0.25}`); st != 200 || o.StatusCode != "0x00000000" {
			t.Fatalf("write: %d %+v", st, o)
		}
		p.expect("write", "Speed", 0.25)
	})

	t.Run("deny/physics-over-mapped-limit", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		o := r.write("ns1/Cell/Speed", "Double", "1.5")
		if o.Outcome != "deny" || o.Code != "PHYSICS_CONSTRAINT" {
			t.Fatalf("outcome %+v", o)
		}
		o = r.bridge.Do(context.Background(), opcuabridge.ActionCall, "ns1/Cell/Home", nil, []opcuabridge.Typed{{Type: "Double", Value: json.RawMessage("3")}})
		if o.Outcome != "deny" || o.Code != "PHYSICS_CONSTRAINT" {
			t.Fatalf("call outcome %+v", o)
		}
		p.none(500 * time.Millisecond)
	})

	t.Run("deny/insufficient-permissions", func(t *testing.T) {
		r := newRig(t, p, rigOpts{token: func(c *tokens.Claims) { c.Actions = []string{"read"} }})
		o := r.write("ns1/Cell/Speed", "Double", "0.2")
		if o.Outcome != "deny" || o.Code == "" {
			t.Fatalf("outcome %+v", o)
		}
		t.Logf("deny code %s: %s", o.Code, o.Reason)
		p.none(500 * time.Millisecond)
	})

	t.Run("wrong-type-refused", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		for _, c := range []struct{ typ, value, want string }{
			{"String", `"fast"`, "the node takes Double, the request says String"},
			{"Int32", `1`, "the node takes Double, the request says Int32"},
			{"Double", `"0.4"`, "want a number, got a string"},
			{"Banana", `1`, `OPC UA type "Banana"`},
		} {
			o := r.write("ns1/Cell/Speed", c.typ, c.value)
			if o.Outcome != "refused" || o.Code != "MALFORMED_REQUEST" || !strings.Contains(o.Reason, c.want) {
				t.Errorf("%s %s: %+v; want MALFORMED_REQUEST with %q", c.typ, c.value, o, c.want)
			}
		}
		p.none(300 * time.Millisecond)
	})

	t.Run("attestation-mismatch-refused", func(t *testing.T) {
		r := newRig(t, p, rigOpts{gateway: func(d bridges.Decider) bridges.Decider { return tamper{d} }})
		o := r.write("ns1/Cell/Speed", "Double", "0.4")
		if o.Outcome != "refused" || !strings.Contains(o.Reason, "attestation") {
			t.Fatalf("outcome %+v", o)
		}
		p.none(500 * time.Millisecond)
	})

	t.Run("trip/safe-stop-then-refused-until-reset", func(t *testing.T) {
		r := newRig(t, p, rigOpts{estop: true})
		if o := r.write("ns1/Cell/Speed", "Double", "0.6"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Speed", 0.6)
		if st := r.gw.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		p.expect("write", "Speed", 0)
		p.expect("write", "Mode", "stopped")
		r.latched()
		if o := r.write("ns1/Cell/Speed", "Double", "0.3"); o.Outcome != "refused" || o.Code != "ESTOP_ENGAGED" {
			t.Fatalf("write while tripped: %+v", o)
		}
		if v := readValue(t, direct, "ns=1;s=Speed"); v != 0.0 {
			t.Fatalf("Speed = %v after trip", v)
		}
		// A read moves nothing: the bridge asks the gateway, which denies
		// everything while tripped.
		if o := r.bridge.Do(context.Background(), opcuabridge.ActionRead, "ns1/Cell/Speed", nil, nil); o.Outcome != "deny" || o.Code != "ESTOP_ENGAGED" {
			t.Fatalf("read while tripped: %+v", o)
		}
		if st := r.gw.Admin("POST", "/v1/estop/reset", map[string]string{"reason": "clear"}, nil); st != 200 {
			t.Fatalf("reset: %d", st)
		}
		r.ready()
		p.drain()
		if o := r.write("ns1/Cell/Speed", "Double", "0.3"); o.Outcome != "written" {
			t.Fatalf("after reset: %+v", o)
		}
		p.expect("write", "Speed", 0.3)
		p.none(1500 * time.Millisecond) // the safe state is no longer re-written
	})

	t.Run("gateway-lost/safe-stop", func(t *testing.T) {
		r := newRig(t, p, rigOpts{estop: true})
		if o := r.write("ns1/Cell/Speed", "Double", "0.5"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Speed", 0.5)
		r.gw.Stop()
		p.expect("write", "Speed", 0)
		p.expect("write", "Mode", "stopped")
		if why := r.latched(); !strings.Contains(why, "unreachable") {
			t.Fatalf("latched for %q", why)
		}
		if o := r.write("ns1/Cell/Speed", "Double", "0.3"); o.Code != "ESTOP_ENGAGED" {
			t.Fatalf("write after gateway loss: %+v", o)
		}
	})

	t.Run("escalate/held-then-denied", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		res := make(chan opcuabridge.Outcome, 1)
		go func() {
			res <- r.bridge.Do(context.Background(), opcuabridge.ActionCall, "ns1/Cell/Home", nil, []opcuabridge.Typed{{Type: "Double", Value: json.RawMessage("0.2")}})
		}()
		id := pendingApproval(t, r)
		if st := r.gw.Admin("POST", "/v1/approvals/"+id+"/deny", map[string]string{"reason": "no"}, nil); st != 200 {
			t.Fatalf("deny: %d", st)
		}
		if o := <-res; o.Outcome != "deny" || o.ApprovalID != id {
			t.Fatalf("outcome %+v", o)
		}
		p.none(500 * time.Millisecond)
	})

	t.Run("escalate/held-then-approved", func(t *testing.T) {
		r := newRig(t, p, rigOpts{})
		res := make(chan opcuabridge.Outcome, 1)
		go func() {
			res <- r.bridge.Do(context.Background(), opcuabridge.ActionCall, "ns1/Cell/Home", nil, []opcuabridge.Typed{{Type: "Double", Value: json.RawMessage("0.2")}})
		}()
		var pending []struct {
			ApprovalID string `json:"approvalId"`
		}
		deadline := time.Now().Add(wait)
		for len(pending) == 0 && time.Now().Before(deadline) {
			var out struct {
				Approvals []struct {
					ApprovalID string `json:"approvalId"`
				} `json:"approvals"`
			}
			r.gw.Admin("GET", "/v1/approvals?status=pending", nil, &out)
			pending = out.Approvals
			time.Sleep(50 * time.Millisecond)
		}
		if len(pending) != 1 {
			t.Fatalf("pending approvals: %v", pending)
		}
		p.none(300 * time.Millisecond)
		if st := r.gw.Admin("POST", "/v1/approvals/"+pending[0].ApprovalID+"/approve", map[string]string{"reason": "ok"}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		o := <-res
		if o.Outcome != "called" || string(o.Outputs) != `["homing"]` {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("call", "Home", nil)
	})

	t.Run("escalate/held-beyond-limit-refused", func(t *testing.T) {
		r := newRig(t, p, rigOpts{edit: func(c *opcuabridge.Config) { c.MaxHeld = 1 }})
		call := func() opcuabridge.Outcome {
			return r.bridge.Do(context.Background(), opcuabridge.ActionCall, "ns1/Cell/Home", nil, []opcuabridge.Typed{{Type: "Double", Value: json.RawMessage("0.2")}})
		}
		first := make(chan opcuabridge.Outcome, 1)
		go func() { first <- call() }()
		id := pendingApproval(t, r)
		// A second escalation while one is held is refused at once.
		second := make(chan opcuabridge.Outcome, 1)
		go func() { second <- call() }()
		var secondID string
		select {
		case o := <-second:
			secondID = o.ApprovalID
			if o.Outcome != "refused" || o.Code != "RATE_LIMIT_EXCEEDED" || o.ApprovalID == "" || o.ApprovalID == id {
				t.Fatalf("second held escalation: %+v", o)
			}
		case <-time.After(wait):
			t.Fatal("second escalation is held beside the first (limit 1)")
		}
		p.none(300 * time.Millisecond)
		if st := r.gw.Admin("POST", "/v1/approvals/"+id+"/approve", map[string]string{"reason": "ok"}, nil); st != 200 {
			t.Fatalf("approve: %d", st)
		}
		if o := <-first; o.Outcome != "called" {
			t.Fatalf("first: %+v", o)
		}
		p.expect("call", "Home", nil)
		// The slot is free again: the next escalation is held.
		third := make(chan opcuabridge.Outcome, 1)
		go func() { third <- call() }()
		deadline := time.Now().Add(wait)
		thirdID := ""
		for thirdID == "" && time.Now().Before(deadline) {
			var out struct {
				Approvals []struct {
					ApprovalID string `json:"approvalId"`
				} `json:"approvals"`
			}
			r.gw.Admin("GET", "/v1/approvals?status=pending", nil, &out)
			// The refused second approval is still pending: nobody waits
			// for it.
			for _, a := range out.Approvals {
				if a.ApprovalID != id && a.ApprovalID != secondID {
					thirdID = a.ApprovalID
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		if thirdID == "" {
			t.Fatal("third escalation never pending")
		}
		select {
		case o := <-third:
			t.Fatalf("third escalation not held: %+v", o)
		case <-time.After(300 * time.Millisecond):
		}
		if st := r.gw.Admin("POST", "/v1/approvals/"+thirdID+"/deny", map[string]string{"reason": "end"}, nil); st != 200 {
			t.Fatalf("deny: %d", st)
		}
		if o := <-third; o.Outcome != "deny" {
			t.Fatalf("third: %+v", o)
		}
		p.none(300 * time.Millisecond)
	})

	t.Run("secure-channel/sign-and-encrypt-with-certificates", func(t *testing.T) {
		cert, key := clientCert(t)
		r := newRig(t, p, rigOpts{security: opcuabridge.Security{Mode: "SignAndEncrypt", Policy: "Basic256Sha256", CertFile: cert, KeyFile: key}})
		if o := r.write("ns1/Cell/Speed", "Double", "0.35"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Speed", 0.35)
	})

	t.Run("subscribe/gated-streams-until-trip", func(t *testing.T) {
		r := newRig(t, p, rigOpts{estop: true})
		if o := r.write("ns1/Cell/Speed", "Double", "0.4"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		values := make(chan string, 16)
		res := make(chan opcuabridge.Outcome, 1)
		go func() {
			res <- r.bridge.Subscribe(context.Background(), "ns1/Cell/Speed", func(v json.RawMessage) error {
				values <- string(v)
				return nil
			})
		}()
		next := func(want string) {
			t.Helper()
			deadline := time.After(wait)
			for {
				select {
				case v := <-values:
					if v == want {
						return
					}
				case o := <-res:
					t.Fatalf("subscription ended: %+v", o)
				case <-deadline:
					t.Fatalf("no data change %s", want)
				}
			}
		}
		next("0.4") // the current value first
		if o := r.write("ns1/Cell/Speed", "Double", "0.55"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		next("0.55")

		// The front streams JSON lines.
		srv := httptest.NewServer(r.bridge.Handler("front-key"))
		defer srv.Close()
		req, _ := http.NewRequest("POST", srv.URL+"/v1/opcua", strings.NewReader(`{"action":"subscribe","node":"ns1/Cell/Speed"}`))
		req.Header.Set("Authorization", "Bearer front-key")
		hres, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(hres.Body).ReadString('\n')
		if err != nil || hres.StatusCode != 200 || line != `{"value":0.55}`+"\n" {
			t.Fatalf("front: %d %q %v", hres.StatusCode, line, err)
		}
		hres.Body.Close()

		// A trip ends the subscription: the gateway decides nothing while
		// tripped, so nothing is streamed either.
		if st := r.gw.Admin("POST", "/v1/estop/trip", map[string]string{"reason": "test"}, nil); st != 200 {
			t.Fatalf("trip: %d", st)
		}
		select {
		case o := <-res:
			if o.Outcome != "subscription-ended" || o.Code != "ESTOP_ENGAGED" {
				t.Fatalf("end: %+v", o)
			}
		case <-time.After(wait):
			t.Fatal("subscription outlived the trip")
		}
		// While tripped a new subscription is denied by the gateway.
		if o := r.bridge.Subscribe(context.Background(), "ns1/Cell/Speed", func(json.RawMessage) error { return nil }); o.Outcome != "deny" || o.Code != "ESTOP_ENGAGED" {
			t.Fatalf("subscribe while tripped: %+v", o)
		}
	})

	t.Run("subscribe/ends-when-attestation-expires", func(t *testing.T) {
		// The bridge's clock runs 26 s ahead: the attestation (valid 30 s)
		// still verifies, and expires about 4 s later.
		r := newRig(t, p, rigOpts{edit: func(c *opcuabridge.Config) { c.Now = func() time.Time { return time.Now().Add(26 * time.Second) } }})
		values := make(chan string, 16)
		res := make(chan opcuabridge.Outcome, 1)
		go func() {
			res <- r.bridge.Subscribe(context.Background(), "ns1/Cell/Speed", func(v json.RawMessage) error {
				values <- string(v)
				return nil
			})
		}()
		select {
		case <-values:
		case o := <-res:
			t.Fatalf("subscription ended at once: %+v", o)
		case <-time.After(wait):
			t.Fatal("no value")
		}
		select {
		case o := <-res:
			if o.Outcome != "subscription-ended" || !strings.Contains(o.Reason, "attestation expired") {
				t.Fatalf("end: %+v", o)
			}
		case <-time.After(3 * wait):
			t.Fatal("subscription outlived its attestation")
		}
	})

	t.Run("deny-codes", func(t *testing.T) { testDenyCodes(t, p) })

	// Last: it restarts the PLC.
	t.Run("controller-restart/latch-then-reset", func(t *testing.T) {
		r := newRig(t, p, rigOpts{estop: true})
		sock := filepath.Join(t.TempDir(), "reset.sock")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := stopsem.ServeReset(ctx, sock, r.bridge.Reset); err != nil {
			t.Fatal(err)
		}
		if o := r.write("ns1/Cell/Speed", "Double", "0.7"); o.Outcome != "written" {
			t.Fatalf("outcome %+v", o)
		}
		p.expect("write", "Speed", 0.7)
		p.kill()
		if why := r.latched(); !strings.Contains(why, "controller connection lost") {
			t.Fatalf("latched for %q", why)
		}
		p.start()
		// The safe state is written as soon as the controller is back.
		p.expect("write", "Speed", 0)
		p.expect("write", "Mode", "stopped")
		// The gateway's e-stop is armed all along: that is no reset.
		time.Sleep(500 * time.Millisecond)
		if o := r.write("ns1/Cell/Speed", "Double", "0.3"); o.Code != "ESTOP_ENGAGED" || !strings.Contains(o.Reason, "controller connection lost") {
			t.Fatalf("write before the reset: %+v", o)
		}
		ans, err := stopsem.SendReset(context.Background(), sock, "operator checked the cell")
		if err != nil || ans != "ok reset" {
			t.Fatalf("reset: %q %v", ans, err)
		}
		r.ready()
		p.drain()
		if o := r.write("ns1/Cell/Speed", "Double", "0.3"); o.Outcome != "written" {
			t.Fatalf("after reset: %+v", o)
		}
		p.expect("write", "Speed", 0.3)
	})
}

// clientCert writes a self-signed RSA certificate and key for the bridge
// (application URI urn:sintgate:opcuabridge) and returns their paths.
func clientCert(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse("urn:sintgate:opcuabridge")
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "sint-opcuabridge", Organization: []string{"sintgate"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment |
			x509.KeyUsageContentCommitment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		URIs:                  []*url.URL{uri},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "bridge.crt"), filepath.Join(dir, "bridge.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// pendingApproval waits for the one pending approval of the rig's gateway
// and returns its id.
func pendingApproval(t *testing.T, r *rig) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		var out struct {
			Approvals []struct {
				ApprovalID string `json:"approvalId"`
			} `json:"approvals"`
		}
		r.gw.Admin("GET", "/v1/approvals?status=pending", nil, &out)
		if len(out.Approvals) == 1 {
			return out.Approvals[0].ApprovalID
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no pending approval")
	return ""
}
