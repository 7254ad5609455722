package attest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"golang.org/x/mod/sumdb/note"
)

// Key is one gateway signing key. The zero Key is not usable; build keys with
// [NewKey] or get them from a [Keyset].
//
// Private is nil for keys learnt from a JWKS document (verification only).
// A Key is a value: copying it is cheap, and it must not be modified.
type Key struct {
	KID       string             // first 16 lowercase hex chars of sha256(Public)
	Public    ed25519.PublicKey  // 32 bytes
	Private   ed25519.PrivateKey // 64 bytes (seed || public), nil if unknown
	CreatedAt time.Time          // when the key was generated
	RetiredAt time.Time          // when it was superseded by a rotation; zero while active

	// prefix is base64url(header) + "." — the constant start of every
	// attestation this key signs, computed once in NewKey.
	prefix string
}

// KeyID returns the key id of an Ed25519 public key: the first 16 lowercase
// hex characters of sha256(pub).
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewKey returns the key derived from a 32-byte Ed25519 seed.
func NewKey(seed []byte, createdAt time.Time) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("attest: key seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	k := Key{KID: KeyID(pub), Public: pub, Private: priv, CreatedAt: createdAt}
	k.prefix = headerPrefix(k.KID)
	return k, nil
}

// headerPrefix returns base64url(header) + "." for kid. The header's member
// order is fixed: alg, typ, kid.
func headerPrefix(kid string) string {
	h := `{"alg":"EdDSA","typ":"` + AttestationType + `","kid":"` + kid + `"}`
	return base64.RawURLEncoding.EncodeToString([]byte(h)) + "."
}

// Active reports whether the key has not been superseded.
func (k Key) Active() bool { return k.RetiredAt.IsZero() }

// NoteSigner returns a signer for C2SP signed notes (golang.org/x/mod/sumdb/note)
// under the key name name (for ledger checkpoints: "sintgate/<gateway id>").
// Its key hash follows the note package's rules for Ed25519 keys, so
// [NoteVerifier] with the same name and the JWKS public key verifies it.
func (k Key) NoteSigner(name string) (note.Signer, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("attest: key has no private part")
	}
	v, err := NoteVerifier(name, k.Public)
	if err != nil {
		return nil, err
	}
	return &noteSigner{name: name, hash: v.KeyHash(), kid: k.KID, priv: k.Private}, nil
}

// NoteVerifier returns the C2SP signed-note verifier of an Ed25519 public key
// under the key name name.
func NoteVerifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, fmt.Errorf("attest: note verifier key: %w", err)
	}
	return note.NewVerifier(vkey)
}

type noteSigner struct {
	name string
	hash uint32
	kid  string
	priv ed25519.PrivateKey
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	return voi.Sign(voi.PrivateKey(s.priv), msg), nil
}

// KeyID returns the JWKS kid of the key that signs, for the checkpoint's
// "kid" field.
func (s *noteSigner) KeyID() string { return s.kid }
