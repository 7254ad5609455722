package attest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sintgate/sintgate/codes"
)

// goldenSeed is the fixed key of the golden test: bytes 0x01..0x20.
func goldenSeed() []byte {
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i + 1)
	}
	return s
}

func goldenKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey(goldenSeed(), time.Unix(1763928000, 0))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	agentHex   = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
	policyHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
)

// goldenClaims is a typical allow at 2025-11-23T20:00:00Z.
func goldenClaims() Claims {
	return Claims{
		Issuer:     "gw-test",                              // the gateway id
		Subject:    agentHex,                               // agentId = the agent's public key hex
		Audience:   "ros:///cmd_vel",                       // the resource decided on
		Action:     "publish",                              // the action decided on
		JTI:        "019aaf00-0000-7000-8000-000000000001", // the request's requestId (UUIDv7)
		IssuedAt:   1763928000,                             // iat, unix seconds
		ExpiresAt:  1763928030,                             // exp = iat + 30 s (≤ iat + 60)
		TokenID:    "019aaf00-0000-7000-8000-0000000000aa", // the capability token used
		Tier:       2,                                      // tier assigned by the policy
		ParamsHash: EmptyParamsHash,                        // sha256(JCS({}))
		Envelope:   json.RawMessage(`{"maxVelocityMps":0.5}`),
		PolicyHash: policyHash, // sha256(JCS(policy))
		LedgerSeq:  42,         // the decision's ledger sequence number
	}
}

// TestGolden pins the exact bytes of an attestation signed with a fixed key.
// Ed25519 is deterministic, so any change of the header, of the member
// order, of number or string formatting, or of the signing input breaks it.
func TestGolden(t *testing.T) {
	k := goldenKey(t)
	if k.KID != "65b60673d6ed884b" {
		t.Errorf("kid = %s; it is the first 16 hex of sha256(pub)", k.KID)
	}
	got, err := Sign(k, goldenClaims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(got, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", got)
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	// The header: algorithm, type, and the signing key's id, in this order.
	const wantHeader = `{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"65b60673d6ed884b"}`
	if string(header) != wantHeader {
		t.Errorf("header\n got %s\nwant %s", header, wantHeader)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	const wantPayload = `{` +
		`"iss":"gw-test",` + // issuer: the gateway id
		`"sub":"` + agentHex + `",` + // subject: the agent
		`"aud":"ros:///cmd_vel",` + // audience: the resource
		`"act":"publish",` + // the action
		`"jti":"019aaf00-0000-7000-8000-000000000001",` + // the requestId
		`"iat":1763928000,` + // issued at, unix seconds
		`"exp":1763928030,` + // expires, unix seconds
		`"tokenId":"019aaf00-0000-7000-8000-0000000000aa",` + // the capability token
		`"tier":2,` + // the assigned tier
		`"paramsHash":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",` + // sha256("{}")
		`"envelope":{"maxVelocityMps":0.5},` + // effective limits, compacted as given
		`"policyHash":"` + policyHash + `",` + // the policy in force
		`"ledgerSeq":42` + // the ledger entry of the decision
		`}`
	if string(payload) != wantPayload {
		t.Errorf("payload\n got %s\nwant %s", payload, wantPayload)
	}
	// The whole token, signature included (cross-checked with Python's
	// cryptography package: same kid, same signature).
	const wantToken = "eyJhbGciOiJFZERTQSIsInR5cCI6InNpbnQtYXR0ZXN0K2p3dCIsImtpZCI6IjY1YjYwNjczZDZlZDg4NGIifQ.eyJpc3MiOiJnd" +
		"y10ZXN0Iiwic3ViIjoiM2I2YTI3YmNjZWI2YTQyZDYyYTNhOGQwMmE2ZjBkNzM2NTMyMTU3NzFkZTI0M2E2M2FjMDQ4YTE4YjU5Z" +
		"GEyOSIsImF1ZCI6InJvczovLy9jbWRfdmVsIiwiYWN0IjoicHVibGlzaCIsImp0aSI6IjAxOWFhZjAwLTAwMDAtNzAwMC04MDAwL" +
		"TAwMDAwMDAwMDAwMSIsImlhdCI6MTc2MzkyODAwMCwiZXhwIjoxNzYzOTI4MDMwLCJ0b2tlbklkIjoiMDE5YWFmMDAtMDAwMC03M" +
		"DAwLTgwMDAtMDAwMDAwMDAwMGFhIiwidGllciI6MiwicGFyYW1zSGFzaCI6IjQ0MTM2ZmEzNTViMzY3OGExMTQ2YWQxNmY3ZTg2N" +
		"DllOTRmYjRmYzIxZmU3N2U4MzEwYzA2MGY2MWNhYWZmOGEiLCJlbnZlbG9wZSI6eyJtYXhWZWxvY2l0eU1wcyI6MC41fSwicG9sa" +
		"WN5SGFzaCI6IjlmODZkMDgxODg0YzdkNjU5YTJmZWFhMGM1NWFkMDE1YTNiZjRmMWIyYjBiODIyY2QxNWQ2YzE1YjBmMDBhMDgiL" +
		"CJsZWRnZXJTZXEiOjQyfQ.ux6iJzj3raTb78YnEIL7tM9nywpbS4Y79u7y6giLo26cY9HL9jDHRkHmh9fiIOxX9QzFOVJAGHb2kl" +
		"Kh5cdnDw"
	if got != wantToken {
		t.Errorf("token\n got %s\nwant %s", got, wantToken)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := goldenKey(t)
	v := NewVerifier(k)
	c := goldenClaims()
	tok, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(c.IssuedAt+10, 0)
	got, err := v.Verify(tok, now, expectFor(c))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, c) {
		t.Errorf("claims\n got %+v\nwant %+v", *got, c)
	}
}

func expectFor(c Claims) Expect {
	return Expect{Issuer: c.Issuer, AgentID: c.Subject, Resource: c.Audience, Action: c.Action, ParamsHash: c.ParamsHash}
}

// TestSignRejects checks that Sign never produces an attestation from bad claims.
func TestSignRejects(t *testing.T) {
	k := goldenKey(t)
	cases := []struct {
		name string
		mut  func(*Claims)
	}{
		{"empty-iss", func(c *Claims) { c.Issuer = "" }},
		{"empty-sub", func(c *Claims) { c.Subject = "" }},
		{"empty-aud", func(c *Claims) { c.Audience = "" }},
		{"empty-act", func(c *Claims) { c.Action = "" }},
		{"empty-jti", func(c *Claims) { c.JTI = "" }},
		{"empty-tokenId", func(c *Claims) { c.TokenID = "" }},
		{"tier-0", func(c *Claims) { c.Tier = 0 }},
		{"tier-6", func(c *Claims) { c.Tier = 6 }},
		{"paramsHash-upper", func(c *Claims) { c.ParamsHash = strings.ToUpper(c.ParamsHash) }},
		{"paramsHash-short", func(c *Claims) { c.ParamsHash = "abc" }},
		{"empty-policyHash", func(c *Claims) { c.PolicyHash = "" }},
		{"ledgerSeq-0", func(c *Claims) { c.LedgerSeq = 0 }},
		{"exp-equals-iat", func(c *Claims) { c.ExpiresAt = c.IssuedAt }},
		{"exp-over-60s", func(c *Claims) { c.ExpiresAt = c.IssuedAt + 61 }},
		{"envelope-array", func(c *Claims) { c.Envelope = json.RawMessage(`[1]`) }},
		{"envelope-invalid", func(c *Claims) { c.Envelope = json.RawMessage(`{"a":`) }},
		{"aud-invalid-utf8", func(c *Claims) { c.Audience = "ros:///\xff" }},
	}
	for _, tc := range cases {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			c := goldenClaims()
			tc.mut(&c)
			tok, err := Sign(k, c)
			if err == nil {
				t.Fatalf("Sign accepted bad claims: %s", tok)
			}
			if codes.Of(err) != codes.InternalError {
				t.Errorf("code = %s, want INTERNAL_ERROR", codes.Of(err))
			}
		})
	}
	t.Run("reject/public-only-key", func(t *testing.T) {
		if _, err := Sign(Key{KID: k.KID, Public: k.Public}, goldenClaims()); err == nil {
			t.Fatal("signed without a private key")
		}
	})
	t.Run("accept/nil-envelope-is-empty-object", func(t *testing.T) {
		c := goldenClaims()
		c.Envelope = nil
		tok, err := Sign(k, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewVerifier(k).Verify(tok, time.Unix(c.IssuedAt, 0), expectFor(c))
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Envelope) != "{}" {
			t.Errorf("envelope = %s", got.Envelope)
		}
	})
	t.Run("accept/hand-built-key-without-prefix", func(t *testing.T) {
		hand := Key{KID: k.KID, Public: k.Public, Private: k.Private}
		a, err1 := Sign(hand, goldenClaims())
		b, err2 := Sign(k, goldenClaims())
		if err1 != nil || err2 != nil || a != b {
			t.Fatalf("hand-built key signs differently: %v %v", err1, err2)
		}
	})
}

// forge signs arbitrary header and payload bytes with k, for verifier tests.
func forge(k Key, header, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return in + "." + enc.EncodeToString(ed25519.Sign(k.Private, []byte(in)))
}

func claimsJSON(t testing.TB, c Claims) string {
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type verifyCase struct {
	name  string
	token string
	now   time.Time
	want  Expect
	// reason is the expected failure, "" for success.
	reason Reason
	code   codes.Code
}

// verifyCases is the verifier table; the fuzz test is seeded from it.
func verifyCases(t testing.TB) []verifyCase {
	k := goldenKey(t)
	other, _ := NewKey(make([]byte, 32), time.Unix(0, 0))
	c := goldenClaims()
	good, err := Sign(k, c)
	if err != nil {
		t.Fatal(err)
	}
	okNow := time.Unix(c.IssuedAt+5, 0)
	exp := expectFor(c)
	hdr := `{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"` + k.KID + `"}`
	withClaims := func(mut func(*Claims)) string {
		cc := goldenClaims()
		mut(&cc)
		return forge(k, hdr, claimsJSON(t, cc))
	}
	withExpect := func(mut func(*Expect)) Expect {
		e := exp
		mut(&e)
		return e
	}
	parts := strings.Split(good, ".")
	flipped := []byte(good)
	flipped[len(flipped)-3] ^= 0x01
	sigFlip := string(flipped)
	if sigFlip == good {
		t.Fatal("flip did nothing")
	}
	return []verifyCase{
		{name: "allow/valid", token: good, now: okNow, want: exp},
		{name: "allow/at-iat", token: good, now: time.Unix(c.IssuedAt, 0), want: exp},
		{name: "allow/iat-in-future-within-skew", token: good, now: time.Unix(c.IssuedAt-5, 0), want: exp},
		{name: "allow/just-before-exp-plus-skew", token: good, now: time.Unix(c.ExpiresAt+4, 999e6), want: exp},
		{name: "allow/no-issuer-expectation", token: good, now: okNow, want: withExpect(func(e *Expect) { e.Issuer = "" })},
		{name: "allow/header-members-reordered", token: forge(k, `{"kid":"`+k.KID+`","typ":"sint-attest+jwt","alg":"EdDSA"}`, claimsJSON(t, c)), now: okNow, want: exp},
		{name: "deny/empty", token: "", now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/two-segments", token: parts[0] + "." + parts[1], now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/four-segments", token: good + ".x", now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/padded-base64", token: parts[0] + "=." + parts[1] + "." + parts[2], now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/too-long", token: strings.Repeat("a", MaxAttestationLen+1), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/alg-none", token: forge(k, `{"alg":"none","typ":"sint-attest+jwt","kid":"`+k.KID+`"}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonHeader, code: codes.MalformedToken},
		{name: "deny/typ-capability-token", token: forge(k, `{"alg":"EdDSA","typ":"sint-cap+jwt","kid":"`+k.KID+`"}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonHeader, code: codes.MalformedToken},
		{name: "deny/header-extra-member", token: forge(k, `{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"`+k.KID+`","crit":["x"]}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonHeader, code: codes.MalformedToken},
		{name: "deny/header-duplicate-alg", token: forge(k, `{"alg":"none","alg":"EdDSA","typ":"sint-attest+jwt","kid":"`+k.KID+`"}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonHeader, code: codes.MalformedToken},
		{name: "deny/unknown-kid", token: forge(other, `{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"`+other.KID+`"}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonUnknownKey, code: codes.UnknownIssuer},
		{name: "deny/missing-kid", token: forge(k, `{"alg":"EdDSA","typ":"sint-attest+jwt"}`, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonUnknownKey, code: codes.UnknownIssuer},
		{name: "deny/signed-by-other-key-under-our-kid", token: forge(other, hdr, claimsJSON(t, c)), now: okNow, want: exp, reason: ReasonSignature, code: codes.InvalidSignature},
		{name: "deny/flipped-signature-bit", token: sigFlip, now: okNow, want: exp, reason: ReasonSignature, code: codes.InvalidSignature},
		{name: "deny/payload-swapped", token: parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(claimsJSON(t, c), "publish", "move", 1))) + "." + parts[2], now: okNow, want: exp, reason: ReasonSignature, code: codes.InvalidSignature},
		{name: "deny/unknown-claim", token: forge(k, hdr, strings.Replace(claimsJSON(t, c), `{"iss"`, `{"admin":true,"iss"`, 1)), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/duplicate-claim", token: forge(k, hdr, strings.Replace(claimsJSON(t, c), `{"iss"`, `{"act":"move","iss"`, 1)), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/missing-ledgerSeq", token: forge(k, hdr, strings.Replace(claimsJSON(t, c), `,"ledgerSeq":42`, ``, 1)), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/envelope-null", token: forge(k, hdr, strings.Replace(claimsJSON(t, c), `{"maxVelocityMps":0.5}`, `null`, 1)), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/iat-as-float", token: forge(k, hdr, strings.Replace(claimsJSON(t, c), `"iat":1763928000`, `"iat":1763928000.5`, 1)), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/tier-9", token: withClaims(func(c *Claims) { c.Tier = 9 }), now: okNow, want: exp, reason: ReasonMalformed, code: codes.MalformedToken},
		{name: "deny/wrong-issuer", token: good, now: okNow, want: withExpect(func(e *Expect) { e.Issuer = "gw-other" }), reason: ReasonIssuer, code: codes.UnknownIssuer},
		{name: "deny/lifetime-over-60s", token: withClaims(func(c *Claims) { c.ExpiresAt = c.IssuedAt + 3600 }), now: okNow, want: exp, reason: ReasonLifetime, code: codes.MalformedToken},
		{name: "deny/exp-before-iat", token: withClaims(func(c *Claims) { c.ExpiresAt = c.IssuedAt - 1 }), now: okNow, want: exp, reason: ReasonLifetime, code: codes.MalformedToken},
		{name: "deny/iat-in-future", token: good, now: time.Unix(c.IssuedAt-6, 0), want: exp, reason: ReasonNotYetValid, code: codes.TokenNotYetValid},
		{name: "deny/expired", token: good, now: time.Unix(c.ExpiresAt+5, 0), want: exp, reason: ReasonExpired, code: codes.TokenExpired},
		{name: "deny/other-agent", token: good, now: okNow, want: withExpect(func(e *Expect) { e.AgentID = strings.Repeat("0", 64) }), reason: ReasonMismatch, code: codes.InsufficientPermissions},
		{name: "deny/other-resource", token: good, now: okNow, want: withExpect(func(e *Expect) { e.Resource = "ros:///arm/joint_trajectory" }), reason: ReasonMismatch, code: codes.InsufficientPermissions},
		{name: "deny/other-action", token: good, now: okNow, want: withExpect(func(e *Expect) { e.Action = "move" }), reason: ReasonMismatch, code: codes.InsufficientPermissions},
		{name: "deny/other-params", token: good, now: okNow, want: withExpect(func(e *Expect) { e.ParamsHash = strings.Repeat("0", 64) }), reason: ReasonMismatch, code: codes.InsufficientPermissions},
		{name: "deny/no-params-expectation", token: good, now: okNow, want: withExpect(func(e *Expect) { e.ParamsHash = "" }), reason: ReasonNoExpectation, code: codes.InternalError},
		{name: "deny/no-expectation-at-all", token: good, now: okNow, want: Expect{}, reason: ReasonNoExpectation, code: codes.InternalError},
	}
}

func TestVerify(t *testing.T) {
	v := NewVerifier(goldenKey(t))
	for _, tc := range verifyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token, tc.now, tc.want)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got == nil || got.Subject != tc.want.AgentID {
					t.Fatalf("claims = %+v", got)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %s", tc.reason)
			}
			if got != nil {
				t.Errorf("claims returned with an error")
			}
			if r := ReasonOf(err); r != tc.reason {
				t.Errorf("reason = %q, want %q (%v)", r, tc.reason, err)
			}
			if c := codes.Of(err); c != tc.code {
				t.Errorf("code = %q, want %q", c, tc.code)
			}
			var ce *codes.Error
			if !errors.As(err, &ce) {
				t.Errorf("not a *codes.Error: %T", err)
			}
		})
	}
}

func TestVerifierSkew(t *testing.T) {
	k := goldenKey(t)
	c := goldenClaims()
	tok, _ := Sign(k, c)
	strict := NewVerifier(k).WithSkew(0)
	t.Run("deny/expired-at-exp-without-skew", func(t *testing.T) {
		_, err := strict.Verify(tok, time.Unix(c.ExpiresAt, 0), expectFor(c))
		if ReasonOf(err) != ReasonExpired {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("allow/one-second-before-exp-without-skew", func(t *testing.T) {
		if _, err := strict.Verify(tok, time.Unix(c.ExpiresAt-1, 0), expectFor(c)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAppendClaimsMatchesEncodingJSON checks the hand-written encoder against
// encoding/json on random claims: same JSON value, and Verify returns the
// claims that were signed.
func TestAppendClaimsMatchesEncodingJSON(t *testing.T) {
	k := goldenKey(t)
	v := NewVerifier(k)
	rapid.Check(t, func(rt *rapid.T) {
		str := rapid.StringN(1, 40, -1)
		iat := rapid.Int64Range(1, 1<<40).Draw(rt, "iat")
		c := Claims{
			Issuer: str.Draw(rt, "iss"), Subject: str.Draw(rt, "sub"), Audience: str.Draw(rt, "aud"),
			Action: str.Draw(rt, "act"), JTI: str.Draw(rt, "jti"), IssuedAt: iat,
			ExpiresAt: iat + rapid.Int64Range(1, 60).Draw(rt, "life"), TokenID: str.Draw(rt, "tokenId"),
			Tier: rapid.IntRange(1, 5).Draw(rt, "tier"), ParamsHash: EmptyParamsHash,
			Envelope:   json.RawMessage(`{"maxVelocityMps":` + rapid.SampledFrom([]string{"0.5", "1e3", "-0", "12"}).Draw(rt, "env") + `}`),
			PolicyHash: str.Draw(rt, "policyHash"), LedgerSeq: rapid.Uint64Min(1).Draw(rt, "seq"),
		}
		got, err := appendClaims(nil, &c)
		if err != nil {
			rt.Fatal(err)
		}
		want, _ := json.Marshal(c)
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			rt.Fatalf("hand-built JSON invalid: %v: %s", err, got)
		}
		json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			rt.Fatalf("hand-built %s\nencoding/json %s", got, want)
		}
		tok, err := Sign(k, c)
		if err != nil {
			rt.Fatal(err)
		}
		back, err := v.Verify(tok, time.Unix(iat, 0), expectFor(c))
		if err != nil {
			rt.Fatal(err)
		}
		if !reflect.DeepEqual(*back, c) {
			rt.Fatalf("round trip\n got %+v\nwant %+v", *back, c)
		}
	})
}

func TestParamsHash(t *testing.T) {
	cases := []struct {
		name, params, want string
		code               codes.Code
	}{
		{name: "absent", params: "", want: EmptyParamsHash},
		{name: "whitespace", params: " \n", want: EmptyParamsHash},
		{name: "null", params: "null", want: EmptyParamsHash},
		{name: "empty-object", params: "{}", want: EmptyParamsHash},
		// JCS sorts members and drops whitespace: both spell the same value.
		{name: "order-and-space-insensitive", params: `{ "b":1, "a":[1.0, "x"] }`, want: mustHash(t, `{"a":[1,"x"],"b":1}`)},
		{name: "number-forms", params: `{"v":1e0}`, want: mustHash(t, `{"v":1}`)},
		{name: "invalid-json", params: `{"a":`, code: codes.MalformedRequest},
		{name: "duplicate-member", params: `{"a":1,"a":2}`, code: codes.MalformedRequest},
		// Found by FuzzParamsHash: \f is not JSON whitespace.
		{name: "form-feed-is-not-json-whitespace", params: "0\f", code: codes.MalformedRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamsHash(json.RawMessage(tc.params))
			if tc.code != "" {
				if codes.Of(err) != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParamsHash = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
	if EmptyParamsHash != "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
		t.Errorf("EmptyParamsHash = %s", EmptyParamsHash)
	}
}

func mustHash(t *testing.T, s string) string {
	t.Helper()
	h, err := ParamsHash(json.RawMessage(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
