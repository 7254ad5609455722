"""Small encodings shared by the modules: base64url, UUIDv7, clocks."""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
import time
import uuid

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url(b: bytes) -> str:
    """RFC 4648 §5 base64url without padding."""
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    """Strict base64url without padding: other characters, padding and
    non-canonical trailing bits are refused (ValueError)."""
    if not isinstance(s, str) or not _B64URL.match(s) or len(s) % 4 == 1:
        raise ValueError("not base64url without padding")
    b = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    if b64url(b) != s:
        raise ValueError("non-canonical base64url")
    return b


def b64std_decode(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not standard base64") from e


def now_ms() -> int:
    return time.time_ns() // 1_000_000


_lock = threading.Lock()
_last = [0, 0]  # last ms, last counter


def uuid7() -> str:
    """A lowercase hyphenated UUIDv7 (RFC 9562): 48-bit unix ms, then a 12-bit
    counter seeded at random within a millisecond, so ids from one process
    are unique and ordered; the remaining 62 bits are random."""
    with _lock:
        ms = now_ms()
        if ms <= _last[0]:
            ms = _last[0]
            _last[1] += 1
            if _last[1] > 0xFFF:  # counter exhausted: borrow the next millisecond
                ms += 1
                _last[1] = int.from_bytes(os.urandom(2), "big") & 0x3FF
        else:
            _last[1] = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last[0] = ms
        counter = _last[1]
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    n = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=n))


def uuid4() -> str:
    return str(uuid.uuid4())


_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{12}$")


def valid_uuid(s: object, version: int) -> bool:
    """Lowercase hyphenated UUID of the given version with the RFC 9562 variant."""
    if not isinstance(s, str):
        return False
    m = _UUID.match(s)
    return bool(m) and m.group(1) == str(version) and m.group(2) in "89ab"


_HEXKEY = re.compile(r"^[0-9a-f]{64}$")


def valid_hex_key(s: object) -> bool:
    return isinstance(s, str) and bool(_HEXKEY.match(s))
