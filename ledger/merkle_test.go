package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is an in-memory tlog stored-hash list.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m[x]
	}
	return out, nil
}

func buildTree(t testing.TB, es []Entry) memHashes {
	var m memHashes
	for i := range es {
		raw, _ := RawHash(es[i].Hash)
		hs, err := tlog.StoredHashes(int64(i), raw[:], m)
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, hs...)
	}
	return m
}

func TestLeafHashIsRFC6962(t *testing.T) {
	raw, _ := RawHash(goldenHash)
	want := sha256.Sum256(append([]byte{0}, raw[:]...))
	if LeafHash(raw) != tlog.Hash(want) {
		t.Fatal("leaf hash is not sha256(0x00 || raw entry hash)")
	}
}

func TestTreeBuilderMatchesTlog(t *testing.T) {
	es := sealedChain(t, 70)
	m := buildTree(t, es)
	var b TreeBuilder
	v := NewChainVerifier(1, ZeroHash)
	for n := 1; n <= len(es); n++ {
		raw, _ := RawHash(es[n-1].Hash)
		b.Append(LeafHash(raw))
		if err := v.Add(&es[n-1]); err != nil {
			t.Fatal(err)
		}
		want, err := tlog.TreeHash(int64(n), m)
		if err != nil {
			t.Fatal(err)
		}
		if b.Root() != want {
			t.Fatalf("size %d: root differs", n)
		}
		if r, ok := v.Root(); !ok || r != want {
			t.Fatalf("size %d: verifier root differs", n)
		}
	}
}

func TestProofs(t *testing.T) {
	es := sealedChain(t, 37)
	m := buildTree(t, es)
	for _, n := range []int64{1, 2, 3, 8, 13, 37} {
		root, _ := tlog.TreeHash(n, m)
		for i := int64(0); i < n; i++ {
			p, err := tlog.ProveRecord(n, i, m)
			if err != nil {
				t.Fatal(err)
			}
			wire, err := ParseHexHashes(HexHashes(p))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(wire, uint64(n), uint64(i), root, es[i].Hash); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if i+1 < n {
				if err := VerifyInclusion(wire, uint64(n), uint64(i), root, es[i+1].Hash); err == nil {
					t.Fatalf("n=%d i=%d: wrong entry accepted", n, i)
				}
			}
		}
		for from := int64(1); from <= n; from++ {
			old, _ := tlog.TreeHash(from, m)
			p, err := tlog.ProveTree(n, from, m)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(p, uint64(from), uint64(n), old, root); err != nil {
				t.Fatalf("consistency %d→%d: %v", from, n, err)
			}
		}
	}
}

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytesOf(seed, 32))
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestCheckpointSignVerify(t *testing.T) {
	priv := testKey(7)
	pub := priv.Public().(ed25519.PublicKey)
	s, err := NewEd25519Signer("gw-1", "kid-1", priv)
	if err != nil {
		t.Fatal(err)
	}
	// Our key hash must be the one the note package derives from the same key.
	vkey, _ := note.NewEd25519VerifierKey("sintgate/gw-1", pub)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyHash() != s.KeyHash() {
		t.Fatalf("key hash %08x, note says %08x", s.KeyHash(), v.KeyHash())
	}
	var root tlog.Hash
	copy(root[:], bytesOf(0xab, 32))
	now := time.Date(2026, 11, 23, 20, 15, 0, 0, time.UTC)
	c, err := SignCheckpoint(s, 42, root, now)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := "sintgate/gw-1\n42\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
	if !strings.HasPrefix(c.Note, wantBody+"\n— sintgate/gw-1 ") {
		t.Fatalf("note:\n%s", c.Note)
	}
	if c.Timestamp != now.UnixMilli() || c.KID != "kid-1" || c.TreeSize != 42 {
		t.Fatalf("checkpoint %+v", c)
	}
	if _, err := note.Open([]byte(c.Note), note.VerifierList(v)); err != nil {
		t.Fatalf("note.Open: %v", err)
	}
	other := testKey(8).Public().(ed25519.PublicKey)
	for _, tc := range []struct {
		name   string
		c      func(Checkpoint) Checkpoint
		origin string
		pub    ed25519.PublicKey
		ok     bool
	}{
		{"ok/own-origin", func(c Checkpoint) Checkpoint { return c }, "", pub, true},
		{"ok/expected-origin", func(c Checkpoint) Checkpoint { return c }, "sintgate/gw-1", pub, true},
		{"deny/other-origin", func(c Checkpoint) Checkpoint { return c }, "sintgate/gw-2", pub, false},
		{"deny/other-key", func(c Checkpoint) Checkpoint { return c }, "", other, false},
		{"deny/size-mismatch", func(c Checkpoint) Checkpoint { c.TreeSize = 43; return c }, "", pub, false},
		{"deny/root-mismatch", func(c Checkpoint) Checkpoint { c.RootHash = ZeroHash; return c }, "", pub, false},
		{"deny/body-edited", func(c Checkpoint) Checkpoint {
			c.Note = strings.Replace(c.Note, "\n42\n", "\n41\n", 1)
			c.TreeSize = 41
			return c
		}, "", pub, false},
		{"deny/empty", func(c Checkpoint) Checkpoint { c.Note = ""; return c }, "", pub, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, r, err := VerifyCheckpoint(tc.c(c), tc.origin, tc.pub)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (size != 42 || r != root) {
				t.Fatalf("size %d root %x", size, r)
			}
		})
	}
}

func TestParseJWKS(t *testing.T) {
	pub := testKey(7).Public().(ed25519.PublicKey)
	doc := fmt.Sprintf(`{"keys":[{"kty":"EC","crv":"P-256","kid":"e"},{"kty":"OKP","crv":"Ed25519","kid":"k1","x":%q,"use":"sig"}]}`,
		base64.RawURLEncoding.EncodeToString(pub))
	keys, err := ParseJWKS([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys["k1"].Equal(pub) {
		t.Fatalf("keys %v", keys)
	}
	for name, d := range map[string]string{
		"deny/no-ed25519": `{"keys":[{"kty":"EC","crv":"P-256","kid":"e"}]}`,
		"deny/short-x":    `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"AAAA"}]}`,
		"deny/not-json":   `{`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseJWKS([]byte(d)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	_ = json.Valid
}
