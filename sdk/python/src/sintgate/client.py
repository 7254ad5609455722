"""The agent's client: signed intercepts, approval waits, e-stop trips.

Every agent call is signed (docs/protocol.md §4.1): the body carries
``agentId``, a fresh UUIDv7 ``requestId`` and ``timestamp``; the headers
``X-Agent-Id``, ``X-Agent-Timestamp`` and ``X-Agent-Sig`` (base64url Ed25519
signature of the exact body bytes sent). A retry is a new request: new
requestId, new timestamp, new signature. The gateway refuses a requestId it
has seen (``REPLAY_DETECTED``), and a retried command whose first answer was
lost is simply decided again.

An allow is returned only with its attestation verified offline (against a
cached JWKS) for exactly this agent, resource, action and params hash; every
deny is raised as ``Denied`` (or a subclass) carrying the deny code.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from . import tokens as _tokens
from ._util import b64url, now_ms, uuid7
from .attest import Expect, JWKSCache, verify_attestation
from .errors import (ApiError, AttestationError, EscalationPending, ProtocolError, TransportError, codes, denied)
from .jcs import params_hash
from .keys import Key

__all__ = ["Client", "Operator", "Decision", "sign_request"]

PROTOCOL = "sintgate/v1"
_RETRY_CODES = {codes.LEDGER_UNAVAILABLE, codes.INTERNAL_ERROR}
_MAX_BODY = 1 << 20


class _Unreachable(Exception):
    """A transport failure (no HTTP answer): retried, then TransportError."""


def sign_request(key: Key, body: Mapping[str, Any], timestamp: Optional[int] = None) -> tuple[bytes, dict]:
    """Serialise body (adding nothing) and return (bytes, headers) for an agent call.

    body must already hold agentId, requestId and timestamp; the signature
    covers exactly the returned bytes, so send them unchanged."""
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    ts = body["timestamp"] if timestamp is None else timestamp
    return raw, {
        "Content-Type": "application/json",
        "X-Agent-Id": key.agent_id,
        "X-Agent-Timestamp": str(ts),
        "X-Agent-Sig": b64url(key.sign(raw)),
    }


def _http(url: str, method: str, body: Optional[bytes], headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(_MAX_BODY)
    except urllib.error.HTTPError as e:
        try:
            data = e.read(_MAX_BODY)
        finally:
            e.close()
        return e.code, data
    except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError, OSError) as e:
        raise _Unreachable(str(e)) from e


@dataclass
class Decision:
    """An answer of the gateway to one command.

    ``decision`` is "allow" or "escalate" (a deny is raised, never returned).
    On an allow, ``claims`` are the verified attestation claims and
    ``attestation`` the JWS to hand to the bridge. ``request_id`` is the
    requestId the gateway decided (the last attempt's)."""

    decision: str
    status: int
    body: dict
    resource: str
    action: str
    params: Any
    params_hash: str
    request_id: str
    claims: Optional[dict] = None
    attempts: list = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow" and self.claims is not None

    @property
    def approval_id(self) -> Optional[str]:
        return self.body.get("approvalId")

    @property
    def attestation(self) -> Optional[str]:
        return self.body.get("attestation")

    @property
    def tier(self) -> int:
        return self.body.get("tier") or 0

    @property
    def envelope(self) -> Optional[dict]:
        return self.body.get("envelope")

    @property
    def ledger(self) -> Optional[dict]:
        return self.body.get("ledger")


class Client:
    """An agent's connection to one gateway.

    ``key`` signs every call. ``token`` is the capability token used by
    default (a Token or JWS, sent inline with ``chain``, its unregistered
    ancestors, root first), or ``token_id`` a registered one. ``jwks`` is the
    key cache attestations are verified against (default: fetched from this
    gateway once, and again only for an unknown kid; give a JWKSCache with a
    path to keep it across runs). ``gateway_id`` is the issuer attestations
    must name (default: read once from /.well-known/sint.json).

    Retries: transport failures and 5xx answers with LEDGER_UNAVAILABLE or
    INTERNAL_ERROR are retried up to ``retries`` times with exponential
    backoff from ``backoff_s``, each as a new signed request with a fresh
    requestId. Denies are never retried."""

    def __init__(self, url: str, key: Key, *, token: "_tokens.Token | str | None" = None,
                 token_id: Optional[str] = None, chain: Sequence["_tokens.Token | str"] = (),
                 jwks: Optional[JWKSCache] = None, gateway_id: Optional[str] = None, timeout_s: float = 10.0,
                 retries: int = 3, backoff_s: float = 0.2):
        self.url = url.rstrip("/")
        self.key = key
        self.token = _tokens.parse(token) if isinstance(token, str) else token
        self.token_id = token_id
        self.chain = [c if isinstance(c, str) else c.raw for c in chain]
        self.jwks = jwks if jwks is not None else JWKSCache(fetch=self.fetch_jwks)
        if self.jwks.fetch is None:
            self.jwks.fetch = self.fetch_jwks
        self.gateway_id = gateway_id
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

    @property
    def agent_id(self) -> str:
        return self.key.agent_id

    # -- public, unauthenticated -------------------------------------------------

    def _get_public(self, path: str) -> bytes:
        try:
            status, data = _http(self.url + path, "GET", None, {}, self.timeout_s)
        except _Unreachable as e:
            raise TransportError("GET %s: %s" % (path, e)) from None
        if status != 200:
            raise ProtocolError("GET %s answered HTTP %d" % (path, status))
        return data

    def fetch_jwks(self) -> bytes:
        """GET /.well-known/jwks.json (what the JWKS cache calls on a miss)."""
        return self._get_public("/.well-known/jwks.json")

    def discovery(self) -> dict:
        """GET /.well-known/sint.json."""
        try:
            doc = json.loads(self._get_public("/.well-known/sint.json"))
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise ProtocolError("/.well-known/sint.json is not a JSON object")
        return doc

    def _issuer(self) -> str:
        if self.gateway_id is None:
            try:
                gid = self.discovery().get("gatewayId")
            except (TransportError, ProtocolError) as e:
                raise AttestationError("ATTESTATION_KEYS_UNAVAILABLE", "iss", "gateway id unknown: %s" % e) from None
            if not isinstance(gid, str) or not gid:
                raise AttestationError("ATTESTATION_KEYS_UNAVAILABLE", "iss", "sint.json has no gatewayId")
            self.gateway_id = gid
        return self.gateway_id

    # -- signed calls ----------------------------------------------------------------

    def _signed(self, path: str, fields: Mapping[str, Any], *, timeout_s: Optional[float] = None,
                retry_statuses: bool = True) -> tuple[int, dict, str, list]:
        """POST an agent-signed body, retrying as a new request each time.
        Returns (status, decoded body, requestId of the answered attempt, every requestId sent)."""
        sent: list = []
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            rid = uuid7()  # never reused: a retry is a new request
            sent.append(rid)
            ts = now_ms()
            body = {"requestId": rid, "agentId": self.key.agent_id, "timestamp": ts}
            body.update(fields)
            raw, headers = sign_request(self.key, body)
            try:
                status, data = _http(self.url + path, "POST", raw, headers, timeout_s or self.timeout_s)
            except _Unreachable as e:
                last = TransportError("POST %s: %s" % (path, e))
                continue
            try:
                doc = json.loads(data) if data else {}
            except ValueError:
                doc = None
            if not isinstance(doc, dict):
                if status >= 500 and retry_statuses:  # a proxy's or load balancer's failure page
                    last = TransportError("POST %s answered HTTP %d without a decision" % (path, status))
                    continue
                raise ProtocolError("POST %s answered HTTP %d with a body that is not a JSON object" % (path, status))
            code = doc.get("code") or _error_fields(doc)[0]
            if status >= 500 and retry_statuses and (code in _RETRY_CODES or code is None):
                last = _as_error(status, doc, rid)
                continue
            return status, doc, rid, sent
        assert last is not None
        if isinstance(last, TransportError):
            last.request_ids = sent  # type: ignore[attr-defined]
        raise last

    def _token_fields(self, token: "_tokens.Token | str | None", token_id: Optional[str],
                      chain: Optional[Sequence["_tokens.Token | str"]]) -> dict:
        if token is not None:
            return {"token": token if isinstance(token, str) else token.raw,
                    **({"chain": [c if isinstance(c, str) else c.raw for c in chain]} if chain else {})}
        if token_id is not None:
            return {"tokenId": token_id}
        if self.token is not None:
            return {"token": self.token.raw, **({"chain": list(self.chain)} if self.chain else {})}
        if self.token_id is not None:
            return {"tokenId": self.token_id}
        raise ValueError("no capability token: pass token= or token_id=")

    def intercept(self, resource: str, action: str, params: Any = None, *,
                  token: "_tokens.Token | str | None" = None, token_id: Optional[str] = None,
                  chain: Optional[Sequence["_tokens.Token | str"]] = None, physical_context: Optional[Mapping[str, Any]] = None,
                  recent_actions: Optional[Iterable[str]] = None) -> Decision:
        """Ask the gateway whether to carry out one command.

        Returns a Decision: "allow" (its attestation verified) or "escalate"
        (wait with ``wait``). Raises Denied (EstopEngaged, ...) with the deny
        code, AttestationError if an allow's attestation does not verify,
        TransportError when the gateway cannot be reached after the retries."""
        fields: dict = self._token_fields(token, token_id, chain)
        fields["resource"] = resource
        fields["action"] = action
        if params is not None:
            fields["params"] = params
        if physical_context is not None:
            fields["physicalContext"] = dict(physical_context)
        if recent_actions is not None:
            fields["recentActions"] = list(recent_actions)
        ph = params_hash(params)  # also refuses params without a canonical form before sending
        status, doc, rid, sent = self._signed("/v1/intercept", fields)
        return self._decision(status, doc, rid, sent, resource, action, params, ph, after_approval=False)

    def _decision(self, status: int, doc: dict, rid: str, sent: list, resource: str, action: str, params: Any,
                  ph: str, *, after_approval: bool) -> Decision:
        kind = doc.get("decision")
        if kind == "deny" or (kind is None and "error" in doc):
            raise _as_error(status, doc, rid, after_approval)
        d = Decision(decision=kind, status=status, body=doc, resource=resource, action=action, params=params,
                     params_hash=ph, request_id=rid, attempts=sent)
        if kind == "escalate" and status == 202 and isinstance(doc.get("approvalId"), str):
            return d
        if kind == "allow" and status == 200:
            att = doc.get("attestation")
            if not isinstance(att, str):
                raise AttestationError("ATTESTATION_MALFORMED", "", "an allow without an attestation")
            d.claims = self.verify(att, resource, action, ph)
            if not after_approval and d.claims["jti"] != rid:
                raise AttestationError("ATTESTATION_MISMATCH", "jti", "not the requestId sent")
            return d
        raise ProtocolError("unexpected answer: HTTP %d decision %r" % (status, kind))

    def verify(self, attestation: str, resource: str, action: str, params_hash_hex: str) -> dict:
        """Verify an attestation offline for this agent and exactly that command."""
        return verify_attestation(attestation, self.jwks, Expect(self.key.agent_id, resource, action, params_hash_hex),
                                  issuer=self._issuer())

    def wait(self, decision: Decision, timeout_s: float = 300.0) -> Decision:
        """Wait for an escalation to resolve (POST /v1/approvals/{id}/wait, a
        30 s long poll, repeated while pending). Returns the allow of the
        original request with its attestation verified against the original
        params; raises ApprovalNotGranted (APPROVAL_DENIED, APPROVAL_TIMEOUT,
        APPROVAL_CANCELLED or the re-check's code), or EscalationPending when
        timeout_s runs out first."""
        if decision.decision == "allow":
            return decision
        aid = decision.approval_id
        if not aid:
            raise ValueError("not an escalation")
        deadline = time.monotonic() + timeout_s
        while True:
            status, doc, rid, sent = self._signed("/v1/approvals/%s/wait" % aid, {}, timeout_s=45.0)
            if doc.get("decision") == "escalate" and status == 202:
                if time.monotonic() >= deadline:
                    raise EscalationPending(aid)
                continue
            d = self._decision(status, doc, rid, sent, decision.resource, decision.action, decision.params,
                               decision.params_hash, after_approval=True)
            if d.claims is not None and d.claims["jti"] != decision.request_id:
                raise AttestationError("ATTESTATION_MISMATCH", "jti", "not the escalated request's requestId")
            return d

    def authorize(self, resource: str, action: str, params: Any = None, *, wait: bool = True,
                  wait_timeout_s: float = 300.0, on_escalate=None, **kw) -> Decision:
        """intercept, and on an escalation wait for the humans (unless wait is
        False: then EscalationPending is raised). Returns only a verified allow."""
        d = self.intercept(resource, action, params, **kw)
        if d.decision == "escalate":
            if on_escalate is not None:
                on_escalate(d)
            if not wait:
                raise EscalationPending(d.approval_id or "")
            d = self.wait(d, wait_timeout_s)
        if not d.allowed:  # belt and braces: nothing but a verified allow leaves here
            raise ProtocolError("no verified allow")
        return d

    def estop_trip(self, reason: str) -> dict:
        """Trip the e-stop as this agent (it must hold a registered, unrevoked
        token). Idempotent; retried on transport failures. Returns the
        breaker state {"state","epoch",...}."""
        status, doc, rid, _ = self._signed("/v1/estop/trip", {"reason": reason})
        if status != 200:
            raise _as_error(status, doc, rid)
        return doc

    def register_delegated(self, token: "_tokens.Token | str") -> dict:
        """Register a token this agent delegated (POST /v1/tokens/delegate,
        agent-signed; this agent must be the parent's subject)."""
        raw = token if isinstance(token, str) else token.raw
        status, doc, rid, _ = self._signed("/v1/tokens/delegate", {"token": raw})
        if status != 201:
            raise _as_error(status, doc, rid)
        return doc

    def delegate(self, subject: str, *, register: bool = False, **kw) -> "_tokens.Token":
        """Delegate a narrower child of this client's token to subject (checked
        locally, see tokens.delegate); with register=True also register it."""
        if self.token is None:
            raise ValueError("the client has no inline token to delegate from")
        child = _tokens.delegate(self.token, self.key, subject, **kw)
        if register:
            self.register_delegated(child)
        return child

    def guard(self, resource: str, action: str, params: Any, act, **kw):
        """Run act(decision) only after a verified allow of this command."""
        d = self.authorize(resource, action, params, **kw)
        return act(d)


def _error_fields(doc: Any) -> tuple[Optional[str], Optional[str]]:
    """(code, message) of an {"error":{"code","message"}} body, if it is one."""
    err = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(err, dict):
        return None, None
    code, msg = err.get("code"), err.get("message")
    return (code if isinstance(code, str) else None), (msg if isinstance(msg, str) else None)


def _as_error(status: int, doc: dict, rid: str, after_approval: bool = False) -> Exception:
    if "decision" in doc:
        e = denied(doc, status, after_approval)
        if e.request_id is None:
            e.request_id = rid
        return e
    code, msg = _error_fields(doc)
    return ApiError(status, code, msg or "HTTP %d" % status, doc)


class Operator:
    """An operator's API-key client, for setup and the human side in tests and
    tools (scoped keys: ``Authorization: Bearer sk_…``)."""

    def __init__(self, url: str, api_key: str, timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Any = None, ok: Sequence[int] = (200, 201)) -> Any:
        raw = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"Authorization": "Bearer " + self.api_key}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        try:
            status, data = _http(self.url + path, method, raw, headers, self.timeout_s)
        except _Unreachable as e:
            raise TransportError("%s %s: %s" % (method, path, e)) from None
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        if status not in ok:
            code, msg = _error_fields(doc)
            raise ApiError(status, code, msg or "HTTP %d" % status, doc)
        return doc

    def add_root(self, public_key_hex: str, name: str = "") -> dict:
        return self.call("POST", "/v1/roots", {"publicKey": public_key_hex, **({"name": name} if name else {})})

    def register_token(self, token: "_tokens.Token | str") -> dict:
        return self.call("POST", "/v1/tokens", {"token": token if isinstance(token, str) else token.raw})

    def approval(self, approval_id: str) -> dict:
        return self.call("GET", "/v1/approvals/" + approval_id)

    def approve(self, approval_id: str, reason: str = "") -> dict:
        return self.call("POST", "/v1/approvals/%s/approve" % approval_id, {"reason": reason})

    def deny(self, approval_id: str, reason: str = "") -> dict:
        return self.call("POST", "/v1/approvals/%s/deny" % approval_id, {"reason": reason})

    def estop(self) -> dict:
        return self.call("GET", "/v1/estop")

    def estop_reset(self, reason: str) -> dict:
        return self.call("POST", "/v1/estop/reset", {"reason": reason})

    def checkpoint(self) -> dict:
        return self.call("GET", "/v1/ledger/checkpoint")

    def proof(self, event_id: str) -> dict:
        return self.call("GET", "/v1/ledger/proof/" + event_id)
