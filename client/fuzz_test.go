package client

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/sintgate/sintgate/api"
)

// FuzzParseResponse feeds arbitrary gateway answers to the response parser:
// it must not panic, and must return exactly one of a decision or an error;
// a non-decision answer is an *APIError carrying the HTTP status.
func FuzzParseResponse(f *testing.F) {
	seeds := []struct {
		status int
		body   string
	}{
		{200, `{"requestId":"r","decision":"allow","tier":2,"code":null,"reason":null,"approvalId":null,"attestation":"a.b.c","envelope":{},"ledger":{"eventId":"e","sequence":1,"hash":"h"},"policyHash":"p"}`},
		{403, `{"requestId":"r","decision":"deny","tier":0,"code":"TOKEN_EXPIRED","reason":"x","approvalId":null,"attestation":null,"envelope":null,"ledger":null,"policyHash":null}`},
		{413, `{"error":{"code":"MALFORMED_REQUEST","message":"body too large"}}`},
		{502, `<html>bad gateway</html>`},
		{500, ``},
		{200, `{"decision":7}`},
	}
	for _, s := range seeds {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		d, err := parseDecision(status, body)
		if (d == nil) == (err == nil) {
			t.Fatalf("decision %v and error %v", d, err)
		}
		var ae *APIError
		if err != nil && errors.As(err, &ae) {
			if ae.Status != status || len(ae.Message) > maxErrorText+len("…")+len(body) {
				t.Fatalf("bad APIError %+v", ae)
			}
			_ = ae.Error()
		}
	})
}

// BenchmarkSignedIntercept is the client-side cost of one intercept body:
// stamp, JSON encoding and the Ed25519 signature (no network).
func BenchmarkSignedIntercept(b *testing.B) {
	a := &Agent{Key: ed25519.NewKeyFromSeed(make([]byte, 32)), Now: func() time.Time { return gwNow }}
	params := json.RawMessage(`{"linear":{"x":0.4,"y":0,"z":0},"angular":{"x":0,"y":0,"z":0.1}}`)
	b.ReportAllocs()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	start := ru.Utime.Nano() + ru.Stime.Nano()
	for b.Loop() {
		r := api.InterceptRequest{TokenID: "019aaf00-0000-7000-8000-0000000000aa", Resource: "ros:///cmd_vel", Action: "publish", Params: params}
		if err := a.stampRequest(&r, gwNow.UnixMilli()); err != nil {
			b.Fatal(err)
		}
		body, err := json.Marshal(&r)
		if err != nil {
			b.Fatal(err)
		}
		_ = a.SignHeaders(body, r.Timestamp)
	}
	// CPU time per op: the wall clock mostly measures the shared machine.
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano()-start)/float64(b.N), "cpu-ns/op")
}
