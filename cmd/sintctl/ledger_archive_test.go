package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sintgate/sintgate/internal/testenv"
	"github.com/sintgate/sintgate/ledger"
	"github.com/sintgate/sintgate/ledger/filestore"
	"github.com/sintgate/sintgate/ledger/ledgertest"
	"github.com/sintgate/sintgate/ledger/pgledger"
)

// TestLedgerArchive archives a stopped store with sintctl, then checks that
// an export of the store (read across the archive boundary) still passes
// `sintctl ledger verify` against the signed checkpoint.
func TestLedgerArchive(t *testing.T) {
	ctx := context.Background()
	signer, pub := ledgertest.Signer(t)
	dir, arch := t.TempDir(), t.TempDir()
	cp, err := filestore.Generate(ctx, dir, 1200, filestore.GenOptions{Signer: signer, CheckpointEvery: 500})
	if err != nil {
		t.Fatal(err)
	}
	out, code := runSintctl(t, "ledger", "archive", "--store", dir, "--to", arch)
	if code != exitOK || !strings.Contains(out, "archived entries 1..1024") {
		t.Fatalf("archive: %d %s", code, out)
	}
	s, err := filestore.Open(dir, filestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = s.Export(ctx, &buf, 0, 0, nil)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	export, cpFile, jwksFile := filepath.Join(tmp, "export.ndjson"), filepath.Join(tmp, "cp.json"), filepath.Join(tmp, "jwks.json")
	os.WriteFile(export, buf.Bytes(), 0o600)
	cpJSON, _ := ledger.CanonicalPayload(cp)
	os.WriteFile(cpFile, cpJSON, 0o600)
	jwks, _ := ledger.CanonicalPayload(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": cp.KID, "x": base64.RawURLEncoding.EncodeToString(pub)}}})
	os.WriteFile(jwksFile, jwks, 0o600)
	if out, code := runSintctl(t, "ledger", "verify", "-q", export, "--checkpoint", cpFile, "--jwks", jwksFile); code != exitOK {
		t.Fatalf("verify across the archive boundary: %d %s", code, out)
	}
}

// TestLedgerArchivePostgres archives a PostgreSQL ledger with sintctl
// (rows removed), then checks that an export read across the boundary
// still passes `sintctl ledger verify` against the signed checkpoint.
func TestLedgerArchivePostgres(t *testing.T) {
	ctx := context.Background()
	url := testenv.FreshPGDatabase(t)
	if url == "" {
		t.Skip("no PostgreSQL")
	}
	signer, pub := ledgertest.Signer(t)
	c := &ledgertest.Clock{}
	s, err := pgledger.Open(ctx, url, pgledger.Options{Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := make([]ledger.Event, 600)
	for i := range evs {
		evs[i] = ledger.Event{EventType: "decision.allow", AgentID: "a", Payload: map[string]any{"i": i}}
	}
	if _, _, err := s.AppendBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	cp, err := (&ledger.Ledger{Store: s, Now: c.Now}).Checkpoint(ctx, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AppendBatch(ctx, evs[:3]); err != nil {
		t.Fatal(err)
	}
	arch := t.TempDir()
	out, code := runSintctl(t, "ledger", "archive", "--store", url, "--to", arch)
	if code != exitOK || !strings.Contains(out, "archived entries 1..512") || !strings.Contains(out, "through 512: 512)") {
		t.Fatalf("archive: %d %s", code, out)
	}
	var buf bytes.Buffer
	if err := s.Export(ctx, &buf, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	export, cpFile, jwksFile := filepath.Join(tmp, "export.ndjson"), filepath.Join(tmp, "cp.json"), filepath.Join(tmp, "jwks.json")
	os.WriteFile(export, buf.Bytes(), 0o600)
	cpJSON, _ := ledger.CanonicalPayload(cp)
	os.WriteFile(cpFile, cpJSON, 0o600)
	jwks, _ := ledger.CanonicalPayload(map[string]any{"keys": []map[string]string{{"kty": "OKP", "crv": "Ed25519", "kid": cp.KID, "x": base64.RawURLEncoding.EncodeToString(pub)}}})
	os.WriteFile(jwksFile, jwks, 0o600)
	if out, code := runSintctl(t, "ledger", "verify", "-q", export, "--checkpoint", cpFile, "--jwks", jwksFile); code != exitOK {
		t.Fatalf("verify across the archive boundary: %d %s", code, out)
	}
}
