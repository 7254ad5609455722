package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

func sp(s string) *string { return &s }

// checkSame fails unless AppendJSON gives json.Marshal's bytes (or its
// error).
func checkSame(t interface {
	Helper()
	Fatalf(string, ...any)
}, d *Decision) {
	t.Helper()
	want, werr := json.Marshal(d)
	got, gerr := d.AppendJSON([]byte("prefix"))
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("Marshal error %v, AppendJSON error %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendJSON\n%s\nMarshal\n%s", got[len("prefix"):], want)
	}
}

func TestDecisionAppendJSONMatchesMarshal(t *testing.T) {
	n, exp := 2, int64(1765100000000)
	cases := map[string]*Decision{
		"empty": {},
		"allow": {RequestID: sp("0190c6a8-7b1c-7a3e-9f00-000000000001"), Decision: "allow", Tier: 2,
			Attestation: sp("eyJhbGciOiJFZERTQSJ9.eyJ4IjoxfQ.c2ln"), Envelope: json.RawMessage(`{"maxVelocityMps":0.5}`),
			Ledger: &LedgerRef{EventID: "0190c6a8-7b1c-7a3e-9f00-000000000002", Sequence: 18446744073709551615, Hash: "ab01"}, PolicyHash: sp("ff")},
		"escalate": {RequestID: sp("r"), Decision: "escalate", Tier: 3, Code: sp("APPROVAL_REQUIRED"), Reason: sp("tier 3"),
			ApprovalID: sp("a"), RequiredApprovals: &n, ExpiresAt: &exp, Ledger: &LedgerRef{}},
		"deny, odd reason":   {Decision: "deny", Code: sp("X"), Reason: sp(`budget exhausted: a<b>&"c"\d` + "\u2028\x01é\xff")},
		"negative tier":      {Decision: "deny", Tier: -1},
		"envelope spaced":    {Envelope: json.RawMessage(`{ "a" : 1 }`)},
		"envelope html":      {Envelope: json.RawMessage(`{"a":"<&>"}`)},
		"envelope escaped":   {Envelope: json.RawMessage(`{"a\"b":"c\\"}`)},
		"envelope invalid":   {Envelope: json.RawMessage(`{"a":`)},
		"envelope empty":     {Envelope: json.RawMessage{}},
		"envelope unicode":   {Envelope: json.RawMessage("{\"a\":\"\u2028é\"}")},
		"envelope number":    {Envelope: json.RawMessage(`1e3`)},
		"request id unicode": {RequestID: sp("日本")},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) { checkSame(t, d) })
	}
}

func TestDecisionAppendJSONProperty(t *testing.T) {
	str := rapid.OneOf(rapid.String(), rapid.StringMatching(`[a-zA-Z0-9_.:/ -]{0,40}`))
	opt := func(t *rapid.T, label string) *string {
		if rapid.Bool().Draw(t, label+"?") {
			return sp(str.Draw(t, label))
		}
		return nil
	}
	rapid.Check(t, func(t *rapid.T) {
		d := &Decision{
			RequestID: opt(t, "requestId"), Decision: str.Draw(t, "decision"), Tier: rapid.Int().Draw(t, "tier"),
			Code: opt(t, "code"), Reason: opt(t, "reason"), ApprovalID: opt(t, "approvalId"),
			Attestation: opt(t, "attestation"), PolicyHash: opt(t, "policyHash"),
		}
		if rapid.Bool().Draw(t, "envelope?") {
			env := map[string]any{str.Draw(t, "envKey"): rapid.Float64().Draw(t, "envValue"), "s": str.Draw(t, "envStr")}
			b, _ := json.Marshal(env)
			if rapid.Bool().Draw(t, "indent") {
				b, _ = json.MarshalIndent(env, "", " ")
			}
			d.Envelope = b
		}
		if rapid.Bool().Draw(t, "ledger?") {
			d.Ledger = &LedgerRef{EventID: str.Draw(t, "eventId"), Sequence: rapid.Uint64().Draw(t, "seq"), Hash: str.Draw(t, "hash")}
		}
		if rapid.Bool().Draw(t, "approvals?") {
			n, e := rapid.Int().Draw(t, "required"), rapid.Int64().Draw(t, "expires")
			d.RequiredApprovals, d.ExpiresAt = &n, &e
		}
		checkSame(t, d)
	})
}

func FuzzDecisionAppendJSON(f *testing.F) {
	f.Add("r", "allow", 2, "c", "why", []byte(`{"a":1}`), "h")
	f.Add("<", "\u2028", -1, "\\", "\"", []byte(`{ "a" : "<" }`), "\xff")
	f.Fuzz(func(t *testing.T, rid, dec string, tier int, code, reason string, env []byte, hash string) {
		d := &Decision{RequestID: &rid, Decision: dec, Tier: tier, Code: &code, Reason: &reason, Envelope: env,
			Ledger: &LedgerRef{EventID: rid, Sequence: uint64(tier), Hash: hash}, PolicyHash: &hash}
		checkSame(t, d)
	})
}

// BenchmarkDecisionJSON compares AppendJSON with json.Marshal on an allow's
// answer (the gateway sends one per intercept).
func BenchmarkDecisionJSON(b *testing.B) {
	att := "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoic2ludC1hdHRlc3RhdGlvbitqd3QifQ." + string(bytes.Repeat([]byte("eyJpc3MiOiJndyJ9"), 30)) + ".c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl"
	d := &Decision{RequestID: sp("0190c6a8-7b1c-7a3e-9f00-000000000001"), Decision: "allow", Tier: 2,
		Attestation: &att, Envelope: json.RawMessage(`{"maxAngularVelocityRps":1,"maxVelocityMps":0.5}`),
		Ledger:     &LedgerRef{EventID: "0190c6a8-7b1c-7a3e-9f00-000000000002", Sequence: 123456, Hash: string(bytes.Repeat([]byte("ab"), 32))},
		PolicyHash: sp(string(bytes.Repeat([]byte("cd"), 32)))}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(d)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			buf, _ = d.AppendJSON(buf[:0])
		}
	})
}
