package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
)

// ledgerFixture writes an export of n entries, a checkpoint over the first
// cpSize entries and a JWKS into a temp dir.
func ledgerFixture(t *testing.T, n, cpSize int) (export, cpFile, jwksFile string, lines [][]byte) {
	t.Helper()
	dir := t.TempDir()
	s, err := filestore.Open(filepath.Join(dir, "store"), filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	signer, err := ledger.NewEd25519Signer("gw-1", "k1", priv)
	if err != nil {
		t.Fatal(err)
	}
	var cp ledger.Checkpoint
	for i := 0; i < n; i++ {
		if _, err := s.Append(ctx, ledger.Event{EventType: "policy.evaluated", AgentID: "a", Payload: map[string]int{"i": i}}); err != nil {
			t.Fatal(err)
		}
		if i+1 == cpSize {
			root, _ := s.TreeHash(ctx, uint64(cpSize))
			if cp, err = ledger.SignCheckpoint(signer, uint64(cpSize), root, time.Unix(0, 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	export = filepath.Join(dir, "export.ndjson")
	os.WriteFile(export, buf.Bytes(), 0o600)
	cb, _ := json.Marshal(map[string]any{"checkpoint": cp})
	cpFile = filepath.Join(dir, "cp.json")
	os.WriteFile(cpFile, cb, 0o600)
	pub := priv.Public().(ed25519.PublicKey)
	jwksFile = filepath.Join(dir, "jwks.json")
	os.WriteFile(jwksFile, []byte(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(pub))), 0o600)
	return export, cpFile, jwksFile, bytes.SplitAfter(buf.Bytes(), []byte("\n"))
}

func runSintctl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	rootCmd.SetArgs(args)
	// Reset flags that persist between Execute calls.
	ledgerVerifyCheckpoint, ledgerVerifyJWKS, ledgerVerifyOrigin, flagOutput = "", "", "", "text"
	err := rootCmd.Execute()
	code := exitOK
	if err != nil {
		code = exitLocal
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		out.WriteString("error: " + err.Error())
	}
	return out.String(), code
}

func TestLedgerVerify(t *testing.T) {
	export, cp, jwks, lines := ledgerFixture(t, 50, 40)
	tampered := filepath.Join(t.TempDir(), "tampered.ndjson")
	bad := bytes.Join(lines, nil)
	i := bytes.Index(bad, []byte(`"i":30}`))
	bad[i+4] = '7' // entry 31: payload edited, hash left alone
	os.WriteFile(tampered, bad, 0o600)
	short := filepath.Join(t.TempDir(), "short.ndjson")
	os.WriteFile(short, bytes.Join(lines[:30], nil), 0o600)
	otherJWKS := filepath.Join(t.TempDir(), "other.json")
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)).Public().(ed25519.PublicKey)
	os.WriteFile(otherJWKS, []byte(fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q}]}`,
		base64.RawURLEncoding.EncodeToString(other))), 0o600)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"ok/chain", []string{"ledger", "verify", "-q", export}, exitOK, "valid: 50 entries"},
		{"ok/with-checkpoint", []string{"ledger", "verify", "-q", "--checkpoint", cp, "--jwks", jwks, export}, exitOK, "checkpoint: valid"},
		{"ok/json", []string{"ledger", "verify", "-q", "-o", "json", export}, exitOK, `"valid": true`},
		{"deny/tampered-entry", []string{"ledger", "verify", "-q", tampered}, exitInvalid, "INVALID at sequence 31"},
		{"deny/checkpoint-beyond-export", []string{"ledger", "verify", "-q", "--checkpoint", cp, "--jwks", jwks, short}, exitInvalid, "covers 40 entries"},
		{"deny/checkpoint-wrong-key", []string{"ledger", "verify", "-q", "--checkpoint", cp, "--jwks", otherJWKS, export}, exitInvalid, "checkpoint: INVALID"},
		{"deny/checkpoint-wrong-origin", []string{"ledger", "verify", "-q", "--origin", "sintgate/gw-2", "--checkpoint", cp, "--jwks", jwks, export}, exitInvalid, "checkpoint: INVALID"},
		{"usage/checkpoint-without-jwks", []string{"ledger", "verify", "--checkpoint", cp, export}, exitLocal, "go together"},
		{"usage/missing-file", []string{"ledger", "verify", "/nonexistent"}, exitLocal, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runSintctl(t, tc.args...)
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d), output:\n%s", code, tc.code, out)
			}
		})
	}
}
