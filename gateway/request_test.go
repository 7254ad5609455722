package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

const validBody = `{"requestId":"01935f2c-7a1b-7c3d-8e4f-0123456789ab","agentId":"` +
	"0000000000000000000000000000000000000000000000000000000000000001" +
	`","timestamp":1763928000000,"tokenId":"01935f2c-7a1b-7c3d-8e4f-0123456789ac","resource":"ros:///cmd_vel","action":"publish","params":{"linear":{"x":0.4}}}`

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name string
		body string
		ok   bool
	}{
		{"ok/valid", validBody, true},
		{"malformed/not-json", `{"requestId":`, false},
		{"malformed/trailing-data", validBody + `{}`, false},
		{"malformed/unknown-field", strings.Replace(validBody, `"action"`, `"surprise":1,"action"`, 1), false},
		{"malformed/bad-request-id", strings.Replace(validBody, "01935f2c-7a1b-7c3d-8e4f-0123456789ab", "not-a-uuid", 1), false},
		{"malformed/uuid-v4-request-id", strings.Replace(validBody, "01935f2c-7a1b-7c3d", "01935f2c-7a1b-4c3d", 1), false},
		{"malformed/upper-hex-agent", strings.Replace(validBody, "0000000000000000000000000000000000000000000000000000000000000001", "000000000000000000000000000000000000000000000000000000000000000A", 1), false},
		{"malformed/dot-segment", strings.Replace(validBody, "ros:///cmd_vel", "ros:///a/./cmd_vel", 1), false},
		{"malformed/percent-encoded-unreserved", strings.Replace(validBody, "ros:///cmd_vel", "ros:///cmd%5Fvel", 1), false},
		{"malformed/empty-segment", strings.Replace(validBody, "ros:///cmd_vel", "ros:///a//cmd_vel", 1), false},
		{"malformed/bad-action", strings.Replace(validBody, `"publish"`, `"Publish!"`, 1), false},
		{"malformed/params-not-object", strings.Replace(validBody, `{"linear":{"x":0.4}}`, `[1,2]`, 1), false},
		{"malformed/token-and-token-id", strings.Replace(validBody, `"resource"`, `"token":"a.b.c","resource"`, 1), false},
		{"malformed/too-deep", strings.Replace(validBody, `{"linear":{"x":0.4}}`, strings.Repeat(`{"a":`, 40)+"1"+strings.Repeat("}", 40), 1), false},
		{"malformed/huge-number-context", strings.Replace(validBody, `"params"`, `"physicalContext":{"currentVelocityMps":1e999},"params"`, 1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tc.body))
			if tc.ok != (err == nil) {
				t.Fatalf("ParseRequest ok=%v err=%v", err == nil, err)
			}
			if err != nil && err.Code != codes.MalformedRequest {
				t.Fatalf("code %s", err.Code)
			}
			if tc.ok && r.Params == nil {
				t.Fatal("params not decoded")
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(validBody))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"requestId":"x","params":{"a":[1,{"b":"c"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if (r == nil) == (err == nil) {
			t.Fatal("exactly one of request and error must be set")
		}
		if err != nil && err.Code != codes.MalformedRequest {
			t.Fatalf("code %s", err.Code)
		}
		_ = requestIDOf(b)
	})
}

func TestJSONDepth(t *testing.T) {
	if !JSONDepthOK([]byte(`{"a":"[[[[[[["}`), 2) {
		t.Fatal("brackets inside strings counted")
	}
	if JSONDepthOK([]byte(`[[[1]]]`), 2) {
		t.Fatal("depth 3 accepted at max 2")
	}
	if !JSONDepthOK([]byte(`{"a":"\"[[[["}`), 1) {
		t.Fatal("escaped quote mishandled")
	}
}

func tokentestNow() time.Time { return time.UnixMilli(1_763_928_000_000) }
