package attest_test

import (
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/sintgate/sintgate/gateway/attest"
	"github.com/sintgate/sintgate/ledger"
)

// TestCheckpointInterop checks that a ledger checkpoint signed with the
// gateway's active key (ledger.NewEd25519Signer, as the server does) opens
// with attest.NoteVerifier built from the JWKS public key, and the reverse:
// an auditor holding only the JWKS can verify checkpoints.
func TestCheckpointInterop(t *testing.T) {
	seed := make([]byte, 32)
	seed[5] = 5
	k, err := attest.NewKey(seed, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := ledger.NewEd25519Signer("gw-1", k.KID, k.Private)
	if err != nil {
		t.Fatal(err)
	}
	as, err := k.NoteSigner(ls.Name())
	if err != nil {
		t.Fatal(err)
	}
	if as.KeyHash() != ls.KeyHash() {
		t.Fatalf("key hashes differ: attest %08x, ledger %08x", as.KeyHash(), ls.KeyHash())
	}
	keys, err := attest.ParseJWKS(attest.EncodeJWKS([]attest.Key{k}))
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.NoteVerifier(ls.Name(), keys[0].Public)
	if err != nil {
		t.Fatal(err)
	}
	body := "sintgate/gw-1\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	for name, s := range map[string]note.Signer{"ledger": ls, "attest": as} {
		msg, err := note.Sign(&note.Note{Text: body}, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
			t.Errorf("%s-signed checkpoint does not open with the JWKS key: %v", name, err)
		}
	}
}
