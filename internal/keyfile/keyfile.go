// Package keyfile reads and writes sintgate Ed25519 key files: JSON
// {"publicKey": hex, "privateKey": hex of the 64-byte Ed25519 private key}
// with mode 0600. An agent's id is its public key in hex. Save never
// overwrites an existing file; Load refuses files readable by group or others
// and keys whose halves do not agree.
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxFileBytes bounds what Load reads.
const MaxFileBytes = 4096

// Key is an Ed25519 key pair.
type Key struct {
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
}

// AgentID is the public key as 64 lowercase hex characters.
func (k *Key) AgentID() string { return hex.EncodeToString(k.Public) }

// Generate returns a fresh key pair from crypto/rand.
func Generate() (*Key, error) { return GenerateFrom(rand.Reader) }

// GenerateFrom returns a key pair drawn from r (tests pass a fixed reader).
func GenerateFrom(r io.Reader) (*Key, error) {
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, err
	}
	return &Key{Public: pub, Private: priv}, nil
}

type fileJSON struct {
	PublicKey  string `json:"publicKey"`
	PrivateKey string `json:"privateKey"`
}

// Marshal encodes k as the key-file JSON (with a trailing newline).
func Marshal(k *Key) ([]byte, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("keyfile: private key must be 64 bytes")
	}
	b, err := json.Marshal(fileJSON{hex.EncodeToString(k.Private.Public().(ed25519.PublicKey)), hex.EncodeToString(k.Private)})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Unmarshal decodes key-file JSON, rejecting unknown fields, bad hex and
// a public key that does not belong to the private key.
func Unmarshal(b []byte) (*Key, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if dec.More() {
		return nil, errors.New("keyfile: trailing data")
	}
	priv, err := hex.DecodeString(f.PrivateKey)
	if err != nil || len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("keyfile: privateKey must be 128 hex characters (64-byte Ed25519 private key)")
	}
	pub, err := hex.DecodeString(f.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("keyfile: publicKey must be 64 hex characters")
	}
	k := &Key{Public: pub, Private: ed25519.PrivateKey(priv)}
	// The private key embeds its public half, and that half must be the one
	// the seed derives: otherwise signatures would not verify.
	derived := ed25519.NewKeyFromSeed(k.Private.Seed())
	if !bytes.Equal(derived, k.Private) || !bytes.Equal(derived.Public().(ed25519.PublicKey), pub) {
		return nil, errors.New("keyfile: publicKey does not match privateKey")
	}
	return k, nil
}

// Save writes k to path with mode 0600. It refuses to overwrite an existing
// file (os.ErrExist) and syncs the file before returning.
func Save(path string, k *Key) (err error) {
	b, err := Marshal(k)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("keyfile: %w", err)
	}
	return nil
}

// Load reads a key file. It fails if the file is readable or writable by
// group or others (mode & 0077 != 0), larger than MaxFileBytes, or invalid.
func Load(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keyfile: %s has mode %#o; it must not be accessible by group or others (chmod 600)", path, st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, errors.New("keyfile: file too large")
	}
	return Unmarshal(b)
}
