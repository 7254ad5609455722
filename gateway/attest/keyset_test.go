package attest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

var t0 = time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway-keys.json")

	ks, err := LoadOrCreate(path, "gw-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	a := ks.Active()
	if a.KID != KeyID(a.Public) || len(a.Private) != ed25519.PrivateKeySize || !a.CreatedAt.Equal(t0) {
		t.Fatalf("active key = %+v", a)
	}

	t.Run("reload/same-key", func(t *testing.T) {
		again, err := LoadOrCreate(path, "gw-1", t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if again.Active().KID != a.KID || !bytes.Equal(again.Active().Private, a.Private) {
			t.Fatal("a second LoadOrCreate made a new key")
		}
	})
	t.Run("reload/empty-gateway-id-accepts-stored", func(t *testing.T) {
		again, err := LoadOrCreate(path, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		if again.GatewayID() != "gw-1" {
			t.Fatalf("gateway id = %q", again.GatewayID())
		}
	})
	t.Run("reject/other-gateway-id", func(t *testing.T) {
		if _, err := LoadOrCreate(path, "gw-2", t0); err == nil {
			t.Fatal("loaded another gateway's keys")
		}
	})
	t.Run("reject/group-readable-file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "k.json")
		data, _ := os.ReadFile(path)
		if err := os.WriteFile(p, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreate(p, "gw-1", t0); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("reject/new-without-gateway-id", func(t *testing.T) {
		if _, err := LoadOrCreate(filepath.Join(t.TempDir(), "k.json"), "", t0); err == nil {
			t.Fatal("created a keyset without a gateway id")
		}
	})
	t.Run("reject/missing-directory", func(t *testing.T) {
		if _, err := LoadOrCreate(filepath.Join(t.TempDir(), "nope", "k.json"), "gw", t0); err == nil {
			t.Fatal("created a keyset in a missing directory")
		}
	})
	t.Run("reject/retention-below-24h", func(t *testing.T) {
		if _, err := LoadOrCreate(path, "gw-1", t0, WithRetention(23*time.Hour)); err == nil {
			t.Fatal("accepted a retention below 24 h")
		}
	})
}

func TestKeysetFileCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	ks, err := LoadOrCreate(path, "gw-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	var f map[string]any
	json.Unmarshal(good, &f)
	keys := f["keys"].([]any)
	k0 := keys[0].(map[string]any)
	k1 := keys[1].(map[string]any)

	mutate := func(fn func(f map[string]any)) []byte {
		var c map[string]any
		json.Unmarshal(good, &c)
		fn(c)
		b, _ := json.Marshal(c)
		return b
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"not-json", []byte("{")},
		{"unknown-field", mutate(func(c map[string]any) { c["extra"] = 1 })},
		{"version-2", mutate(func(c map[string]any) { c["version"] = 2 })},
		{"no-keys", mutate(func(c map[string]any) { c["keys"] = []any{} })},
		{"empty-gateway-id", mutate(func(c map[string]any) { c["gatewayId"] = "" })},
		{"seed-not-hex", mutate(func(c map[string]any) {
			c["keys"] = []any{map[string]any{"kid": k0["kid"], "publicKey": k0["publicKey"], "seed": "zz", "createdAt": 1}}
		})},
		{"kid-does-not-match-seed", mutate(func(c map[string]any) {
			c["keys"] = []any{map[string]any{"kid": k1["kid"], "publicKey": k0["publicKey"], "seed": k0["seed"], "createdAt": 1}}
		})},
		{"active-key-retired", mutate(func(c map[string]any) { c["keys"] = []any{k1} })},
		{"two-active-keys", mutate(func(c map[string]any) {
			c["keys"] = []any{k0, map[string]any{"kid": k1["kid"], "publicKey": k1["publicKey"], "seed": k1["seed"], "createdAt": 1}}
		})},
		{"duplicate-kid", mutate(func(c map[string]any) { c["keys"] = []any{k0, k0} })},
	}
	for _, tc := range cases {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadOrCreate(p, "gw-1", t0); err == nil {
				t.Fatalf("loaded a bad keyset file:\n%s", tc.data)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	ks, err := LoadOrCreate(path, "gw-1", t0, WithRetention(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first := ks.Active()
	firstTok, err := Sign(first, goldenClaims())
	if err != nil {
		t.Fatal(err)
	}

	rot := t0.Add(time.Hour)
	kid2, err := ks.Rotate(rot)
	if err != nil {
		t.Fatal(err)
	}
	if kid2 == first.KID || ks.Active().KID != kid2 {
		t.Fatalf("rotate returned %s, active %s, old %s", kid2, ks.Active().KID, first.KID)
	}
	if _, ok := ks.PublicKey(first.KID); !ok {
		t.Error("the superseded key is not found by PublicKey")
	}
	if _, ok := ks.PublicKey("nope"); ok {
		t.Error("PublicKey found an unknown kid")
	}

	t.Run("jwks/keeps-superseded-key-within-retention", func(t *testing.T) {
		v, err := NewVerifierFromJWKS(ks.JWKS(rot.Add(47 * time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if len(v.KIDs()) != 2 {
			t.Fatalf("kids = %v", v.KIDs())
		}
		c := goldenClaims()
		if _, err := v.Verify(firstTok, time.Unix(c.IssuedAt, 0), expectFor(c)); err != nil {
			t.Fatalf("attestation of the superseded key: %v", err)
		}
	})
	t.Run("jwks/drops-superseded-key-after-retention", func(t *testing.T) {
		v, err := NewVerifierFromJWKS(ks.JWKS(rot.Add(48 * time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if kids := v.KIDs(); len(kids) != 1 || kids[0] != kid2 {
			t.Fatalf("kids = %v", kids)
		}
	})
	t.Run("file/persisted", func(t *testing.T) {
		again, err := LoadOrCreate(path, "gw-1", rot)
		if err != nil {
			t.Fatal(err)
		}
		keys := again.Keys()
		if len(keys) != 2 || keys[0].KID != kid2 || keys[1].KID != first.KID || !keys[1].RetiredAt.Equal(rot) {
			t.Fatalf("keys after reload = %+v", keys)
		}
	})
	t.Run("rotate/prunes-expired-keys", func(t *testing.T) {
		later := rot.Add(49 * time.Hour)
		kid3, err := ks.Rotate(later)
		if err != nil {
			t.Fatal(err)
		}
		keys := ks.Keys()
		if len(keys) != 2 || keys[0].KID != kid3 || keys[1].KID != kid2 {
			t.Fatalf("keys = %v", kidsOf(keys))
		}
	})
	t.Run("reload/sees-rotation-by-another-process", func(t *testing.T) {
		other, err := LoadOrCreate(path, "gw-1", t0)
		if err != nil {
			t.Fatal(err)
		}
		kid, err := other.Rotate(rot.Add(50 * time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ks.Active().KID == kid {
			t.Fatal("in-memory keyset changed without Reload")
		}
		if err := ks.Reload(); err != nil {
			t.Fatal(err)
		}
		if ks.Active().KID != kid {
			t.Fatalf("after Reload active = %s, want %s", ks.Active().KID, kid)
		}
	})
}

func kidsOf(keys []Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.KID)
	}
	return out
}

func TestRotateFailureLeavesKeysetUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.json")
	ks, err := LoadOrCreate(path, "gw-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	before := ks.Active().KID
	// Move the directory away so the temporary file cannot be created. (A
	// read-only directory would not do: root, which CI runs as, writes
	// into it anyway, and the test used to skip itself there.)
	if err := os.Rename(dir, dir+"-moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Rotate(t0.Add(time.Hour)); err == nil {
		t.Fatal("rotate succeeded without its directory")
	}
	if ks.Active().KID != before {
		t.Fatal("a failed rotation changed the active key")
	}
}

func TestJWKSFormat(t *testing.T) {
	k := goldenKey(t)
	ks, err := NewKeyset("gw", k)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7517 / RFC 8037: OKP, Ed25519, x = base64url(pub), plus kid, use, alg.
	want := `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ","kid":"65b60673d6ed884b","use":"sig","alg":"EdDSA"}]}`
	if got := string(ks.JWKS(t0)); got != want {
		t.Errorf("JWKS\n got %s\nwant %s", got, want)
	}
}

func TestParseJWKS(t *testing.T) {
	k := goldenKey(t)
	x := `"x":"ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"`
	cases := []struct {
		name string
		doc  string
		kids int // -1: error
	}{
		{"accept/minimal", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a"}]}`, 1},
		{"accept/skips-rsa-and-x25519", `{"keys":[{"kty":"RSA","n":"x","e":"AQAB","kid":"r"},{"kty":"OKP","crv":"X25519",` + x + `,"kid":"b"},{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a"}]}`, 1},
		{"accept/skips-enc-use", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"e","use":"enc"},{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a"}]}`, 1},
		{"accept/ignores-unknown-members", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a","x5c":[]}],"other":1}`, 1},
		{"reject/not-json", `{`, -1},
		{"reject/no-keys-member", `{}`, -1},
		{"reject/no-usable-key", `{"keys":[{"kty":"RSA","kid":"r"}]}`, -1},
		{"reject/short-x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"a"}]}`, -1},
		{"reject/padded-x", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ=","kid":"a"}]}`, -1},
		{"reject/empty-kid", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `}]}`, -1},
		{"reject/duplicate-kid", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a"},{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":"a"}]}`, -1},
		{"reject/kid-not-string", `{"keys":[{"kty":"OKP","crv":"Ed25519",` + x + `,"kid":7}]}`, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseJWKS([]byte(tc.doc))
			if tc.kids < 0 {
				if err == nil {
					t.Fatalf("accepted: %v", kidsOf(keys))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != tc.kids || !bytes.Equal(keys[0].Public, k.Public) {
				t.Fatalf("keys = %+v", keys)
			}
		})
	}
}

func TestNoteSigner(t *testing.T) {
	k := goldenKey(t)
	const name = "sintgate/gw-1"
	s, err := k.NoteSigner(name)
	if err != nil {
		t.Fatal(err)
	}
	if kider, ok := s.(interface{ KeyID() string }); !ok || kider.KeyID() != k.KID {
		t.Error("note signer does not report the JWKS kid")
	}
	body := "sintgate/gw-1\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	msg, err := note.Sign(&note.Note{Text: body}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NoteVerifier(name, k.Public)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("open: %v\n%s", err, msg)
	}
	if n.Text != body {
		t.Errorf("text = %q", n.Text)
	}
	other, _ := NewKey(make([]byte, 32), t0)
	ov, _ := NoteVerifier(name, other.Public)
	if _, err := note.Open(msg, note.VerifierList(ov)); err == nil {
		t.Error("another key verified the note")
	}
	if _, err := (Key{KID: k.KID, Public: k.Public}).NoteSigner(name); err == nil {
		t.Error("a public-only key made a signer")
	}
}

func TestNewKeyset(t *testing.T) {
	k := goldenKey(t)
	t.Run("reject/empty-gateway-id", func(t *testing.T) {
		if _, err := NewKeyset("", k); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("reject/public-only-key", func(t *testing.T) {
		if _, err := NewKeyset("gw", Key{KID: k.KID, Public: k.Public}); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("reject/short-seed", func(t *testing.T) {
		if _, err := NewKey(make([]byte, 31), t0); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("memory/rotate-and-save-do-not-touch-disk", func(t *testing.T) {
		ks, err := NewKeyset("gw", k)
		if err != nil {
			t.Fatal(err)
		}
		if ks.Path() != "" || ks.Save() != nil || ks.Reload() != nil {
			t.Fatal("in-memory keyset did I/O")
		}
		kid, err := ks.Rotate(t0)
		if err != nil || kid == k.KID || len(ks.Keys()) != 2 {
			t.Fatalf("rotate: %s %v %v", kid, err, kidsOf(ks.Keys()))
		}
	})
	t.Run("file/save-writes-current-state", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "k.json")
		ks, err := LoadOrCreate(path, "gw", t0, WithRand(bytes.NewReader(bytes.Repeat([]byte{7}, 64))))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := NewKey(bytes.Repeat([]byte{7}, 32), t0)
		if ks.Active().KID != want.KID {
			t.Fatalf("WithRand not used: %s", ks.Active().KID)
		}
		if err := ks.Save(); err != nil {
			t.Fatal(err)
		}
		again, err := LoadOrCreate(path, "gw", t0)
		if err != nil || again.Active().KID != want.KID {
			t.Fatalf("%v %v", err, again)
		}
		if ks.Retention() != DefaultRetention {
			t.Errorf("retention %v", ks.Retention())
		}
	})
}
