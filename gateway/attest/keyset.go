package attest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Retention bounds for superseded keys (PROTOCOL.md §6: kept ≥ 24 h).
const (
	DefaultRetention = 7 * 24 * time.Hour
	MinRetention     = 24 * time.Hour
)

// keysetFileVersion is the version of the on-disk keyset format.
const keysetFileVersion = 1

// maxKeysetFile bounds the keyset file we are willing to read.
const maxKeysetFile = 1 << 20

// Keyset is the gateway's set of signing keys: one active key and the
// superseded keys still inside their retention period. Reads (Active,
// PublicKey, JWKS) are lock-free and safe for concurrent use with Rotate and
// Reload.
type Keyset struct {
	path      string // "" for an in-memory keyset
	gatewayID string
	retention time.Duration
	rand      io.Reader

	mu    sync.Mutex // serialises Rotate, Reload and Save
	state atomic.Pointer[keyState]
}

// keyState is an immutable snapshot of the keys.
type keyState struct {
	active  Key
	retired []Key // newest first
}

// Option configures a Keyset.
type Option func(*Keyset) error

// WithRetention sets how long superseded keys stay in the JWKS after their
// rotation. It must be at least MinRetention.
func WithRetention(d time.Duration) Option {
	return func(ks *Keyset) error {
		if d < MinRetention {
			return fmt.Errorf("attest: key retention %v is below the minimum %v", d, MinRetention)
		}
		ks.retention = d
		return nil
	}
}

// WithRand sets the source of key seeds (default crypto/rand). For tests.
func WithRand(r io.Reader) Option {
	return func(ks *Keyset) error { ks.rand = r; return nil }
}

func newKeyset(path, gatewayID string, opts []Option) (*Keyset, error) {
	ks := &Keyset{path: path, gatewayID: gatewayID, retention: DefaultRetention, rand: rand.Reader}
	for _, o := range opts {
		if err := o(ks); err != nil {
			return nil, err
		}
	}
	return ks, nil
}

// NewKeyset returns an in-memory keyset (never persisted) whose active key is
// active. For tests and for tools that sign with a key they already hold.
func NewKeyset(gatewayID string, active Key, opts ...Option) (*Keyset, error) {
	if gatewayID == "" {
		return nil, errors.New("attest: empty gateway id")
	}
	if len(active.Private) != ed25519.PrivateKeySize {
		return nil, errors.New("attest: active key has no private part")
	}
	ks, err := newKeyset("", gatewayID, opts)
	if err != nil {
		return nil, err
	}
	active.RetiredAt = time.Time{}
	ks.state.Store(&keyState{active: active})
	return ks, nil
}

// LoadOrCreate loads the keyset file at path, or, if there is none, creates
// it with one fresh active key (mode 0600, atomic). The directory must exist.
//
// gatewayID is recorded in a new file. When loading, an empty gatewayID
// accepts the stored one and a different non-empty one is an error: the
// gateway id is the attestations' iss and the checkpoints' key name, so it
// must never change silently. A file readable by group or others is refused.
func LoadOrCreate(path, gatewayID string, now time.Time, opts ...Option) (*Keyset, error) {
	ks, err := newKeyset(path, gatewayID, opts)
	if err != nil {
		return nil, err
	}
	st, err := ks.load()
	if err == nil {
		ks.state.Store(st)
		return ks, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if gatewayID == "" {
		return nil, errors.New("attest: empty gateway id for a new keyset")
	}
	k, err := ks.generate(now)
	if err != nil {
		return nil, err
	}
	st = &keyState{active: k}
	data, err := encodeKeyset(gatewayID, st)
	if err != nil {
		return nil, err
	}
	// Create without replacing: if another process created the file in the
	// meantime, load theirs instead of overwriting it.
	if err := writeFileAtomic(path, data, false); err != nil {
		if errors.Is(err, fs.ErrExist) {
			if st, err = ks.load(); err == nil {
				ks.state.Store(st)
				return ks, nil
			}
		}
		return nil, err
	}
	ks.state.Store(st)
	return ks, nil
}

// GatewayID returns the gateway id the keyset belongs to.
func (ks *Keyset) GatewayID() string { return ks.gatewayID }

// Path returns the keyset file, or "" for an in-memory keyset.
func (ks *Keyset) Path() string { return ks.path }

// Retention returns how long superseded keys are kept.
func (ks *Keyset) Retention() time.Duration { return ks.retention }

// Active returns the key that signs new attestations.
func (ks *Keyset) Active() Key { return ks.state.Load().active }

// Keys returns the active key followed by the superseded keys, newest first,
// including any whose retention has passed but that were not pruned yet.
func (ks *Keyset) Keys() []Key {
	st := ks.state.Load()
	return append([]Key{st.active}, st.retired...)
}

// PublicKey returns the public key with the given kid, active or superseded
// (even past its retention while it is still in the keyset).
func (ks *Keyset) PublicKey(kid string) (ed25519.PublicKey, bool) {
	st := ks.state.Load()
	if st.active.KID == kid {
		return st.active.Public, true
	}
	for _, k := range st.retired {
		if k.KID == kid {
			return k.Public, true
		}
	}
	return nil, false
}

// published reports whether a key belongs in the JWKS at now.
func (ks *Keyset) published(k Key, now time.Time) bool {
	return k.Active() || now.Before(k.RetiredAt.Add(ks.retention))
}

// JWKS returns the RFC 7517 JWK Set of the keys published at now: the active
// key first, then superseded keys whose retention has not passed, newest
// first.
func (ks *Keyset) JWKS(now time.Time) []byte { return EncodeJWKS(ks.Published(now)) }

// Published returns the keys published at now, in JWKS order: the active key
// first, then superseded keys whose retention has not passed, newest first.
func (ks *Keyset) Published(now time.Time) []Key {
	st := ks.state.Load()
	keys := make([]Key, 0, 1+len(st.retired))
	keys = append(keys, st.active)
	for _, k := range st.retired {
		if ks.published(k, now) {
			keys = append(keys, k)
		}
	}
	return keys
}

// Rotate makes a fresh key active, supersedes the previous one as of now,
// drops superseded keys whose retention has passed, persists the keyset (for
// a file-backed keyset) and returns the new kid. If persisting fails the
// keyset is unchanged.
//
// A gateway process that holds the same file open does not see a rotation
// made by another process until it calls Reload.
func (ks *Keyset) Rotate(now time.Time) (string, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := ks.state.Load()
	k, err := ks.generate(now)
	if err != nil {
		return "", err
	}
	prev := old.active
	prev.RetiredAt = now
	next := &keyState{active: k, retired: []Key{prev}}
	for _, r := range old.retired {
		if ks.published(r, now) {
			next.retired = append(next.retired, r)
		}
	}
	if err := ks.save(next); err != nil {
		return "", err
	}
	ks.state.Store(next)
	return k.KID, nil
}

// Reload re-reads the keyset file (after a rotation by another process).
// On error the keyset is unchanged.
func (ks *Keyset) Reload() error {
	if ks.path == "" {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	st, err := ks.load()
	if err != nil {
		return err
	}
	ks.state.Store(st)
	return nil
}

// Save writes the keyset to its file atomically (no-op for an in-memory
// keyset).
func (ks *Keyset) Save() error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.save(ks.state.Load())
}

func (ks *Keyset) save(st *keyState) error {
	if ks.path == "" {
		return nil
	}
	data, err := encodeKeyset(ks.gatewayID, st)
	if err != nil {
		return err
	}
	return writeFileAtomic(ks.path, data, true)
}

func (ks *Keyset) generate(now time.Time) (Key, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(ks.rand, seed); err != nil {
		return Key{}, fmt.Errorf("attest: generate key: %w", err)
	}
	return NewKey(seed, now)
}

// load reads and validates the keyset file. It sets ks.gatewayID when it was
// empty.
func (ks *Keyset) load() (*keyState, error) {
	f, err := os.Open(ks.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("attest: keyset file %s has mode %v; it must not be accessible by group or others (chmod 600)", ks.path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeysetFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeysetFile {
		return nil, fmt.Errorf("attest: keyset file %s is larger than %d bytes", ks.path, maxKeysetFile)
	}
	id, st, err := decodeKeyset(data)
	if err != nil {
		return nil, fmt.Errorf("attest: keyset file %s: %w", ks.path, err)
	}
	if ks.gatewayID == "" {
		ks.gatewayID = id
	} else if ks.gatewayID != id {
		return nil, fmt.Errorf("attest: keyset file %s belongs to gateway %q, not %q", ks.path, id, ks.gatewayID)
	}
	return st, nil
}

// keysetFile is the on-disk form of a keyset.
type keysetFile struct {
	Version   int         `json:"version"`
	GatewayID string      `json:"gatewayId"`
	Keys      []keyRecord `json:"keys"` // active first, then superseded newest first
}

type keyRecord struct {
	KID       string `json:"kid"`
	PublicKey string `json:"publicKey"` // hex, a consistency check on seed
	Seed      string `json:"seed"`      // hex of the 32-byte Ed25519 seed
	CreatedAt int64  `json:"createdAt"` // unix ms
	RetiredAt int64  `json:"retiredAt,omitempty"`
}

func encodeKeyset(gatewayID string, st *keyState) ([]byte, error) {
	f := keysetFile{Version: keysetFileVersion, GatewayID: gatewayID}
	for _, k := range append([]Key{st.active}, st.retired...) {
		if len(k.Private) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("attest: key %s has no private part", k.KID)
		}
		r := keyRecord{
			KID:       k.KID,
			PublicKey: hex.EncodeToString(k.Public),
			Seed:      hex.EncodeToString(k.Private.Seed()),
			CreatedAt: k.CreatedAt.UnixMilli(),
		}
		if !k.RetiredAt.IsZero() {
			r.RetiredAt = k.RetiredAt.UnixMilli()
		}
		f.Keys = append(f.Keys, r)
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func decodeKeyset(data []byte) (string, *keyState, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f keysetFile
	if err := dec.Decode(&f); err != nil {
		return "", nil, err
	}
	if f.Version != keysetFileVersion {
		return "", nil, fmt.Errorf("unsupported version %d", f.Version)
	}
	if f.GatewayID == "" {
		return "", nil, errors.New("empty gatewayId")
	}
	if len(f.Keys) == 0 {
		return "", nil, errors.New("no keys")
	}
	st := &keyState{}
	seen := map[string]bool{}
	for i, r := range f.Keys {
		seed, err := hex.DecodeString(r.Seed)
		if err != nil {
			return "", nil, fmt.Errorf("keys[%d]: seed: %w", i, err)
		}
		k, err := NewKey(seed, time.UnixMilli(r.CreatedAt).UTC())
		if err != nil {
			return "", nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		if r.KID != k.KID || r.PublicKey != hex.EncodeToString(k.Public) {
			return "", nil, fmt.Errorf("keys[%d]: kid or publicKey does not match the seed", i)
		}
		if seen[k.KID] {
			return "", nil, fmt.Errorf("keys[%d]: duplicate kid %s", i, k.KID)
		}
		seen[k.KID] = true
		if r.RetiredAt != 0 {
			k.RetiredAt = time.UnixMilli(r.RetiredAt).UTC()
		}
		switch {
		case i == 0 && !k.Active():
			return "", nil, errors.New("keys[0] (the active key) has retiredAt")
		case i > 0 && k.Active():
			return "", nil, fmt.Errorf("keys[%d]: more than one active key", i)
		}
		if i == 0 {
			st.active = k
		} else {
			st.retired = append(st.retired, k)
		}
	}
	return f.GatewayID, st, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary file
// in the same directory: write, fsync, then rename (replace) or link (create
// only; fs.ErrExist if path exists), then fsync the directory.
func writeFileAtomic(path string, data []byte, replace bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		os.Remove(tmpName) // after a rename this fails harmlessly
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return err
	}
	tmp = nil
	if replace {
		err = os.Rename(tmpName, path)
	} else {
		err = os.Link(tmpName, path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
