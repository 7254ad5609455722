package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/sintgate/sintgate/codes"
)

// OriginPrefix starts every checkpoint origin line and key name.
const OriginPrefix = "sintgate/"

// Checkpoint is a signed tree head (PROTOCOL.md §9). Timestamp is unix
// milliseconds (API convention, PROTOCOL.md §1). Note is the C2SP signed
// note text; TreeSize and RootHash repeat what it signs.
type Checkpoint struct {
	TreeSize  uint64 `json:"treeSize"`
	RootHash  string `json:"rootHash"`
	Timestamp int64  `json:"timestamp"`
	KID       string `json:"kid"`
	Note      string `json:"note"`
}

// CheckpointSigner signs checkpoint notes. Name must be the origin
// "sintgate/<gateway id>"; KeyID is the JWKS kid of the key.
type CheckpointSigner interface {
	note.Signer
	KeyID() string
}

// Origin returns the origin line and key name for a gateway id.
func Origin(gatewayID string) string { return OriginPrefix + gatewayID }

// ValidOrigin reports whether name is a usable origin / note key name.
func ValidOrigin(name string) bool {
	return strings.HasPrefix(name, OriginPrefix) && len(name) > len(OriginPrefix) && len(name) <= 256 &&
		strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

// NoteKeyHash computes the C2SP note key hash of an Ed25519 key under name:
// the first 4 bytes (big endian) of sha256(name || "\n" || 0x01 || pub).
func NoteKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write([]byte{1}) // algorithm byte: Ed25519
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

type ed25519Signer struct {
	name string
	kid  string
	hash uint32
	priv ed25519.PrivateKey
}

// NewEd25519Signer returns a CheckpointSigner for gateway gatewayID using the
// Ed25519 key priv published in the JWKS as kid.
func NewEd25519Signer(gatewayID, kid string, priv ed25519.PrivateKey) (CheckpointSigner, error) {
	name := Origin(gatewayID)
	if !ValidOrigin(name) {
		return nil, fmt.Errorf("ledger: gateway id %q cannot be a note key name", gatewayID)
	}
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("ledger: bad Ed25519 private key")
	}
	pub := priv.Public().(ed25519.PublicKey)
	return &ed25519Signer{name: name, kid: kid, hash: NoteKeyHash(name, pub), priv: priv}, nil
}

func (s *ed25519Signer) Name() string    { return s.name }
func (s *ed25519Signer) KeyHash() uint32 { return s.hash }
func (s *ed25519Signer) KeyID() string   { return s.kid }
func (s *ed25519Signer) Sign(msg []byte) ([]byte, error) {
	return ed25519.Sign(s.priv, msg), nil
}

// CheckpointBody is the C2SP checkpoint note body: origin line, decimal tree
// size, standard base64 root hash, each ending in a newline.
func CheckpointBody(origin string, size uint64, root tlog.Hash) string {
	return origin + "\n" + strconv.FormatUint(size, 10) + "\n" + base64.StdEncoding.EncodeToString(root[:]) + "\n"
}

// ParseCheckpointBody parses a checkpoint note body. Extension lines after
// the root hash are rejected (sintgate writes none).
func ParseCheckpointBody(text string) (origin string, size uint64, root tlog.Hash, err error) {
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return "", 0, root, errors.New("ledger: checkpoint body is not 3 lines")
	}
	origin = lines[0]
	if !ValidOrigin(origin) {
		return "", 0, root, fmt.Errorf("ledger: bad checkpoint origin %q", truncate(origin))
	}
	size, err = strconv.ParseUint(lines[1], 10, 63)
	if err != nil || strconv.FormatUint(size, 10) != lines[1] {
		return "", 0, root, errors.New("ledger: bad checkpoint tree size")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(b) != 32 {
		return "", 0, root, errors.New("ledger: bad checkpoint root hash")
	}
	copy(root[:], b)
	return origin, size, root, nil
}

// SignCheckpoint signs (size, root) with s and returns the checkpoint,
// stamped with now.
func SignCheckpoint(s CheckpointSigner, size uint64, root tlog.Hash, now time.Time) (Checkpoint, error) {
	if !ValidOrigin(s.Name()) {
		return Checkpoint{}, fmt.Errorf("ledger: signer name %q is not a sintgate origin", s.Name())
	}
	msg, err := note.Sign(&note.Note{Text: CheckpointBody(s.Name(), size, root)}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("ledger: sign checkpoint: %w", err)
	}
	return Checkpoint{
		TreeSize:  size,
		RootHash:  hex.EncodeToString(root[:]),
		Timestamp: now.UnixMilli(),
		KID:       s.KeyID(),
		Note:      string(msg),
	}, nil
}

// NoteVerifierKey returns the C2SP signed-note verifier key
// ("<name>+<hash>+<base64(0x01 || pub)>") that verifies the checkpoints
// gateway gatewayID signs with the Ed25519 key pub: what
// note.NewVerifier takes.
func NoteVerifierKey(gatewayID string, pub ed25519.PublicKey) (string, error) {
	name := Origin(gatewayID)
	if !ValidOrigin(name) {
		return "", fmt.Errorf("ledger: gateway id %q cannot be a note key name", gatewayID)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", errors.New("ledger: bad Ed25519 public key")
	}
	return note.NewEd25519VerifierKey(name, pub)
}

// ErrBadCheckpoint is returned (wrapped) for a checkpoint that does not verify.
var ErrBadCheckpoint = codes.New(codes.InvalidSignature, "ledger: checkpoint does not verify")

// VerifyCheckpoint checks c's note signature with the Ed25519 key pub under
// the note's own origin name (which must start with "sintgate/"), and that
// the signed body matches c.TreeSize and c.RootHash. If origin is not empty
// the note must carry exactly that origin. It returns the signed tree size
// and root.
func VerifyCheckpoint(c Checkpoint, origin string, pub ed25519.PublicKey) (uint64, tlog.Hash, error) {
	fail := func(msg string, cause error) (uint64, tlog.Hash, error) {
		return 0, tlog.Hash{}, codes.Wrap(codes.InvalidSignature, "ledger: checkpoint does not verify: "+msg, errors.Join(ErrBadCheckpoint, cause))
	}
	if len(c.Note) > 16<<10 {
		return fail("note too large", nil)
	}
	if len(pub) != ed25519.PublicKeySize {
		return fail("bad public key", nil)
	}
	first, _, _ := strings.Cut(c.Note, "\n")
	if origin == "" {
		origin = first
	}
	if first != origin || !ValidOrigin(origin) {
		return fail(fmt.Sprintf("origin %q", truncate(first)), nil)
	}
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return fail("verifier key", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return fail("verifier", err)
	}
	n, err := note.Open([]byte(c.Note), note.VerifierList(v))
	if err != nil {
		return fail("signature", err)
	}
	_, size, root, err := ParseCheckpointBody(n.Text)
	if err != nil {
		return fail("body", err)
	}
	if size != c.TreeSize || hex.EncodeToString(root[:]) != c.RootHash {
		return fail("treeSize/rootHash differ from the signed note", nil)
	}
	return size, root, nil
}

// ParseJWKS returns the Ed25519 (OKP, crv Ed25519) public keys of a JWKS
// document (RFC 7517) by kid. Other key types are ignored.
func ParseJWKS(b []byte) (map[string]ed25519.PublicKey, error) {
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			Kid string `json:"kid"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	if len(b) > 1<<20 {
		return nil, errors.New("ledger: JWKS too large")
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("ledger: JWKS: %w", err)
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ledger: JWKS key %q: bad x", k.Kid)
		}
		out[k.Kid] = ed25519.PublicKey(x)
	}
	if len(out) == 0 {
		return nil, errors.New("ledger: JWKS has no Ed25519 keys")
	}
	return out, nil
}
