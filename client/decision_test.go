package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/sintgate/sintgate/api"
)

// parseDecisionTwoPass is the reference parseDecision: a probe for the
// decision member, then the whole body.
func parseDecisionTwoPass(status int, body []byte) (*api.Decision, error) {
	var probe struct {
		Decision *string `json:"decision"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.Decision != nil {
		var d api.Decision
		if err := json.Unmarshal(body, &d); err != nil {
			return nil, fmt.Errorf("client: decision body: %w", err)
		}
		return &d, nil
	}
	return nil, apiError(status, body)
}

// sameParse fails when parseDecision and the two-pass reference disagree:
// the same decision, or the same *APIError, or both another error.
func sameParse(t *testing.T, status int, body []byte) {
	t.Helper()
	d, err := parseDecision(status, body)
	rd, rerr := parseDecisionTwoPass(status, body)
	var ae, rae *APIError
	switch {
	case !reflect.DeepEqual(d, rd):
		t.Fatalf("%d %q: decision %+v, reference %+v", status, body, d, rd)
	case (err == nil) != (rerr == nil):
		t.Fatalf("%d %q: error %v, reference %v", status, body, err, rerr)
	case errors.As(err, &ae) != errors.As(rerr, &rae):
		t.Fatalf("%d %q: error %T %v, reference %T %v", status, body, err, err, rerr, rerr)
	case ae != nil && *ae != *rae:
		t.Fatalf("%d %q: %+v, reference %+v", status, body, *ae, *rae)
	}
}

var decisionBodies = []struct {
	status int
	body   string
}{
	{200, `{"requestId":"r","decision":"allow","tier":2,"code":null,"reason":null,"approvalId":null,"attestation":"a.b.c","envelope":{"maxVelocityMps":1},"ledger":{"eventId":"e","sequence":1,"hash":"h"},"policyHash":"p"}`},
	{202, `{"requestId":"r","decision":"escalate","tier":3,"approvalId":"ap","requiredApprovals":2,"expiresAt":17}`},
	{403, `{"requestId":"r","decision":"deny","tier":0,"code":"TOKEN_EXPIRED","reason":"x","approvalId":null,"attestation":null,"envelope":null,"ledger":null,"policyHash":null}`},
	{413, `{"error":{"code":"MALFORMED_REQUEST","message":"body too large"}}`},
	{502, `<html>bad gateway</html>`},
	{500, ``},
	{200, `{"decision":7}`},
	{200, `{"decision":null,"tier":2}`},
	{200, `{"decision":"allow","tier":"two"}`},
	{200, `{"decision":"allow","decision":7}`},
	{200, `{"decision":7,"decision":"allow"}`},
	{200, `{"DECISION":"allow","Tier":2}`},
	{200, `{"decision":"allow"} trailing`},
	{403, `{"decision":"deny","code":"X","envelope":[1,2]}`},
	{200, `[{"decision":"allow"}]`},
	{200, `{"decision":""}`},
}

// TestParseDecisionOnePass: the one-pass parser answers exactly as the
// two-pass reference for decisions, errors and the odd bodies between.
func TestParseDecisionOnePass(t *testing.T) {
	for _, tc := range decisionBodies {
		sameParse(t, tc.status, []byte(tc.body))
	}
}

func FuzzParseDecisionOnePass(f *testing.F) {
	for _, tc := range decisionBodies {
		f.Add(tc.status, []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) { sameParse(t, status, body) })
}

func BenchmarkParseDecision(b *testing.B) {
	body := []byte(decisionBodies[0].body)
	b.Run("one-pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseDecision(200, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("two-pass", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseDecisionTwoPass(200, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
