package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sintgate/sintgate/tokens"
)

// tokRunCLI runs sintctl with args, with every flag of the offline token and
// keys commands reset, and returns stdout and the exit code.
func tokRunCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return tokRunCLIErr(t, new(bytes.Buffer), args...)
}

// tokRunCLIErr is tokRunCLI with the command's stderr written to errOut.
func tokRunCLIErr(t *testing.T, errOut *bytes.Buffer, args ...string) (string, int) {
	t.Helper()
	for _, c := range []*cobra.Command{keysGenCmd, tokenIssueCmd, tokenDelegateCmd, tokenInspectCmd} {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				_ = sv.Replace(nil)
			} else {
				_ = f.Value.Set(f.DefValue)
			}
			f.Changed = false
		})
	}
	flagOutput = "text"
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(errOut)
	rootCmd.SetArgs(args)
	err := rootCmd.Execute()
	code := exitOK
	if err != nil {
		code = exitLocal
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String(), code
}

func TestTokenIssueDelegateInspect(t *testing.T) {
	dir := t.TempDir()
	root := genKey(t, dir, "root")
	alice := genKey(t, dir, "alice")
	bob := genKey(t, dir, "bob")
	key := func(n string) string { return filepath.Join(dir, n+".key") }
	fixed := time.UnixMilli(1_763_928_000_000)
	tokNow = func() time.Time { return fixed }
	t.Cleanup(func() { tokNow = time.Now })

	jsonFile := filepath.Join(dir, "root.json")
	out, code := tokRunCLI(t, "token", "issue", "--key", key("root"), "--subject", alice, "--resource", "ros:///arm/**",
		"--actions", "publish,call", "--tier", "3", "--ttl", "24h", "--constraints", `{"maxVelocityMps":1}`, "--json", jsonFile)
	if code != exitOK {
		t.Fatalf("issue exit %d", code)
	}
	rootJWS := strings.TrimSpace(out)
	rt, err := tokens.Parse(rootJWS)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Claims.Issuer != root || rt.Claims.Subject != alice || rt.Claims.Tier != 3 || *rt.Claims.Constraints.MaxVelocityMps != 1 ||
		rt.Claims.ExpiresAt-rt.Claims.IssuedAt != 24*3600*1000 || rt.Claims.IssuedAt != fixed.UnixMilli() {
		t.Fatalf("issued claims %+v", rt.Claims)
	}
	var written tokenResult
	if b, err := os.ReadFile(jsonFile); err != nil || json.Unmarshal(b, &written) != nil || written.Token != rootJWS {
		t.Fatalf("--json file does not hold the token: %v", err)
	}
	rootFile := filepath.Join(dir, "root.jws")
	os.WriteFile(rootFile, []byte(rootJWS+"\n"), 0o644)
	rootsFile := filepath.Join(dir, "roots.json")
	os.WriteFile(rootsFile, []byte(`["`+root+`"]`), 0o644)

	t.Run("issue/invalid-tier", func(t *testing.T) {
		_, code := tokRunCLI(t, "token", "issue", "--key", key("root"), "--subject", alice, "--resource", "ros:///**",
			"--actions", "publish", "--tier", "9")
		if code != exitLocal {
			t.Fatalf("exit %d", code)
		}
	})

	var childJWS string
	t.Run("delegate/narrower", func(t *testing.T) {
		out, code := tokRunCLI(t, "token", "delegate", "--parent", "@"+rootFile, "--key", key("alice"), "--subject", bob,
			"--resource", "ros:///arm/joint1", "--actions", "call", "-o", "json")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, out)
		}
		var r tokenResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		childJWS = r.Token
		c := r.Claims
		if c.Issuer != alice || c.Subject != bob || *c.ParentTokenID != rt.Claims.TokenID || c.ExpiresAt != rt.Claims.ExpiresAt ||
			*c.Constraints.MaxVelocityMps != 1 || len(c.DelegationChain) != 2 {
			t.Fatalf("child claims %+v", c)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"delegate/deny/wider-velocity", []string{"--constraints", `{"maxVelocityMps":2}`}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/drop-velocity", []string{"--constraints", `{"maxVelocityMps":null}`}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/longer-ttl", []string{"--ttl", "48h"}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/wider-resource", []string{"--resource", "ros:///**"}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/new-action", []string{"--actions", "publish,estop"}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/higher-tier", []string{"--tier", "4"}, "CONSTRAINT_VIOLATION"},
		{"delegate/deny/not-the-subject", []string{"--key", key("bob")}, "INVALID_CHAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"token", "delegate", "--parent", "@" + rootFile, "--key", key("alice"), "--subject", bob, "-o", "json"}, tc.args...)
			out, code := tokRunCLI(t, args...)
			if code != exitDeny {
				t.Fatalf("exit %d, want 3", code)
			}
			var body struct{ Error struct{ Code string } }
			if err := json.Unmarshal([]byte(out), &body); err != nil || body.Error.Code != tc.code {
				t.Fatalf("output %q, want code %s", out, tc.code)
			}
		})
	}
	t.Run("delegate/deny/expired-parent", func(t *testing.T) {
		tokNow = func() time.Time { return fixed.Add(25 * time.Hour) }
		defer func() { tokNow = func() time.Time { return fixed } }()
		_, code := tokRunCLI(t, "token", "delegate", "--parent", "@"+rootFile, "--key", key("alice"), "--subject", bob)
		if code != exitDeny {
			t.Fatalf("exit %d", code)
		}
	})

	inspect := func(args ...string) (inspectResult, int) {
		out, code := tokRunCLI(t, append([]string{"token", "inspect", "-o", "json"}, args...)...)
		var r inspectResult
		_ = json.Unmarshal([]byte(out), &r)
		return r, code
	}
	t.Run("inspect/chain-ok", func(t *testing.T) {
		r, code := inspect(childJWS, "--roots", rootsFile, "--chain", rootJWS)
		if code != exitOK || r.Verdict != "OK" || !r.ChainVerified || r.Depth != 1 {
			t.Fatalf("exit %d %+v", code, r)
		}
	})
	t.Run("inspect/no-roots-unverified", func(t *testing.T) {
		r, code := inspect(childJWS)
		if code != exitOK || r.Verdict != "UNVERIFIED" || !r.SignatureValid {
			t.Fatalf("exit %d %+v", code, r)
		}
	})
	t.Run("inspect/deny/missing-parent", func(t *testing.T) {
		r, code := inspect(childJWS, "--roots", rootsFile)
		if code != exitDeny || r.Verdict != "TOKEN_NOT_FOUND" {
			t.Fatalf("exit %d %+v", code, r)
		}
	})
	t.Run("inspect/deny/unknown-root", func(t *testing.T) {
		other := filepath.Join(dir, "other-roots.txt")
		os.WriteFile(other, []byte("# none of ours\n"+alice+"\n"), 0o644)
		r, code := inspect(childJWS, "--roots", other, "--chain", rootJWS)
		if code != exitDeny || r.Verdict != "UNKNOWN_ISSUER" {
			t.Fatalf("exit %d %+v", code, r)
		}
	})
	t.Run("inspect/deny/expired", func(t *testing.T) {
		tokNow = func() time.Time { return fixed.Add(25 * time.Hour) }
		defer func() { tokNow = func() time.Time { return fixed } }()
		r, code := inspect(rootJWS)
		if code != exitDeny || r.Verdict != "TOKEN_EXPIRED" {
			t.Fatalf("exit %d %+v", code, r)
		}
	})
	t.Run("inspect/deny/tampered", func(t *testing.T) {
		parts := strings.Split(rootJWS, ".")
		payload := parts[1]
		mid := len(payload) / 2
		c := byte('A')
		if payload[mid] == 'A' {
			c = 'B'
		}
		tampered := parts[0] + "." + payload[:mid] + string(c) + payload[mid+1:] + "." + parts[2]
		_, code := tokRunCLI(t, "token", "inspect", tampered)
		if code != exitDeny {
			t.Fatalf("exit %d", code)
		}
	})
	t.Run("inspect/text", func(t *testing.T) {
		out, code := tokRunCLI(t, "token", "inspect", childJWS, "--roots", rootsFile, "--chain", rootJWS)
		if code != exitOK || !strings.Contains(out, "verdict     OK") || !strings.Contains(out, "resource    ros:///arm/joint1") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}
