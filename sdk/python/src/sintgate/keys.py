"""Ed25519 key files in the format of ``sintctl keys gen``.

A key file is one JSON object and a newline::

    {"publicKey":"<64 hex>","privateKey":"<128 hex: seed || public key>"}

written with mode 0600 and never overwritten. Loading refuses a file that
group or others can access, unknown members, bad hex, and a public key that
the private seed does not derive. An agent's id is its public key in hex.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import KeyFileError

__all__ = ["Key", "generate", "load", "save", "loads", "dumps", "from_seed", "verify", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 4096


def _raw_public(pk: Ed25519PublicKey) -> bytes:
    return pk.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Key:
    """An Ed25519 key pair. ``agent_id`` is the public key as 64 lowercase hex."""

    seed: bytes
    public: bytes

    @property
    def agent_id(self) -> str:
        return self.public.hex()

    @property
    def private_bytes(self) -> bytes:
        """The 64-byte private key of the key file: seed || public key."""
        return self.seed + self.public

    def sign(self, message: bytes) -> bytes:
        sk = self.__dict__.get("_sk")
        if sk is None:  # built once per key (a frozen dataclass: set through __dict__)
            sk = Ed25519PrivateKey.from_private_bytes(self.seed)
            self.__dict__["_sk"] = sk
        return sk.sign(message)

    def __repr__(self) -> str:  # never print the seed
        return "Key(agent_id=%s)" % self.agent_id


def from_seed(seed: bytes) -> Key:
    """The key pair of a 32-byte Ed25519 seed (RFC 8032)."""
    if len(seed) != 32:
        raise KeyFileError("an Ed25519 seed is 32 bytes")
    sk = Ed25519PrivateKey.from_private_bytes(seed)
    return Key(seed=bytes(seed), public=_raw_public(sk.public_key()))


def generate() -> Key:
    """A fresh key pair from the operating system's random source."""
    sk = Ed25519PrivateKey.generate()
    seed = sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return Key(seed=seed, public=_raw_public(sk.public_key()))


def verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """Whether signature is a valid Ed25519 signature of message by public."""
    if len(public) != 32 or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def dumps(key: Key) -> bytes:
    """The key-file bytes of key (compact JSON and a newline, as sintctl writes)."""
    return (json.dumps({"publicKey": key.public.hex(), "privateKey": key.private_bytes.hex()}, separators=(",", ":")) + "\n").encode()


def _hex(s: object, n: int, what: str) -> bytes:
    if not isinstance(s, str) or len(s) != 2 * n:
        raise KeyFileError("%s must be %d hex characters" % (what, 2 * n))
    try:
        return bytes.fromhex(s)
    except ValueError as e:
        raise KeyFileError("%s is not hex" % what) from e


def loads(data: bytes | str) -> Key:
    """Parse key-file JSON, refusing unknown members and mismatched halves."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise KeyFileError("key file is not UTF-8") from e
    try:
        obj = json.loads(data)
    except json.JSONDecodeError as e:
        raise KeyFileError("key file is not one JSON object: %s" % e) from e
    if not isinstance(obj, dict):
        raise KeyFileError("key file is not a JSON object")
    unknown = set(obj) - {"publicKey", "privateKey"}
    if unknown:
        raise KeyFileError("key file has unknown member(s): %s" % ", ".join(sorted(unknown)))
    priv = _hex(obj.get("privateKey"), 64, "privateKey (64-byte Ed25519 private key)")
    pub = _hex(obj.get("publicKey"), 32, "publicKey")
    k = from_seed(priv[:32])
    # The private key embeds its public half, and that half must be the one
    # the seed derives: otherwise signatures would not verify.
    if k.public != priv[32:] or k.public != pub:
        raise KeyFileError("publicKey does not match privateKey")
    return k


def save(path: str | os.PathLike, key: Key) -> None:
    """Write key to path with mode 0600. An existing file is never overwritten (FileExistsError)."""
    b = dumps(key)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    ok = False
    try:
        os.write(fd, b)
        os.fsync(fd)
        ok = True
    finally:
        os.close(fd)
        if not ok:
            os.unlink(path)


def load(path: str | os.PathLike) -> Key:
    """Read a key file; refuse one accessible by group or others (chmod 600)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise KeyFileError("cannot open key file %s: %s" % (path, e.strerror)) from e
    with os.fdopen(fd, "rb") as f:
        mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
        if mode & 0o077:
            raise KeyFileError("%s has mode %#o; it must not be accessible by group or others (chmod 600)" % (path, mode))
        b = f.read(MAX_FILE_BYTES + 1)
    if len(b) > MAX_FILE_BYTES:
        raise KeyFileError("key file too large")
    return loads(b)
