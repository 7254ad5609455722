"""Typed errors. Every error that carries a gateway code has it in ``.code``.

Codes are the stable strings of docs/protocol.md §5.2 and §5.5; a code this
SDK does not know is still a deny (``Denied``), never an allow.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "SintError", "KeyFileError", "TokenError", "Denied", "EstopEngaged", "ApprovalNotGranted",
    "AttestationError", "TransportError", "ApiError", "ProtocolError", "EscalationPending", "codes",
]


class codes:  # noqa: N801 - a namespace of constants, like the Go package codes
    """The stable deny and error codes (docs/protocol.md §5.2, §5.5)."""

    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    STALE_REQUEST = "STALE_REQUEST"
    REPLAY_DETECTED = "REPLAY_DETECTED"
    CIRCUIT_OPEN = "CIRCUIT_OPEN"
    TOKEN_NOT_FOUND = "TOKEN_NOT_FOUND"
    MALFORMED_TOKEN = "MALFORMED_TOKEN"
    INVALID_SIGNATURE = "INVALID_SIGNATURE"
    UNKNOWN_ISSUER = "UNKNOWN_ISSUER"
    INVALID_CHAIN = "INVALID_CHAIN"
    DELEGATION_DEPTH_EXCEEDED = "DELEGATION_DEPTH_EXCEEDED"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_NOT_YET_VALID = "TOKEN_NOT_YET_VALID"
    TOKEN_REVOKED = "TOKEN_REVOKED"
    TOKEN_SUBJECT_MISMATCH = "TOKEN_SUBJECT_MISMATCH"
    CONSTRAINT_VIOLATION = "CONSTRAINT_VIOLATION"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    GOAL_HIJACK = "GOAL_HIJACK"
    PHYSICS_CONSTRAINT = "PHYSICS_CONSTRAINT"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    REPETITIONS_EXHAUSTED = "REPETITIONS_EXHAUSTED"
    TIER_EXCEEDED = "TIER_EXCEEDED"
    ESTOP_ENGAGED = "ESTOP_ENGAGED"
    APPROVAL_DENIED = "APPROVAL_DENIED"
    APPROVAL_TIMEOUT = "APPROVAL_TIMEOUT"
    APPROVAL_CANCELLED = "APPROVAL_CANCELLED"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    LEDGER_UNAVAILABLE = "LEDGER_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"


class SintError(Exception):
    """Base of every error of this SDK. ``code`` is a gateway code or None."""

    code: Optional[str] = None

    def __init__(self, message: str, code: Optional[str] = None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return "%s: %s" % (self.code, self.message) if self.code else self.message


class KeyFileError(SintError):
    """A key file cannot be read, written or trusted."""


class TokenError(SintError):
    """A capability token was refused locally, with the code the gateway would answer
    (MALFORMED_TOKEN, INVALID_SIGNATURE, INVALID_CHAIN, DELEGATION_DEPTH_EXCEEDED,
    TOKEN_EXPIRED, CONSTRAINT_VIOLATION, ...). Nothing was sent."""


class Denied(SintError):
    """The gateway denied the request. ``code`` is the deny code, ``reason`` its text,
    ``decision`` the whole decision body, ``status`` the HTTP status."""

    def __init__(self, decision: dict, status: int):
        code = decision.get("code")
        if not isinstance(code, str) or not code:
            code = codes.INTERNAL_ERROR  # a deny without a readable code is still a deny
        reason = decision.get("reason") if isinstance(decision.get("reason"), str) else ""
        super().__init__(reason or "denied", code)
        self.reason = reason
        self.decision = decision
        self.status = status
        self.request_id = decision.get("requestId")

    @property
    def ledger(self) -> Optional[dict]:
        return self.decision.get("ledger")


class EstopEngaged(Denied):
    """Denied because the e-stop is tripped (ESTOP_ENGAGED)."""


class ApprovalNotGranted(Denied):
    """An escalation ended without a grant: APPROVAL_DENIED, APPROVAL_TIMEOUT,
    APPROVAL_CANCELLED, or the code of the re-check at grant time."""


class EscalationPending(SintError):
    """An escalation is still pending after the caller's wait budget ran out.
    ``approval_id`` names it; waiting again is allowed."""

    def __init__(self, approval_id: str, message: str = "approval still pending"):
        super().__init__(message + " (approval %s)" % approval_id)
        self.approval_id = approval_id


class AttestationError(SintError):
    """An attestation did not verify. ``reason`` is one of the stable reasons of
    gateway/attest (ATTESTATION_BAD_SIGNATURE, ATTESTATION_MISMATCH, ...),
    ``claim`` the offending claim if any; ``code`` the wire code it maps to."""

    _CODE = {
        "ATTESTATION_MALFORMED": codes.MALFORMED_TOKEN,
        "ATTESTATION_BAD_HEADER": codes.MALFORMED_TOKEN,
        "ATTESTATION_BAD_LIFETIME": codes.MALFORMED_TOKEN,
        "ATTESTATION_UNKNOWN_KID": codes.UNKNOWN_ISSUER,
        "ATTESTATION_WRONG_ISSUER": codes.UNKNOWN_ISSUER,
        "ATTESTATION_BAD_SIGNATURE": codes.INVALID_SIGNATURE,
        "ATTESTATION_NOT_YET_VALID": codes.TOKEN_NOT_YET_VALID,
        "ATTESTATION_EXPIRED": codes.TOKEN_EXPIRED,
        "ATTESTATION_MISMATCH": codes.INSUFFICIENT_PERMISSIONS,
    }

    def __init__(self, reason: str, claim: str = "", detail: str = ""):
        msg = "attestation rejected: " + reason + (" (%s)" % claim if claim else "") + (": " + detail if detail else "")
        super().__init__(msg, self._CODE.get(reason, codes.INTERNAL_ERROR))
        self.reason = reason
        self.claim = claim


class TransportError(SintError):
    """The gateway could not be reached, or kept failing, after every retry.
    Nothing may be assumed allowed."""


class ProtocolError(SintError):
    """The gateway answered something this SDK cannot read as the contract says."""


class ApiError(SintError):
    """An operator endpoint answered ``{"error":{"code","message"}}``."""

    def __init__(self, status: int, code: Optional[str], message: str, body: Any = None):
        super().__init__("%s (HTTP %d)" % (message, status), code or ("HTTP_%d" % status))
        self.status = status
        self.body = body


_DENY_CLASS = {
    codes.ESTOP_ENGAGED: EstopEngaged,
    codes.APPROVAL_DENIED: ApprovalNotGranted,
    codes.APPROVAL_TIMEOUT: ApprovalNotGranted,
    codes.APPROVAL_CANCELLED: ApprovalNotGranted,
}


def denied(decision: dict, status: int, after_approval: bool = False) -> Denied:
    """The typed exception for a deny decision body (an unknown code is a plain Denied)."""
    code = decision.get("code")
    cls = _DENY_CLASS.get(code if isinstance(code, str) else "", ApprovalNotGranted if after_approval else Denied)
    return cls(decision, status)
