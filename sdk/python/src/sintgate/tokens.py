"""Capability tokens (docs/protocol.md §3): issue, delegate, parse, check.

A token is a compact JWS ``b64url(header).b64url(payload).b64url(sig)`` with
the header ``{"alg":"EdDSA","typ":"sint-cap+jwt"}``, signed with Ed25519 by
its ``issuer``. A token is kept and forwarded as its exact bytes
(``Token.raw``); nothing here re-serialises a received token.

``delegate`` refuses a child that would widen its parent with the code the
gateway would answer (``TokenError``, ``CONSTRAINT_VIOLATION`` naming the
field, ``INVALID_CHAIN``, ``DELEGATION_DEPTH_EXCEEDED``, ``TOKEN_EXPIRED``,
``INVALID_SIGNATURE``, ``MALFORMED_TOKEN``) before anything is signed or sent.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from . import geofence, pattern
from ._util import b64url, b64url_decode, now_ms, uuid4, uuid7, valid_hex_key, valid_uuid
from .errors import TokenError, codes
from .jcs import JCSError, loads_strict
from .keys import Key, verify

__all__ = ["Token", "issue", "delegate", "parse", "check_attenuation", "validate_claims", "sign_claims",
           "verify_chain", "MAX_DELEGATION_DEPTH", "MAX_LIFETIME_MS", "HEADER"]

HEADER = '{"alg":"EdDSA","typ":"sint-cap+jwt"}'
MAX_TOKEN_BYTES = 8 << 10
MAX_ACTIONS = 64
MAX_DELEGATION_DEPTH = 3
MAX_LIFETIME_MS = 30 * 24 * 3600 * 1000
CLOCK_SKEW_MS = 5000
MAX_QUORUM_OPERATORS = 64
MAX_FRAME_BYTES = 64

_CLAIMS = ("tokenId", "issuer", "subject", "resource", "actions", "constraints", "tier", "issuedAt", "expiresAt",
           "notBefore", "delegationChain", "parentTokenId", "nonce", "revocable")
_REQUIRED = set(_CLAIMS) - {"notBefore"}
_FLOAT_LIMITS = ("maxVelocityMps", "maxAngularVelocityRps", "maxAccelerationMps2", "maxJerkMps3",
                 "maxForceNewtons", "maxTorqueNm")
_CONSTRAINTS = _FLOAT_LIMITS + ("geofence", "timeWindow", "maxRepetitions", "rateLimit", "requiresHumanPresence", "quorum")


def _malformed(msg: str) -> TokenError:
    return TokenError(msg, codes.MALFORMED_TOKEN)


def _widening(field_: str, msg: str) -> TokenError:
    return TokenError("child widens %s: %s" % (field_, msg), codes.CONSTRAINT_VIOLATION)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _exact_members(obj: Any, where: str, required: Iterable[str], optional: Iterable[str] = ()) -> dict:
    if not isinstance(obj, dict):
        raise _malformed("%s must be an object" % where)
    req, opt = set(required), set(optional)
    for k in obj:
        if k not in req and k not in opt:
            raise _malformed("%s has an unknown member %r" % (where, k))
    for k in req:
        if k not in obj:
            raise _malformed("%s lacks %r" % (where, k))
    return obj


def _validate_constraints(c: Any) -> None:
    _exact_members(c, "constraints", (), _CONSTRAINTS)
    c = {k: v for k, v in c.items() if v is not None}  # null is "no limit", as absent
    for name in _FLOAT_LIMITS:
        if name in c:
            v = c[name]
            if not _is_num(v) or not math.isfinite(v) or v < 0:
                raise _malformed("constraints.%s must be a finite number ≥ 0" % name)
    if "geofence" in c:
        g = _exact_members(c["geofence"], "constraints.geofence", ("frame", "polygon"))
        fr = g["frame"]
        if not isinstance(fr, str) or not fr or len(fr) > MAX_FRAME_BYTES or any(not 0x21 <= ord(ch) <= 0x7E for ch in fr):
            raise _malformed("constraints.geofence.frame must be 1..%d printable ASCII" % MAX_FRAME_BYTES)
        poly = g["polygon"]
        if not isinstance(poly, list) or not 3 <= len(poly) <= 256:
            raise _malformed("constraints.geofence.polygon must have 3..256 vertices")
        why = geofence.validate_polygon(poly)
        if why:
            raise _malformed("constraints.geofence.polygon: " + why)
    if "timeWindow" in c:
        w = _exact_members(c["timeWindow"], "constraints.timeWindow", ("start", "end"))
        if not (_is_int(w["start"]) and _is_int(w["end"])) or w["start"] < 0 or w["end"] <= w["start"]:
            raise _malformed("constraints.timeWindow must have integers 0 ≤ start < end")
    if "maxRepetitions" in c and (not _is_int(c["maxRepetitions"]) or c["maxRepetitions"] < 0):
        raise _malformed("constraints.maxRepetitions must be an integer ≥ 0")
    if "rateLimit" in c:
        r = _exact_members(c["rateLimit"], "constraints.rateLimit", ("maxCalls", "windowMs"))
        if not (_is_int(r["maxCalls"]) and _is_int(r["windowMs"])) or r["maxCalls"] < 0 or r["windowMs"] < 1:
            raise _malformed("constraints.rateLimit must have integers maxCalls ≥ 0 and windowMs ≥ 1")
    if "requiresHumanPresence" in c and not isinstance(c["requiresHumanPresence"], bool):
        raise _malformed("constraints.requiresHumanPresence must be a boolean")
    if "quorum" in c:
        q = _exact_members(c["quorum"], "constraints.quorum", ("required", "authorized"))
        auth = q["authorized"]
        if not isinstance(auth, list) or not 1 <= len(auth) <= MAX_QUORUM_OPERATORS:
            raise _malformed("constraints.quorum.authorized must have 1..%d operator ids" % MAX_QUORUM_OPERATORS)
        if not _is_int(q["required"]) or not 1 <= q["required"] <= len(auth):
            raise _malformed("constraints.quorum.required must be 1..len(authorized)")
        for i, op in enumerate(auth):
            if not isinstance(op, str) or not op or len(op.encode()) > 128:
                raise _malformed("constraints.quorum.authorized[%d] must be 1..128 bytes" % i)
            if op in auth[:i]:
                raise _malformed("constraints.quorum.authorized[%d] is a duplicate" % i)


def validate_claims(c: Mapping[str, Any]) -> None:
    """Check every schema rule of §3 a single token can be checked against
    (the gateway's step 1). Raises TokenError(MALFORMED_TOKEN) naming the member."""
    _exact_members(c, "payload", _REQUIRED, ("notBefore",))
    if not valid_uuid(c["tokenId"], 7):
        raise _malformed("tokenId must be a lowercase UUIDv7")
    for k in ("issuer", "subject"):
        if not valid_hex_key(c[k]):
            raise _malformed("%s must be 64 lowercase hex" % k)
    why = pattern.valid_pattern(c["resource"])
    if why:
        raise _malformed("resource: " + why)
    acts = c["actions"]
    if not isinstance(acts, list) or not 1 <= len(acts) <= MAX_ACTIONS:
        raise _malformed("actions must have 1..%d entries" % MAX_ACTIONS)
    for i, a in enumerate(acts):
        if not _valid_action(a):
            raise _malformed("actions[%d] is not [a-z0-9._-]{1,64}" % i)
        if a in acts[:i]:
            raise _malformed("actions[%d] is a duplicate" % i)
    if not _is_int(c["tier"]) or not 1 <= c["tier"] <= 5:
        raise _malformed("tier must be an integer 1..5")
    for k in ("issuedAt", "expiresAt") + (("notBefore",) if c.get("notBefore") is not None else ()):
        if not _is_int(c[k]) or c[k] < 0:
            raise _malformed("%s must be an integer ≥ 0 (unix ms)" % k)
    if c["expiresAt"] <= c["issuedAt"]:
        raise _malformed("expiresAt must be after issuedAt")
    if c["expiresAt"] - c["issuedAt"] > MAX_LIFETIME_MS:
        raise _malformed("expiresAt - issuedAt exceeds 30 days")
    chain = c["delegationChain"]
    if not isinstance(chain, list) or not chain:
        raise _malformed("delegationChain must not be empty")
    for i, k in enumerate(chain):
        if not valid_hex_key(k):
            raise _malformed("delegationChain[%d] must be 64 lowercase hex" % i)
    if c["parentTokenId"] is not None and not valid_uuid(c["parentTokenId"], 7):
        raise _malformed("parentTokenId must be a lowercase UUIDv7 or null")
    if not valid_uuid(c["nonce"], 4):
        raise _malformed("nonce must be a lowercase UUIDv4")
    if not isinstance(c["revocable"], bool):
        raise _malformed("revocable must be a boolean")
    _validate_constraints(c["constraints"])


def _valid_action(a: Any) -> bool:
    return isinstance(a, str) and 1 <= len(a) <= 64 and all(ch in "abcdefghijklmnopqrstuvwxyz0123456789._-" for ch in a)


@dataclass(frozen=True)
class Token:
    """A parsed capability token. ``raw`` is the exact JWS; ``claims`` its payload."""

    raw: str
    claims: dict = field(repr=False)

    @property
    def token_id(self) -> str:
        return self.claims["tokenId"]

    @property
    def depth(self) -> int:
        return len(self.claims["delegationChain"]) - 1

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw.encode()).hexdigest()

    def signature_valid(self) -> bool:
        head, _, sig = self.raw.rpartition(".")
        try:
            s = b64url_decode(sig)
        except ValueError:
            return False
        return verify(bytes.fromhex(self.claims["issuer"]), head.encode(), s)

    def verify_signature(self) -> None:
        """Raise TokenError(INVALID_SIGNATURE) unless the issuer signed the token."""
        if not self.signature_valid():
            raise TokenError("token signature does not verify for its issuer", codes.INVALID_SIGNATURE)

    def allows(self, resource: str, action: str) -> bool:
        """Scope only: the resource matches and the action is granted (not validity)."""
        return pattern.match(self.claims["resource"], resource) and action in self.claims["actions"]

    def __str__(self) -> str:
        return self.raw


def parse(raw: str) -> Token:
    """Decode a compact JWS token and check its header and payload schema
    (step 1 of §3.1). The signature is not checked (see Token.verify_signature)."""
    if not isinstance(raw, str):
        raise _malformed("a token is a string")
    raw = raw.strip()
    if len(raw) > MAX_TOKEN_BYTES:
        raise _malformed("token longer than %d bytes" % MAX_TOKEN_BYTES)
    parts = raw.split(".")
    if len(parts) != 3:
        raise _malformed("not a compact JWS (three base64url parts)")
    try:
        hb, pb, sig = (b64url_decode(p) for p in parts)
    except ValueError:
        raise _malformed("a part is not base64url without padding") from None
    if len(sig) != 64:
        raise _malformed("signature is not 64 bytes")
    try:
        h = loads_strict(hb)
        c = loads_strict(pb)
    except (UnicodeDecodeError, ValueError, JCSError) as e:
        raise _malformed("header or payload is not strict JSON: %s" % e) from None
    if not isinstance(h, dict) or h.get("alg") != "EdDSA" or h.get("typ") != "sint-cap+jwt" or set(h) - {"alg", "typ", "kid"}:
        raise _malformed('header must be {"alg":"EdDSA","typ":"sint-cap+jwt"}')
    validate_claims(c)
    if "kid" in h and h["kid"] != c["issuer"]:
        raise _malformed("header kid must equal the issuer")
    return Token(raw=raw, claims=c)


def sign_claims(key: Key, claims: Mapping[str, Any]) -> Token:
    """Validate claims and sign them with key (which must be the issuer)."""
    if not isinstance(claims, Mapping):
        raise _malformed("the claims must be an object")
    c = {k: claims[k] for k in _CLAIMS if k in claims}
    extra = set(claims) - set(_CLAIMS)
    if extra:
        raise _malformed("unknown claim(s): %s" % ", ".join(sorted(extra)))
    validate_claims(c)
    if c["issuer"] != key.agent_id:
        raise _malformed("issuer is not the signing key's public key")
    try:
        payload = json.dumps(c, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except ValueError as e:
        raise _malformed("claims do not encode: %s" % e) from None
    head = b64url(HEADER.encode()) + "." + b64url(payload)
    raw = head + "." + b64url(key.sign(head.encode()))
    return parse(raw)  # what we produce must be acceptable to every verifier


def issue(root: Key, subject: str, resource: str, actions: Iterable[str], *, tier: int = 2,
          ttl_ms: int = 24 * 3600 * 1000, constraints: Optional[Mapping[str, Any]] = None,
          not_before: Optional[int] = None, revocable: bool = True, now: Optional[int] = None) -> Token:
    """Issue a root (depth 0) token signed with root, as ``sintctl token issue``.
    The gateway accepts it once root's public key is a trusted root."""
    t = now_ms() if now is None else now
    c: dict = {
        "tokenId": uuid7(), "issuer": root.agent_id, "subject": subject.lower(), "resource": resource,
        "actions": list(actions), "constraints": dict(constraints or {}), "tier": tier, "issuedAt": t,
        "expiresAt": t + ttl_ms, "delegationChain": [root.agent_id], "parentTokenId": None,
        "nonce": uuid4(), "revocable": revocable,
    }
    if not_before is not None:
        c["notBefore"] = not_before
    return sign_claims(root, c)


_UNSET: Any = object()


def delegate(parent: Token | str, key: Key, subject: str, *, resource: Optional[str] = None,
             actions: Optional[Iterable[str]] = None, tier: Optional[int] = None, ttl_ms: Optional[int] = None,
             constraints: Optional[Mapping[str, Any]] = None, now: Optional[int] = None) -> Token:
    """Delegate a narrower child of parent, signed with key (the parent's subject),
    as ``sintctl token delegate``. Unset fields inherit the parent's; constraints
    given override the named ones (a value None removes one). A child that
    would widen the parent is refused (TokenError, CONSTRAINT_VIOLATION naming
    the field), never clamped. Nothing is sent."""
    p = parse(parent) if isinstance(parent, str) else parent
    p.verify_signature()
    pc = p.claims
    t = now_ms() if now is None else now
    if pc["subject"] != key.agent_id:
        raise TokenError("the delegator key is not the parent's subject", codes.INVALID_CHAIN)
    if p.depth + 1 > MAX_DELEGATION_DEPTH:
        raise TokenError("delegation depth would exceed %d" % MAX_DELEGATION_DEPTH, codes.DELEGATION_DEPTH_EXCEEDED)
    if t >= pc["expiresAt"]:
        raise TokenError("parent token expired", codes.TOKEN_EXPIRED)
    if constraints is not None and not isinstance(constraints, Mapping):
        raise _malformed("constraints must be an object of constraint names")
    cons = json.loads(json.dumps(pc["constraints"]))
    for name, v in (constraints or {}).items():
        if v is None:
            cons.pop(name, None)
        else:
            cons[name] = v
    c = {
        "tokenId": uuid7(), "issuer": key.agent_id, "subject": subject.lower(),
        "resource": pc["resource"] if resource is None else resource,
        "actions": list(pc["actions"]) if actions is None else list(actions), "constraints": cons,
        "tier": pc["tier"] if tier is None else tier, "issuedAt": t,
        "expiresAt": pc["expiresAt"] if ttl_ms is None else t + ttl_ms,
        "delegationChain": list(pc["delegationChain"]) + [key.agent_id], "parentTokenId": pc["tokenId"],
        "nonce": uuid4(), "revocable": True,
    }
    validate_claims(c)
    check_attenuation(pc, c)  # before signing: a widening child is refused whatever else
    return sign_claims(key, c)


def check_attenuation(parent: Mapping[str, Any], child: Mapping[str, Any]) -> None:
    """Raise TokenError(CONSTRAINT_VIOLATION) naming the field unless child only
    narrows parent (§3.2). Both claim sets must be schema-valid."""
    if not pattern.contains(parent["resource"], child["resource"]):
        raise _widening("resource", "%r is not contained in %r" % (child["resource"], parent["resource"]))
    for a in child["actions"]:
        if a not in parent["actions"]:
            raise _widening("actions", "%r is not among the parent's actions" % a)
    if child["tier"] > parent["tier"]:
        raise _widening("tier", "%d > %d" % (child["tier"], parent["tier"]))
    if child["expiresAt"] > parent["expiresAt"]:
        raise _widening("expiresAt", "%d > %d" % (child["expiresAt"], parent["expiresAt"]))
    if not child["revocable"]:
        raise _widening("revocable", "a delegated token must be revocable")
    pc = {k: v for k, v in parent["constraints"].items() if v is not None}
    cc = {k: v for k, v in child["constraints"].items() if v is not None}
    for name in _FLOAT_LIMITS:
        if name not in pc:
            continue
        if name not in cc:
            raise _widening("constraints." + name, "absent in the child but %s in the parent" % pc[name])
        if cc[name] > pc[name]:
            raise _widening("constraints." + name, "%s > %s" % (cc[name], pc[name]))
    if "timeWindow" in pc:
        pw, cw = pc["timeWindow"], cc.get("timeWindow")
        if cw is None:
            raise _widening("constraints.timeWindow", "absent in the child")
        if cw["start"] < pw["start"] or cw["end"] > pw["end"]:
            raise _widening("constraints.timeWindow", "[%d,%d) is not within [%d,%d)" % (cw["start"], cw["end"], pw["start"], pw["end"]))
    if "maxRepetitions" in pc:
        if "maxRepetitions" not in cc:
            raise _widening("constraints.maxRepetitions", "absent in the child")
        if cc["maxRepetitions"] > pc["maxRepetitions"]:
            raise _widening("constraints.maxRepetitions", "%d > %d" % (cc["maxRepetitions"], pc["maxRepetitions"]))
    if "rateLimit" in pc:
        pr, cr = pc["rateLimit"], cc.get("rateLimit")
        if cr is None:
            raise _widening("constraints.rateLimit", "absent in the child")
        if cr["maxCalls"] > pr["maxCalls"] or cr["windowMs"] < pr["windowMs"]:
            raise _widening("constraints.rateLimit", "%d per %d ms is looser than %d per %d ms"
                            % (cr["maxCalls"], cr["windowMs"], pr["maxCalls"], pr["windowMs"]))
    if pc.get("requiresHumanPresence") is True and cc.get("requiresHumanPresence") is not True:
        raise _widening("constraints.requiresHumanPresence", "must stay true")
    if "quorum" in pc:
        pq, cq = pc["quorum"], cc.get("quorum")
        if cq is None:
            raise _widening("constraints.quorum", "absent in the child")
        if cq["required"] < pq["required"]:
            raise _widening("constraints.quorum.required", "%d < %d" % (cq["required"], pq["required"]))
        for op in cq["authorized"]:
            if op not in pq["authorized"]:
                raise _widening("constraints.quorum.authorized", "%r is not authorised by the parent" % op)
    if "geofence" in pc:
        pg, cg = pc["geofence"], cc.get("geofence")
        if cg is None:
            raise _widening("constraints.geofence", "absent in the child")
        if cg["frame"] != pg["frame"]:
            raise _widening("constraints.geofence.frame", "%r is not the parent's frame %r" % (cg["frame"], pg["frame"]))
        if not geofence.polygon_contains(pg["polygon"], cg["polygon"]):
            raise _widening("constraints.geofence.polygon", "not contained in the parent's polygon")


_MAX_CHAIN_WALK = 8


def verify_chain(now: int, leaf: Token | str, chain: Sequence[Token | str] = (), *, roots: Iterable[str],
                 registered: Optional[Mapping[str, str]] = None, revoked: Optional[Callable[[str], bool]] = None,
                 registration: bool = False, allow_non_revocable_roots: bool = False) -> list[Token]:
    """Run the gateway's chain verification (§3.1) offline and return the
    chain, root first; raise TokenError with the first failing step's code.

    ``chain`` holds the inline ancestors (root first, parent last);
    ``registered`` maps tokenId → JWS for ancestors not sent inline;
    ``revoked(tokenId)`` says whether an id (or one of its ancestors) is
    revoked; ``registration`` skips the not-yet-valid check, as registering
    does. Only the gateway knows revocations and circuits: an offline OK is
    necessary, not sufficient."""
    roots = set(roots)
    inline = [c if isinstance(c, str) else c.raw for c in chain]
    t = parse(leaf) if isinstance(leaf, str) else leaf
    links = [t]
    parent_missing = False
    cur = t
    while cur.claims["parentTokenId"] is not None:
        if len(links) >= _MAX_CHAIN_WALK:
            raise TokenError("delegation chain deeper than 3", codes.DELEGATION_DEPTH_EXCEEDED)
        raw = None
        if inline:
            raw = inline.pop()
        elif registered is not None:
            raw = registered.get(cur.claims["parentTokenId"])
        if raw is None:
            parent_missing = True
            break
        cur = parse(raw)
        links.append(cur)
    if inline:
        raise TokenError("inline chain has entries above the root", codes.INVALID_CHAIN)
    links.reverse()
    for i, tok in enumerate(links):
        _verify_link(now, tok, links[i - 1] if i else None, i == 0 and parent_missing, roots, revoked,
                     registration, allow_non_revocable_roots)
    return links


def _verify_link(now: int, t: Token, parent: Optional[Token], parent_missing: bool, roots: set,
                 revoked: Optional[Callable[[str], bool]], registration: bool, allow_nonrev: bool) -> None:
    c = t.claims
    t.verify_signature()
    chain = c["delegationChain"]
    if chain[-1] != c["issuer"]:
        raise TokenError("delegationChain does not end with the issuer", codes.INVALID_CHAIN)
    if c["parentTokenId"] is None:
        if len(chain) != 1:
            raise TokenError("a token without parentTokenId must have depth 0", codes.INVALID_CHAIN)
        if c["issuer"] not in roots:
            raise TokenError("root token issuer is not a trusted root", codes.UNKNOWN_ISSUER)
    else:
        if len(chain) < 2:
            raise TokenError("a token with parentTokenId must have depth ≥ 1", codes.INVALID_CHAIN)
        if parent_missing or parent is None:
            raise TokenError("parent token %s not found" % c["parentTokenId"], codes.TOKEN_NOT_FOUND)
        pc = parent.claims
        if pc["tokenId"] != c["parentTokenId"]:
            raise TokenError("parent token id does not match parentTokenId", codes.INVALID_CHAIN)
        if c["issuer"] != pc["subject"]:
            raise TokenError("issuer is not the parent's subject", codes.INVALID_CHAIN)
        if chain != list(pc["delegationChain"]) + [c["issuer"]]:
            raise TokenError("delegationChain is not the parent's chain plus the issuer", codes.INVALID_CHAIN)
    if len(chain) - 1 > MAX_DELEGATION_DEPTH:
        raise TokenError("delegation depth exceeds 3", codes.DELEGATION_DEPTH_EXCEEDED)
    if now >= c["expiresAt"]:
        raise TokenError("token expired", codes.TOKEN_EXPIRED)
    if not registration and (now < c["issuedAt"] - CLOCK_SKEW_MS or (c.get("notBefore") is not None and now < c["notBefore"])):
        raise TokenError("token not yet valid", codes.TOKEN_NOT_YET_VALID)
    if revoked is not None and revoked(c["tokenId"]):
        raise TokenError("token revoked", codes.TOKEN_REVOKED)
    if parent is None:
        if not c["revocable"] and not allow_nonrev:
            raise TokenError("non-revocable root tokens are not allowed", codes.CONSTRAINT_VIOLATION)
        return
    check_attenuation(parent.claims, c)
