"""RFC 8785 JSON Canonicalization Scheme (JCS) and the params hash.

The gateway hashes a command's ``params`` as ``sha256(JCS(params))``
(docs/protocol.md §7) and the ledger hashes entries the same way (§10.1), so a
client must produce exactly the gateway's bytes:

* objects: members sorted by the UTF-16 code units of their names, no
  whitespace; a duplicate name is an error;
* strings: ``"`` and ``\\`` escaped, control characters below U+0020 as
  ``\\b \\t \\n \\f \\r`` or ``\\u00xx``, everything else as raw UTF-8; a lone
  surrogate is an error;
* numbers: the IEEE-754 double the number denotes, written as ECMAScript's
  ``Number.prototype.toString`` writes it (shortest round-trip digits,
  exponent form below 1e-6 and from 1e21). Python integers are read as that
  double too (``2**53 + 1`` hashes like ``9007199254740992``), exactly as the
  gateway reads the JSON text it receives; NaN, infinities and integers beyond
  the double range are errors.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .errors import SintError

__all__ = ["canonicalize", "canonical_number", "params_hash", "loads_strict", "JCSError", "EMPTY_PARAMS_HASH"]


MAX_DEPTH = 512  # far beyond the gateway's JSON nesting limit (32); keeps recursion bounded


class JCSError(SintError, ValueError):
    """The value has no canonical form (NaN, a lone surrogate, a duplicate key...).
    The gateway would refuse such params as MALFORMED_REQUEST; nothing is sent."""

    code = "MALFORMED_REQUEST"


def canonical_number(v: float | int) -> str:
    """Return the ECMAScript / RFC 8785 form of the double that v denotes."""
    if isinstance(v, bool):
        raise JCSError("a boolean is not a number")
    try:
        f = float(v)
    except OverflowError as e:
        raise JCSError("integer beyond the range of a double") from e
    if math.isnan(f) or math.isinf(f):
        raise JCSError("NaN and infinities have no JSON form")
    if f == 0:
        return "0"  # -0 too
    sign = "-" if f < 0 else ""
    # repr gives the shortest digit string that round-trips (as ECMAScript
    # requires); only its layout differs, so take digits and exponent apart.
    r = repr(abs(f))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    # value = 0.DIGITS * 10**n with n the position of the decimal point
    # relative to the first significant digit.
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    n = len(ip) + e - lead_zeros
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        x = n - 1
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if x >= 0 else "-") + str(abs(x))
    return sign + s


_ESC = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(s: str, out: list[str]) -> None:
    out.append('"')
    for ch in s:
        c = ord(ch)
        if ch in _ESC:
            out.append(_ESC[ch])
        elif c < 0x20:
            out.append("\\u%04x" % c)
        elif 0xD800 <= c <= 0xDFFF:
            raise JCSError("a string holds a lone surrogate (not UTF-8 encodable)")
        else:
            out.append(ch)
    out.append('"')


def _utf16_key(s: str) -> bytes:
    try:
        return s.encode("utf-16-be")
    except UnicodeEncodeError as e:
        raise JCSError("an object key holds a lone surrogate") from e


def _value(v: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise JCSError("nesting deeper than %d" % MAX_DEPTH)
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        _string(v, out)
    elif isinstance(v, (int, float)):
        out.append(canonical_number(v))
    elif isinstance(v, dict):
        keys = list(v.keys())
        for k in keys:
            if not isinstance(k, str):
                raise JCSError("object keys must be strings, got %r" % type(k).__name__)
        keys.sort(key=_utf16_key)
        out.append("{")
        for i, k in enumerate(keys):
            if i:
                out.append(",")
            _string(k, out)
            out.append(":")
            _value(v[k], out, depth + 1)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _value(x, out, depth + 1)
        out.append("]")
    else:
        raise JCSError("%s is not a JSON value" % type(v).__name__)


def canonicalize(v: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value (Python data)."""
    out: list[str] = []
    _value(v, out, 0)
    return "".join(out).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    d: dict = {}
    for k, v in pairs:
        if k in d:
            raise JCSError("duplicate object member %r" % k)
        d[k] = v
    return d


def _bad_constant(name: str) -> Any:
    raise JCSError("%s is not JSON" % name)


def loads_strict(text: str | bytes) -> Any:
    """Parse JSON text refusing duplicate members and NaN/Infinity literals.

    Numbers keep their Python type (int or float); canonicalize reads both as
    doubles, as the gateway does. A number too large for a double parses as a
    float infinity and is refused by canonicalize.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JCSError("not UTF-8") from e
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_bad_constant)
    except RecursionError:
        raise JCSError("nesting too deep") from None
    except json.JSONDecodeError as e:
        raise JCSError("not JSON: %s" % e) from None


EMPTY_PARAMS_HASH = hashlib.sha256(b"{}").hexdigest()


def params_hash(params: Any) -> str:
    """sha256(JCS(params)) as lowercase hex; absent (None) params hash as {}."""
    if params is None:
        return EMPTY_PARAMS_HASH
    return hashlib.sha256(canonicalize(params)).hexdigest()
