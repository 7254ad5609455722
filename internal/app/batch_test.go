package app

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/tokens/tokentest"
)

// TestInterceptBatchSignedBytes: each batch item carries its exact signed
// bytes as a JSON string, which any serialiser of the envelope (pretty
// printing, typed models) leaves intact; the deprecated object form is
// still verified on its envelope bytes; and a signature failure names its
// cause instead of a bare "signature does not verify".
func TestInterceptBatchSignedBytes(t *testing.T) {
	h := newHarness(t, "testdata/policy.yaml")
	h.trustRoot("root")
	_, use := h.allowToken("batch-agent")

	type result struct {
		Status   int `json:"status"`
		Decision struct {
			Decision string  `json:"decision"`
			Code     *string `json:"code"`
			Reason   *string `json:"reason"`
		} `json:"decision"`
	}
	send := func(t *testing.T, envelope []byte) (int, []result, errBody) {
		t.Helper()
		var raw json.RawMessage
		st := h.do("POST", "/v1/intercept/batch", nil, envelope, &raw)
		var out struct {
			Results []result `json:"results"`
		}
		var e errBody
		_ = json.Unmarshal(raw, &out)
		_ = json.Unmarshal(raw, &e)
		return st, out.Results, e
	}
	// item signs a fresh intercept body and returns its headers and bytes.
	item := func(signer string) (map[string]string, []byte) {
		m := h.interceptBody("batch-agent", use)
		b, _ := json.Marshal(m)
		return signed(signer, b, m["timestamp"].(int64)), b
	}
	one := func(t *testing.T, envelope []byte) result {
		t.Helper()
		st, rs, e := send(t, envelope)
		if st != 200 || len(rs) != 1 {
			t.Fatalf("batch: %d %+v %+v", st, rs, e)
		}
		return rs[0]
	}
	reason := func(r result) string {
		if r.Decision.Reason == nil {
			return ""
		}
		return *r.Decision.Reason
	}
	wantAuthFailure := func(t *testing.T, r result, cause string) {
		t.Helper()
		if r.Status != 401 || r.Decision.Code == nil || *r.Decision.Code != "UNAUTHENTICATED" || !strings.Contains(reason(r), cause) {
			t.Fatalf("item %d %v reason %q, want 401 UNAUTHENTICATED naming %q", r.Status, r.Decision.Code, reason(r), cause)
		}
	}

	t.Run("string-body/pretty-printed-envelope-allows", func(t *testing.T) {
		hd, b := item("batch-agent")
		env, _ := json.MarshalIndent(map[string]any{"items": []any{map[string]any{"headers": hd, "body": string(b)}}}, "", "    ")
		if r := one(t, env); r.Status != 200 || r.Decision.Decision != "allow" {
			t.Fatalf("item %d %s (%s)", r.Status, r.Decision.Decision, reason(r))
		}
	})
	t.Run("string-body/re-formatted-after-signing-names-the-cause", func(t *testing.T) {
		hd, b := item("batch-agent")
		var pretty bytes.Buffer
		_ = json.Indent(&pretty, b, "", "  ")
		env, _ := json.Marshal(map[string]any{"items": []any{map[string]any{"headers": hd, "body": pretty.String()}}})
		wantAuthFailure(t, one(t, env), "item bytes differ from the signed bytes")
	})
	t.Run("string-body/wrong-key", func(t *testing.T) {
		hd, b := item("someone-else")
		hd["X-Agent-Id"] = tokentest.Pub("batch-agent")
		env, _ := json.Marshal(map[string]any{"items": []any{map[string]any{"headers": hd, "body": string(b)}}})
		wantAuthFailure(t, one(t, env), "must hold the exact signed bytes")
	})
	t.Run("object-body/exact-bytes-still-accepted", func(t *testing.T) {
		hd, b := item("batch-agent")
		hb, _ := json.Marshal(hd)
		env := []byte(`{"items":[{"headers":` + string(hb) + `,"body":` + string(b) + `}]}`)
		if r := one(t, env); r.Status != 200 || r.Decision.Decision != "allow" {
			t.Fatalf("item %d %s (%s)", r.Status, r.Decision.Decision, reason(r))
		}
	})
	t.Run("object-body/pretty-printed-envelope-names-the-cause", func(t *testing.T) {
		hd, b := item("batch-agent")
		env, _ := json.MarshalIndent(map[string]any{"items": []any{map[string]any{"headers": hd, "body": json.RawMessage(b)}}}, "", "  ")
		wantAuthFailure(t, one(t, env), "item bytes differ from the signed bytes: the envelope was re-formatted")
	})
	t.Run("object-body/re-serialised-says-send-a-string", func(t *testing.T) {
		// The agent signed its members in its own order; a typed model
		// of the envelope re-encodes them sorted.
		m := h.interceptBody("batch-agent", use)
		keys := []string{"timestamp", "tokenId", "resource", "requestId", "params", "agentId", "action"}
		var sb strings.Builder
		for i, k := range keys {
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(m[k])
			sb.WriteString(map[bool]string{true: "{", false: ","}[i == 0] + string(kb) + ":" + string(vb))
		}
		sb.WriteString("}")
		b := []byte(sb.String())
		hd := signed("batch-agent", b, m["timestamp"].(int64))
		env, _ := json.Marshal(map[string]any{"items": []any{map[string]any{"headers": hd, "body": m}}})
		if bytes.Contains(env, b) {
			t.Fatal("re-encoding kept the bytes: the case proves nothing")
		}
		wantAuthFailure(t, one(t, env), "send the body as a JSON string holding the exact signed bytes")
	})
	t.Run("envelope/repeated-body-refused", func(t *testing.T) {
		hd, b := item("batch-agent")
		hb, _ := json.Marshal(hd)
		bs, _ := json.Marshal(string(b))
		env := []byte(`{"items":[{"headers":` + string(hb) + `,"body":"{}","body":` + string(bs) + `}]}`)
		st, _, e := send(t, env)
		if st != 400 || e.Error.Code != "MALFORMED_REQUEST" || !strings.Contains(e.Error.Message, "repeated") {
			t.Fatalf("%d %+v, want 400 MALFORMED_REQUEST naming the repeated key", st, e)
		}
	})
}
