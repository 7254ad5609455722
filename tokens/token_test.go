package tokens_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/codes"
	"github.com/sintgate/sintgate/tokens"
	tt "github.com/sintgate/sintgate/tokens/tokentest"
)

const now = int64(1_763_928_000_000)

var b64 = base64.RawURLEncoding

// signRaw builds a compact JWS from literal header and payload JSON, signed
// by the named key, so that schema tests fail on the schema, not the signature.
func signRaw(key, header, payload string) string {
	in := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return in + "." + b64.EncodeToString(ed25519.Sign(tt.Key(key), []byte(in)))
}

func rootPayload() map[string]any {
	c := tt.Root("root", "alice", 1, now)
	b, _ := json.Marshal(c)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return m
}

func enc(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("want success, got %v", err)
		}
		return
	}
	var ce *codes.Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *codes.Error %s, got %v", want, err)
	}
	if ce.Code != want {
		t.Fatalf("want %s, got %s (%v)", want, ce.Code, err)
	}
}

const hdr = `{"alg":"EdDSA","typ":"sint-cap+jwt"}`

// parseCases are the table of Parse inputs; the fuzz test is seeded from them.
func parseCases() []struct {
	name string
	raw  string
	want codes.Code
} {
	p := rootPayload
	with := func(k string, v any) string { m := p(); m[k] = v; return enc(m) }
	without := func(k string) string { m := p(); delete(m, k); return enc(m) }
	cons := func(c string) string {
		m := p()
		var v any
		if err := json.Unmarshal([]byte(c), &v); err != nil {
			panic(err)
		}
		m["constraints"] = v
		return enc(m)
	}
	good := enc(p())
	deep := strings.Repeat("[", 40) + strings.Repeat("]", 40)
	return []struct {
		name string
		raw  string
		want codes.Code
	}{
		{"ok/root", signRaw("root", hdr, good), ""},
		{"ok/kid-equals-issuer", signRaw("root", `{"alg":"EdDSA","typ":"sint-cap+jwt","kid":"`+tt.Pub("root")+`"}`, good), ""},
		{"ok/notBefore-null", signRaw("root", hdr, with("notBefore", nil)), ""},
		{"ok/all-constraints", signRaw("root", hdr, cons(`{"maxVelocityMps":1,"maxAngularVelocityRps":1,"maxAccelerationMps2":1,"maxJerkMps3":1,"maxForceNewtons":1,"maxTorqueNm":1,"geofence":{"frame":"map","polygon":[[0,0],[1,0],[1,1]]},"timeWindow":{"start":1,"end":2},"maxRepetitions":3,"rateLimit":{"maxCalls":1,"windowMs":1000},"requiresHumanPresence":true,"quorum":{"required":1,"authorized":["alice"]}}`)), ""},
		{"malformed/empty", "", codes.MalformedToken},
		{"malformed/two-parts", "a.b", codes.MalformedToken},
		{"malformed/four-parts", "a.b.c.d", codes.MalformedToken},
		{"malformed/too-long", strings.Repeat("a", tokens.MaxTokenBytes+1), codes.MalformedToken},
		{"malformed/padded-base64", signRaw("root", hdr, good) + "=", codes.MalformedToken},
		{"malformed/alg-none", signRaw("root", `{"alg":"none","typ":"sint-cap+jwt"}`, good), codes.MalformedToken},
		{"malformed/typ-jwt", signRaw("root", `{"alg":"EdDSA","typ":"JWT"}`, good), codes.MalformedToken},
		{"malformed/header-extra-field", signRaw("root", `{"alg":"EdDSA","typ":"sint-cap+jwt","x5u":"http://x"}`, good), codes.MalformedToken},
		{"malformed/header-dup-alg", signRaw("root", `{"alg":"none","alg":"EdDSA","typ":"sint-cap+jwt"}`, good), codes.MalformedToken},
		{"malformed/header-case-variant", signRaw("root", `{"ALG":"EdDSA","typ":"sint-cap+jwt"}`, good), codes.MalformedToken},
		{"malformed/kid-not-issuer", signRaw("root", `{"alg":"EdDSA","typ":"sint-cap+jwt","kid":"`+tt.Pub("alice")+`"}`, good), codes.MalformedToken},
		{"malformed/unknown-field", signRaw("root", hdr, with("admin", true)), codes.MalformedToken},
		{"malformed/case-variant-field", signRaw("root", hdr, strings.Replace(good, `"tier"`, `"Tier"`, 1)), codes.MalformedToken},
		{"malformed/escaped-duplicate-field", signRaw("root", hdr, strings.Replace(good, `{`, `{"t\u0069er":5,`, 1)), codes.MalformedToken},
		{"malformed/duplicate-field", signRaw("root", hdr, strings.Replace(good, `{`, `{"tier":5,`, 1)), codes.MalformedToken},
		{"malformed/missing-revocable", signRaw("root", hdr, without("revocable")), codes.MalformedToken},
		{"malformed/missing-parentTokenId", signRaw("root", hdr, without("parentTokenId")), codes.MalformedToken},
		{"malformed/null-revocable", signRaw("root", hdr, with("revocable", nil)), codes.MalformedToken},
		{"malformed/null-constraints", signRaw("root", hdr, with("constraints", nil)), codes.MalformedToken},
		{"malformed/unknown-constraint", signRaw("root", hdr, cons(`{"maxSpeed":1}`)), codes.MalformedToken},
		{"malformed/negative-limit", signRaw("root", hdr, cons(`{"maxVelocityMps":-1}`)), codes.MalformedToken},
		{"malformed/depth-41", signRaw("root", hdr, strings.Replace(good, `{`, `{"x":`+deep+`,`, 1)), codes.MalformedToken},
		{"malformed/payload-not-json", signRaw("root", hdr, `not json`), codes.MalformedToken},
		{"malformed/payload-array", signRaw("root", hdr, `[]`), codes.MalformedToken},
		{"malformed/trailing-garbage", signRaw("root", hdr, good+`{}`), codes.MalformedToken},
		{"malformed/tier-0", signRaw("root", hdr, with("tier", 0)), codes.MalformedToken},
		{"malformed/tier-6", signRaw("root", hdr, with("tier", 6)), codes.MalformedToken},
		{"malformed/tier-float", signRaw("root", hdr, strings.Replace(good, `"tier":3`, `"tier":3.5`, 1)), codes.MalformedToken},
		{"malformed/tier-string", signRaw("root", hdr, with("tier", "3")), codes.MalformedToken},
		{"malformed/no-actions", signRaw("root", hdr, with("actions", []string{})), codes.MalformedToken},
		{"malformed/duplicate-action", signRaw("root", hdr, with("actions", []string{"publish", "publish"})), codes.MalformedToken},
		{"malformed/bad-action", signRaw("root", hdr, with("actions", []string{"Publish"})), codes.MalformedToken},
		{"malformed/action-65", signRaw("root", hdr, with("actions", []string{strings.Repeat("a", 65)})), codes.MalformedToken},
		{"malformed/65-actions", signRaw("root", hdr, with("actions", manyActions(65))), codes.MalformedToken},
		{"malformed/resource-513", signRaw("root", hdr, with("resource", "ros:///"+strings.Repeat("a", 506))), codes.MalformedToken},
		{"malformed/resource-triple-star", signRaw("root", hdr, with("resource", "ros:///***")), codes.MalformedToken},
		{"malformed/resource-space", signRaw("root", hdr, with("resource", "ros:///a b")), codes.MalformedToken},
		{"malformed/lifetime-over-30-days", signRaw("root", hdr, with("expiresAt", now+31*tt.Day)), codes.MalformedToken},
		{"malformed/expires-before-issued", signRaw("root", hdr, with("expiresAt", now-1)), codes.MalformedToken},
		{"malformed/tokenId-v4", signRaw("root", hdr, with("tokenId", tt.Nonce(1))), codes.MalformedToken},
		{"malformed/tokenId-uppercase", signRaw("root", hdr, with("tokenId", "0190000A-0000-7000-8000-000000000001")), codes.MalformedToken},
		{"malformed/nonce-v7", signRaw("root", hdr, with("nonce", tt.TokenID(1))), codes.MalformedToken},
		{"malformed/subject-uppercase-hex", signRaw("root", hdr, with("subject", strings.ToUpper(tt.Pub("alice")))), codes.MalformedToken},
		{"malformed/empty-chain", signRaw("root", hdr, with("delegationChain", []string{})), codes.MalformedToken},
		{"malformed/geofence-2-vertices", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":[[0,0],[1,0]]}}`)), codes.MalformedToken},
		{"malformed/geofence-bowtie", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":[[0,0],[1,1],[1,0],[0,1]]}}`)), codes.MalformedToken},
		{"malformed/geofence-collinear", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":[[0,0],[1,0],[2,0]]}}`)), codes.MalformedToken},
		{"malformed/geofence-257-vertices", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":`+circle(257)+`}}`)), codes.MalformedToken},
		{"malformed/geofence-vertex-1d", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":[[0],[1,0],[1,1]]}}`)), codes.MalformedToken},
		{"malformed/geofence-vertex-3d", signRaw("root", hdr, cons(`{"geofence":{"frame":"map","polygon":[[0,0,0],[1,0,0],[1,1,0]]}}`)), codes.MalformedToken},
		{"malformed/geofence-no-frame", signRaw("root", hdr, cons(`{"geofence":{"polygon":[[0,0],[1,0],[1,1]]}}`)), codes.MalformedToken},
		{"malformed/timewindow-reversed", signRaw("root", hdr, cons(`{"timeWindow":{"start":2,"end":1}}`)), codes.MalformedToken},
		{"malformed/quorum-required-0", signRaw("root", hdr, cons(`{"quorum":{"required":0,"authorized":["a"]}}`)), codes.MalformedToken},
		{"malformed/quorum-required-above", signRaw("root", hdr, cons(`{"quorum":{"required":2,"authorized":["a"]}}`)), codes.MalformedToken},
		{"malformed/ratelimit-window-0", signRaw("root", hdr, cons(`{"rateLimit":{"maxCalls":1,"windowMs":0}}`)), codes.MalformedToken},
		{"malformed/invalid-utf8", signRaw("root", hdr, strings.Replace(good, "ros:///**", "ros:///\xff", 1)), codes.MalformedToken},
		{"malformed/short-signature", strings.Join(strings.Split(signRaw("root", hdr, good), ".")[:2], ".") + ".AAAA", codes.MalformedToken},
	}
}

func manyActions(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "a" + strings.Repeat("b", i)
	}
	return out
}

// circle returns a JSON polygon of n vertices on a circle (a convex simple polygon).
func circle(n int) string {
	b, _ := json.Marshal(circlePoly(n, 0, 0, 10))
	return string(b)
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases() {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tokens.Parse(tc.raw)
			wantCode(t, err, tc.want)
			if err == nil && tok.Raw != tc.raw {
				t.Fatal("Raw is not the exact input")
			}
		})
	}
}

func TestSignRoundTrip(t *testing.T) {
	c := tt.Root("root", "alice", 1, now)
	v := 0.5
	c.Constraints.MaxVelocityMps = &v
	nb := now + 1000
	c.NotBefore = &nb
	tok, err := tokens.Sign(tt.Key("root"), c)
	if err != nil {
		t.Fatal(err)
	}
	header, _ := b64.DecodeString(strings.Split(tok.Raw, ".")[0])
	if string(header) != hdr {
		t.Fatalf("header %s", header)
	}
	back, err := tokens.Parse(tok.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.VerifySignature(); err != nil {
		t.Fatal(err)
	}
	if back.Claims.TokenID != c.TokenID || *back.Claims.Constraints.MaxVelocityMps != 0.5 || *back.Claims.NotBefore != nb ||
		back.Claims.ParentTokenID != nil || back.Depth() != 0 {
		t.Fatalf("claims changed: %+v", back.Claims)
	}
	t.Run("deny/wrong-key", func(t *testing.T) {
		_, err := tokens.Sign(tt.Key("mallory"), c)
		wantCode(t, err, codes.MalformedToken)
	})
	t.Run("deny/invalid-claims", func(t *testing.T) {
		bad := c
		bad.Tier = 9
		_, err := tokens.Sign(tt.Key("root"), bad)
		wantCode(t, err, codes.MalformedToken)
	})
	t.Run("allows", func(t *testing.T) {
		if !tok.Allows("ros:///cmd_vel", "publish") || tok.Allows("ros:///cmd_vel", "call") || tok.Allows("gpio://x", "publish") {
			t.Fatal("Allows wrong")
		}
	})
}

// TestParseErrorNamesField: every payload schema error names the member's
// path and the form expected, with what was found (a client generating
// tokens with a typed serialiser must learn which field it wrote wrongly).
func TestParseErrorNamesField(t *testing.T) {
	good := enc(rootPayload())
	repl := func(old, new string) string {
		if !strings.Contains(good, old) {
			panic(old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cons := func(c string) string { return repl(`"constraints":{}`, `"constraints":`+c) }
	cases := []struct {
		name, payload, want string
	}{
		{"tier-float", repl(`"tier":3`, `"tier":2.0`), "payload: tier: expected an integer, got 2.0"},
		{"tier-exponent", repl(`"tier":3`, `"tier":3e0`), "payload: tier: expected an integer, got 3e0"},
		{"tier-string", repl(`"tier":3`, `"tier":"3"`), "payload: tier: expected an integer, got a string"},
		{"tier-null", repl(`"tier":3`, `"tier":null`), "payload: tier: expected an integer, got null"},
		{"issuedAt-float", repl(`"issuedAt":`, `"issuedAt":1.5,"x":`), "payload: issuedAt: expected an integer, got 1.5"},
		{"revocable-string", repl(`"revocable":true`, `"revocable":"yes"`), "payload: revocable: expected true or false, got a string"},
		{"actions-string", repl(`"actions":["publish","subscribe"]`, `"actions":"publish"`), "payload: actions: expected an array of strings, got a string"},
		{"action-number", repl(`"actions":["publish","subscribe"]`, `"actions":["publish",7]`), "payload: actions[1]: expected a string, got 7"},
		{"nested-integer", cons(`{"quorum":{"required":1.0,"authorized":["a"]}}`), "payload: constraints.quorum.required: expected an integer, got 1.0"},
		{"nested-number", cons(`{"maxVelocityMps":"fast"}`), "payload: constraints.maxVelocityMps: expected a number, got a string"},
		{"vertex-length", cons(`{"geofence":{"frame":"map","polygon":[[0,0],[1,0,2],[1,1]]}}`), "payload: constraints.geofence.polygon[1]: expected an array of 2 numbers, got a longer array"},
		{"vertex-short", cons(`{"geofence":{"frame":"map","polygon":[[0,0],[1],[1,1]]}}`), "payload: constraints.geofence.polygon[1]: expected an array of 2 numbers, got 1 elements"},
		{"missing-nested", cons(`{"rateLimit":{"maxCalls":1}}`), "payload: constraints.rateLimit.windowMs: missing (expected an integer)"},
		{"missing-top", strings.Replace(good, `"nonce":`, `"x":`, 1), "payload: (top level): unknown member \"x\""},
		{"unknown-nested", cons(`{"maxSpeed":1}`), "payload: constraints: unknown member \"maxSpeed\""},
		{"object-for-string", repl(`"resource":"ros:///**"`, `"resource":{}`), "payload: resource: expected a string, got an object"},
		{"integer-overflow", repl(`"tier":3`, `"tier":99999999999999999999`), "payload: tier: expected an integer within 64 bits, got number 99999999999999999999"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tokens.Parse(signRaw("root", hdr, c.payload))
			wantCode(t, err, codes.MalformedToken)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}
