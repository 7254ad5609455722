package attest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// refParseClaims is the straightforward encoding/json reading of a payload
// that parseClaims replaces for speed; FuzzParseClaims checks they agree.
func refParseClaims(pb []byte) (*Claims, error) {
	if err := refNoDuplicates(pb); err != nil {
		return nil, err
	}
	var p struct {
		Issuer     *string         `json:"iss"`
		Subject    *string         `json:"sub"`
		Audience   *string         `json:"aud"`
		Action     *string         `json:"act"`
		JTI        *string         `json:"jti"`
		IssuedAt   *int64          `json:"iat"`
		ExpiresAt  *int64          `json:"exp"`
		TokenID    *string         `json:"tokenId"`
		Tier       *int            `json:"tier"`
		ParamsHash *string         `json:"paramsHash"`
		Envelope   json.RawMessage `json:"envelope"`
		PolicyHash *string         `json:"policyHash"`
		LedgerSeq  *uint64         `json:"ledgerSeq"`
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	if p.Issuer == nil || p.Subject == nil || p.Audience == nil || p.Action == nil || p.JTI == nil ||
		p.IssuedAt == nil || p.ExpiresAt == nil || p.TokenID == nil || p.Tier == nil || p.ParamsHash == nil ||
		len(p.Envelope) == 0 || p.Envelope[0] != '{' || p.PolicyHash == nil || p.LedgerSeq == nil {
		return nil, errors.New("missing")
	}
	c := &Claims{Issuer: *p.Issuer, Subject: *p.Subject, Audience: *p.Audience, Action: *p.Action,
		JTI: *p.JTI, IssuedAt: *p.IssuedAt, ExpiresAt: *p.ExpiresAt, TokenID: *p.TokenID, Tier: *p.Tier,
		ParamsHash: *p.ParamsHash, Envelope: p.Envelope, PolicyHash: *p.PolicyHash, LedgerSeq: *p.LedgerSeq}
	if msg := c.check(); msg != "" && !strings.HasPrefix(msg, "exp ") {
		return nil, errors.New(msg)
	}
	return c, nil
}

func refNoDuplicates(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := t.(string)
		if seen[k] {
			return fmt.Errorf("duplicate %q", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

func TestForEachMember(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // name=raw pairs; nil means error
	}{
		{"ok/flat", `{"a":1,"b":"x"}`, []string{"a=1", `b="x"`}},
		{"ok/spaces", " {\n \"a\" : [1, {\"b\":\"}\"}] ,\t\"c\":null } ", []string{`a=[1, {"b":"}"}]`, "c=null"}},
		{"ok/escaped-name", `{"\u0061":true}`, []string{"a=true"}},
		{"ok/escaped-quote-in-value", `{"a":"x\"}y","b":2}`, []string{`a="x\"}y"`, "b=2"}},
		{"ok/empty", `{}`, []string{}},
		{"err/duplicate", `{"a":1,"a":2}`, nil},
		{"err/duplicate-escaped", `{"a":1,"\u0061":2}`, nil},
		{"err/array", `[1]`, nil},
		{"err/invalid", `{"a":}`, nil},
		{"err/trailing", `{"a":1} x`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := []string{}
			err := forEachMember([]byte(tc.in), func(n string, raw []byte) error {
				got = append(got, n+"="+string(raw))
				return nil
			})
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted: %v", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// FuzzParseClaims checks the one-pass claims reader against encoding/json:
// same accept/reject decision, and the same claims for valid UTF-8 input.
func FuzzParseClaims(f *testing.F) {
	good, _ := json.Marshal(goldenClaims())
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"tier":2`), []byte(`"tier":2.0`), 1))
	f.Add(bytes.Replace(good, []byte(`"tier":2`), []byte(`"tier":2,"tier":3`), 1))
	f.Add(bytes.Replace(good, []byte(`"iss":"gw-test"`), []byte(`"iss":"gw-\u0074est"`), 1))
	f.Add(bytes.Replace(good, []byte(`"ledgerSeq":42`), []byte(`"ledgerSeq":-1`), 1))
	f.Add(bytes.Replace(good, []byte(`"ledgerSeq":42`), []byte(`"ledgerSeq":1e2`), 1))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, pb []byte) {
		got, err1 := parseClaims(pb)
		want, err2 := refParseClaims(pb)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("parseClaims err %v, encoding/json err %v, input %q", err1, err2, pb)
		}
		if err1 == nil && utf8.Valid(pb) && !reflect.DeepEqual(got, want) {
			t.Fatalf("claims differ\n got %+v\nwant %+v", got, want)
		}
	})
}
