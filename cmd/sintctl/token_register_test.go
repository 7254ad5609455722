package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenRegisterArgForms guards issue 19 §5: "token register agent.jws"
// (a path, no @) was sent as the token and refused as "not a compact JWS".
// A path to an existing file is read like @FILE; anything else that is not a
// compact JWS is a local error saying what to pass, and nothing is sent.
func TestTokenRegisterArgForms(t *testing.T) {
	const jws = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.jws")
	if err := os.WriteFile(file, []byte(jws+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.jws")
	if err := os.WriteFile(junk, []byte("not a token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, arg, wantErr string
	}{
		{"path-without-at", file, ""},
		{"at-file", "@" + file, ""},
		{"inline", jws, ""},
		{"missing-file-says-what-to-pass", filepath.Join(dir, "nope.jws"), "neither a compact JWS"},
		{"file-without-jws", junk, "does not hold a compact JWS"},
		{"at-missing-file", "@" + filepath.Join(dir, "nope.jws"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, seen := fakeOperatorGateway(t, `{"tokenId":"tok-1"}`)
			err := runCLI(t, "--url", srv.URL, "--api-key", "sk_a_b", "token", "register", tc.arg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(*seen) != 1 || (*seen)[0] != `POST /v1/tokens {"token":"`+jws+`"}` {
					t.Fatalf("requests %q", *seen)
				}
				return
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != exitLocal || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want a local error containing %q", err, tc.wantErr)
			}
			if len(*seen) != 0 {
				t.Fatalf("sent %q for an unreadable token", *seen)
			}
		})
	}
}
