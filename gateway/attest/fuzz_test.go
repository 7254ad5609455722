package attest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/codes"
)

// FuzzVerify feeds arbitrary attestations to the verifier. Seeds: every
// token of the verifier table (testdata/fuzz/FuzzVerify holds the same as
// files). Whatever the input, Verify must not panic, must return either
// claims or a *codes.Error with a known reason, and an accepted attestation
// must satisfy every invariant the verifier promises.
func FuzzVerify(f *testing.F) {
	for _, tc := range verifyCases(f) {
		f.Add(tc.token, tc.now.Unix())
	}
	v := NewVerifier(goldenKey(f))
	want := expectFor(goldenClaims())
	f.Fuzz(func(t *testing.T, token string, nowS int64) {
		c, err := v.Verify(token, time.Unix(nowS, 0), want)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if ReasonOf(err) == "" || codes.Of(err) == "" {
				t.Fatalf("error without reason or code: %v", err)
			}
			return
		}
		if c.Subject != want.AgentID || c.Audience != want.Resource || c.Action != want.Action ||
			c.ParamsHash != want.ParamsHash || c.Issuer != want.Issuer {
			t.Fatalf("accepted a mismatching attestation: %+v", c)
		}
		if c.ExpiresAt <= c.IssuedAt || c.ExpiresAt-c.IssuedAt > MaxLifetimeSeconds ||
			c.IssuedAt > nowS+5 || nowS >= c.ExpiresAt+5 {
			t.Fatalf("accepted an attestation outside its validity: %+v at %d", c, nowS)
		}
		if !json.Valid(c.Envelope) || c.Envelope[0] != '{' {
			t.Fatalf("accepted envelope %q", c.Envelope)
		}
	})
}

// FuzzVerifyTamper changes one byte of a valid attestation: the result must
// never verify (strict base64url makes every encoding unique).
func FuzzVerifyTamper(f *testing.F) {
	k := goldenKey(f)
	c := goldenClaims()
	good, err := Sign(k, c)
	if err != nil {
		f.Fatal(err)
	}
	for _, i := range []uint16{0, 10, 90, 200, uint16(len(good) - 1), uint16(len(good) - 40)} {
		f.Add(i, byte(1))
	}
	v := NewVerifier(k)
	now := time.Unix(c.IssuedAt+1, 0)
	f.Fuzz(func(t *testing.T, pos uint16, xor byte) {
		if xor == 0 {
			return
		}
		b := []byte(good)
		b[int(pos)%len(b)] ^= xor
		if _, err := v.Verify(string(b), now, expectFor(c)); err == nil {
			t.Fatalf("tampered attestation verified: byte %d ^ %#x", int(pos)%len(b), xor)
		}
	})
}

// FuzzParseJWKS: no panic; every accepted key is a 32-byte Ed25519 key with
// a unique, non-empty kid.
func FuzzParseJWKS(f *testing.F) {
	ks, _ := NewKeyset("gw", goldenKey(f))
	f.Add(ks.JWKS(t0))
	f.Add([]byte(`{"keys":[{"kty":"RSA"},{"kty":"OKP","crv":"Ed25519","x":"ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ","kid":"a"}]}`))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := ParseJWKS(doc)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if len(k.Public) != 32 || k.KID == "" || seen[k.KID] || k.Private != nil {
				t.Fatalf("bad key %+v", k)
			}
			seen[k.KID] = true
		}
	})
}

// FuzzParamsHash: no panic; hashing is canonical (the hash of the canonical
// form equals the hash of the input) and never accepts invalid JSON.
func FuzzParamsHash(f *testing.F) {
	for _, s := range []string{"", "null", "{}", `{"b":1,"a":[1.0,"x"]}`, `{"a":1,"a":2}`, `"\u00e9"`, `[1e400]`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, err := ParamsHash(p)
		if err != nil {
			if codes.Of(err) != codes.MalformedRequest {
				t.Fatalf("code %s", codes.Of(err))
			}
			return
		}
		if !isHash(h) {
			t.Fatalf("hash %q", h)
		}
		trimmed := strings.Trim(string(p), jsonSpace)
		if trimmed != "" && trimmed != "null" && !json.Valid(p) {
			t.Fatalf("hashed invalid JSON %q", p)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzVerify from the table
// when SINT_WRITE_CORPUS=1.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SINT_WRITE_CORPUS") != "1" {
		t.Skip("set SINT_WRITE_CORPUS=1 to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range verifyCases(t) {
		if len(tc.token) > 4096 {
			continue
		}
		name := strings.ReplaceAll(tc.name, "/", "-")
		data := fmt.Sprintf("go test fuzz v1\nstring(%q)\nint64(%d)\n", tc.token, tc.now.Unix())
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
