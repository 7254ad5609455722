"""Ledger evidence, checked offline (docs/protocol.md §10).

* ``entry_hash(entry)``: sha256 of JCS of the entry's hashed members, with
  ``sequenceNumber`` as a decimal string and ``hash`` excluded.
* ``leaf_hash`` / ``verify_inclusion``: the RFC 6962 Merkle tree whose leaf
  data is the 32 raw bytes of each entry hash.
* ``verify_checkpoint``: a checkpoint's C2SP signed note, against the JWKS
  key named by its ``kid`` (or a signed-note verifier key string).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Mapping, Optional, Sequence

from ._util import b64std_decode
from .attest import JWKS
from .jcs import canonicalize
from .keys import verify

__all__ = ["entry_hash", "hash_input", "leaf_hash", "node_hash", "root_from_inclusion", "verify_inclusion",
           "note_key_hash", "verifier_key", "verify_note", "verify_checkpoint", "ZERO_HASH", "LedgerError"]

ZERO_HASH = "0" * 64
_HASHED = ("eventId", "timestamp", "eventType", "agentId", "payload", "previousHash")


class LedgerError(ValueError):
    """Evidence that does not verify."""


def hash_input(entry: Mapping[str, Any]) -> bytes:
    """The exact bytes whose SHA-256 is the entry's hash."""
    m = {k: entry[k] for k in _HASHED}
    seq = entry["sequenceNumber"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise LedgerError("sequenceNumber must be an integer ≥ 1")
    m["sequenceNumber"] = str(seq)
    if entry.get("tokenId") is not None:
        m["tokenId"] = entry["tokenId"]
    return canonicalize(m)


def entry_hash(entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(hash_input(entry)).hexdigest()


def leaf_hash(entry_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash_hex)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[str]) -> bytes:
    """The root an RFC 9162 §2.1.3.2 inclusion proof leads to (LedgerError if malformed)."""
    if not 0 <= leaf_index < tree_size:
        raise LedgerError("leaf index outside the tree")
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for h in proof:
        p = bytes.fromhex(h)
        if len(p) != 32:
            raise LedgerError("a proof hash is not 32 bytes")
        if sn == 0:
            raise LedgerError("proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LedgerError("proof too short")
    return r


def verify_inclusion(entry_hash_hex: str, leaf_index: int, tree_size: int, proof: Sequence[str], root_hex: str) -> bool:
    try:
        return root_from_inclusion(leaf_index, tree_size, leaf_hash(entry_hash_hex), proof).hex() == root_hex
    except (LedgerError, ValueError):
        return False


def note_key_hash(name: str, public: bytes) -> bytes:
    """The 4-byte key hash of a C2SP Ed25519 note key: sha256(name "\\n" 0x01 key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    """The signed-note verifier key string ``<name>+<8 hex>+<base64(0x01 key)>``."""
    return "%s+%s+%s" % (name, note_key_hash(name, public).hex(), base64.b64encode(b"\x01" + public).decode())


def _parse_verifier_key(vk: str) -> tuple[str, bytes]:
    name, h, k = vk.split("+", 2)
    raw = b64std_decode(k)
    if len(raw) != 33 or raw[0] != 1:
        raise LedgerError("verifier key is not an Ed25519 note key")
    if note_key_hash(name, raw[1:]).hex() != h:
        raise LedgerError("verifier key hash does not match")
    return name, raw[1:]


def verify_note(note: str, name: str, public: bytes) -> list[str]:
    """Verify a signed note by the key (name, public); return its body lines.

    The note is ``text "\\n" signature-lines``; text ends with a newline and
    is what is signed; a signature line is ``"— " name " " base64(keyhash4 ‖ sig64)``."""
    text, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise LedgerError("not a signed note")
    text += "\n"
    want_hash = note_key_hash(name, public)
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise LedgerError("malformed signature line")
        lname, _, b = line[2:].rpartition(" ")
        raw = b64std_decode(b)
        if lname != name or len(raw) != 68 or raw[:4] != want_hash:
            continue
        if verify(public, text.encode(), raw[4:]):
            return text[:-1].split("\n")
        raise LedgerError("note signature does not verify")
    raise LedgerError("no signature by %s" % name)


def verify_checkpoint(cp: Mapping[str, Any], jwks: Optional[JWKS] = None, *, verifier: Optional[str] = None,
                      origin: Optional[str] = None) -> None:
    """Verify a checkpoint {"treeSize","rootHash","timestamp","kid","note"}: the
    note is signed by the JWKS key ``kid`` (or by the verifier key string), its
    origin line is ``origin`` (if given, else any ``sintgate/…``), and its tree
    size and root equal the checkpoint's members. Raises LedgerError."""
    if verifier is not None:
        name, pub = _parse_verifier_key(verifier)
    else:
        if jwks is None:
            raise LedgerError("a JWKS or a verifier key is needed")
        pub = jwks.get(cp["kid"])
        if pub is None:
            raise LedgerError("checkpoint kid %s is not in the JWKS" % cp["kid"])
        name = cp["note"].split("\n", 1)[0]
    if origin is not None and name != origin:
        raise LedgerError("note key name %r is not the origin %r" % (name, origin))
    if not name.startswith("sintgate/"):
        raise LedgerError("note origin is not sintgate/<gateway id>")
    lines = verify_note(cp["note"], name, pub)
    if len(lines) < 3 or lines[0] != name:
        raise LedgerError("note body is not origin, size, root")
    if lines[1] != str(cp["treeSize"]):
        raise LedgerError("note tree size differs from treeSize")
    if b64std_decode(lines[2]).hex() != cp["rootHash"]:
        raise LedgerError("note root differs from rootHash")


