"""Decision attestations (docs/protocol.md §7), verified offline.

An allow carries a compact JWS ``{"alg":"EdDSA","typ":"sint-attest+jwt","kid"}``
signed by a gateway key published in ``/.well-known/jwks.json``. Before acting,
verify it against a cached key set and the command you are about to carry
out: ``verify_attestation(att, jwks, Expect(agent_id, resource, action,
params_hash(params)), issuer=gateway_id)``. The checks and their order, and
the failure reasons, are the gateway's own (gateway/attest.Verify); the first
failure wins and raises AttestationError.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ._util import b64url_decode
from .errors import AttestationError
from .jcs import JCSError, loads_strict
from .keys import verify

__all__ = ["Expect", "JWKS", "JWKSCache", "verify_attestation", "key_id", "ATTESTATION_TYPE", "MAX_LIFETIME_S",
           "DEFAULT_SKEW_S"]

ATTESTATION_TYPE = "sint-attest+jwt"
MAX_ATTESTATION_LEN = 32 << 10
MAX_LIFETIME_S = 60
DEFAULT_SKEW_S = 5
_CLAIMS = ("iss", "sub", "aud", "act", "jti", "iat", "exp", "tokenId", "tier", "paramsHash", "envelope", "policyHash", "ledgerSeq")


def key_id(public: bytes) -> str:
    """A kid: the first 16 hex characters of sha256(raw public key)."""
    import hashlib

    return hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True)
class Expect:
    """What the verifier is about to do; the attestation must say exactly that.
    Every member is required: an empty one fails closed (ATTESTATION_NO_EXPECTATION)."""

    agent_id: str
    resource: str
    action: str
    params_hash: str


class JWKS:
    """The Ed25519 signing keys of an RFC 7517 key set, by kid.

    Keys of other types, or with use other than "sig" or alg other than
    "EdDSA", are skipped; a malformed Ed25519 key, a duplicate kid or a set
    without a usable key is an error (ValueError), as in the gateway."""

    def __init__(self, doc: bytes | str | Mapping[str, Any]):
        if isinstance(doc, (bytes, str)):
            if len(doc) > 1 << 20:
                raise ValueError("JWKS document too large")
            doc = json.loads(doc)
        if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
            raise ValueError('JWKS: no "keys" array')
        if len(doc["keys"]) > 256:
            raise ValueError("JWKS: too many keys")
        self.keys: dict[str, bytes] = {}
        for i, k in enumerate(doc["keys"]):
            if not isinstance(k, Mapping):
                raise ValueError("JWKS keys[%d] is not an object" % i)
            if k.get("kty") != "OKP" or k.get("crv") != "Ed25519":
                continue
            if k.get("use", "") not in ("", "sig") or k.get("alg", "") not in ("", "EdDSA"):
                continue
            try:
                pub = b64url_decode(k.get("x", ""))
            except ValueError:
                pub = b""
            if len(pub) != 32:
                raise ValueError("JWKS keys[%d]: x is not a base64url 32-byte key" % i)
            kid = k.get("kid")
            if not isinstance(kid, str) or not kid:
                raise ValueError("JWKS keys[%d]: empty kid" % i)
            if kid in self.keys:
                raise ValueError("JWKS keys[%d]: duplicate kid %r" % (i, kid))
            self.keys[kid] = pub
        if not self.keys:
            raise ValueError("JWKS: no Ed25519 signing key")
        self.document = dict(doc)

    def __contains__(self, kid: str) -> bool:
        return kid in self.keys

    def get(self, kid: str) -> Optional[bytes]:
        return self.keys.get(kid)


class JWKSCache:
    """A gateway's key set, kept in memory and optionally in a file, so that
    attestations verify offline. ``fetch`` (a callable returning the JWKS
    document) is used only when the cache is empty, or when an attestation
    names a kid the cache does not know (a key rotation), at most once per
    ``min_refresh_s``. Without a usable key set every verification fails
    (ATTESTATION_KEYS_UNAVAILABLE): fail closed."""

    def __init__(self, path: Optional[str] = None, fetch: Optional[Callable[[], bytes]] = None,
                 min_refresh_s: float = 30.0, jwks: Optional[JWKS] = None):
        self.path = path
        self.fetch = fetch
        self.min_refresh_s = min_refresh_s
        self._jwks = jwks
        self._last_fetch = float("-inf")
        if self._jwks is None and path and os.path.exists(path):
            with open(path, "rb") as f:
                self._jwks = JWKS(f.read())

    def _refresh(self) -> None:
        if self.fetch is None or time.monotonic() - self._last_fetch < self.min_refresh_s:
            return
        self._last_fetch = time.monotonic()
        doc = self.fetch()
        jwks = JWKS(doc)
        self._jwks = jwks
        if self.path:
            d = os.path.dirname(os.path.abspath(self.path))
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".jwks")
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(jwks.document, separators=(",", ":")).encode())
            os.replace(tmp, self.path)

    def jwks_for(self, kid: str) -> Optional[JWKS]:
        """The cached set if it knows kid; otherwise refresh (if allowed) and retry."""
        if self._jwks is not None and kid in self._jwks:
            return self._jwks
        try:
            self._refresh()
        except Exception:  # unreachable gateway, bad document: keep the cache, fail closed below
            pass
        return self._jwks

    @property
    def jwks(self) -> Optional[JWKS]:
        if self._jwks is None:
            try:
                self._refresh()
            except Exception:
                pass
        return self._jwks


def _fail(reason: str, claim: str = "", detail: str = "") -> AttestationError:
    return AttestationError(reason, claim, detail)


def verify_attestation(att: str, keys: JWKS | JWKSCache, want: Expect, *, issuer: Optional[str] = None,
                       now: Optional[float] = None, skew_s: int = DEFAULT_SKEW_S) -> dict:
    """Verify an attestation offline and return its claims.

    Order (the first failure wins): expectation given; size and compact form;
    header exactly alg EdDSA, typ sint-attest+jwt, kid; kid known; Ed25519
    signature; claims schema (unknown or missing claims rejected); iss (when
    issuer is given); iat < exp ≤ iat + 60; iat ≤ now + skew and
    now < exp + skew (whole seconds); then sub, aud, act and paramsHash equal
    to want."""
    if not (want.agent_id and want.resource and want.action and want.params_hash):
        raise _fail("ATTESTATION_NO_EXPECTATION", "", "agentId, resource, action and paramsHash must all be given")
    if not isinstance(att, str) or len(att) > MAX_ATTESTATION_LEN:
        raise _fail("ATTESTATION_MALFORMED", "", "attestation too long or not a string")
    parts = att.split(".")
    if len(parts) != 3:
        raise _fail("ATTESTATION_MALFORMED", "", "not a compact JWS")
    try:
        hb = b64url_decode(parts[0])
    except ValueError:
        raise _fail("ATTESTATION_MALFORMED", "header", "bad base64url") from None
    try:
        h = loads_strict(hb)
    except (ValueError, UnicodeDecodeError, JCSError) as e:
        raise _fail("ATTESTATION_BAD_HEADER", "header", str(e)) from None
    if not isinstance(h, dict) or set(h) - {"alg", "typ", "kid"} or not all(isinstance(v, str) for v in h.values()):
        raise _fail("ATTESTATION_BAD_HEADER", "header", "only string alg, typ and kid are allowed")
    if h.get("alg") != "EdDSA":
        raise _fail("ATTESTATION_BAD_HEADER", "alg", "want EdDSA")
    if h.get("typ") != ATTESTATION_TYPE:
        raise _fail("ATTESTATION_BAD_HEADER", "typ", "want " + ATTESTATION_TYPE)
    kid = h.get("kid", "")
    if isinstance(keys, JWKSCache):
        jwks = keys.jwks_for(kid) if kid else keys.jwks
        if jwks is None:
            raise _fail("ATTESTATION_KEYS_UNAVAILABLE", "", "no key set could be loaded")
    else:
        jwks = keys
    pub = jwks.get(kid) if kid else None
    if pub is None:
        raise _fail("ATTESTATION_UNKNOWN_KID", "kid")
    try:
        sig = b64url_decode(parts[2])
    except ValueError:
        sig = b""
    if len(sig) != 64:
        raise _fail("ATTESTATION_MALFORMED", "signature", "bad base64url or length")
    if not verify(pub, (parts[0] + "." + parts[1]).encode(), sig):
        raise _fail("ATTESTATION_BAD_SIGNATURE")
    try:
        c = loads_strict(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError, JCSError) as e:
        raise _fail("ATTESTATION_MALFORMED", "payload", str(e)) from None
    if not isinstance(c, dict):
        raise _fail("ATTESTATION_MALFORMED", "payload", "not an object")
    for k in c:
        if k not in _CLAIMS:
            raise _fail("ATTESTATION_MALFORMED", k, "unknown claim")
    for k in _CLAIMS:
        if k not in c:
            raise _fail("ATTESTATION_MALFORMED", k, "missing claim")
    for k in ("iss", "sub", "aud", "act", "jti", "tokenId", "paramsHash", "policyHash"):
        if not isinstance(c[k], str):
            raise _fail("ATTESTATION_MALFORMED", k, "not a string")
    for k in ("iat", "exp", "tier", "ledgerSeq"):
        if not isinstance(c[k], int) or isinstance(c[k], bool):
            raise _fail("ATTESTATION_MALFORMED", k, "not an integer")
    if not isinstance(c["envelope"], dict):
        raise _fail("ATTESTATION_MALFORMED", "envelope", "not an object")
    if issuer is not None and c["iss"] != issuer:
        raise _fail("ATTESTATION_WRONG_ISSUER", "iss")
    if c["exp"] <= c["iat"] or c["exp"] > c["iat"] + MAX_LIFETIME_S:
        raise _fail("ATTESTATION_BAD_LIFETIME", "exp")
    t = int(time.time() if now is None else now)
    if c["iat"] > t + skew_s:
        raise _fail("ATTESTATION_NOT_YET_VALID", "iat")
    if t >= c["exp"] + skew_s:
        raise _fail("ATTESTATION_EXPIRED", "exp")
    for claim, v in (("sub", want.agent_id), ("aud", want.resource), ("act", want.action), ("paramsHash", want.params_hash)):
        if c[claim] != v:
            raise _fail("ATTESTATION_MISMATCH", claim)
    return c
