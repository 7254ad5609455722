"""sintgate: the Python agent SDK of the sintgate robotics safety gateway.

Wire contract: docs/protocol.md (sintgate/v1). Quick start: sdk/python/README.md.
"""

from . import attest, jcs, keys, ledger, pattern, tokens
from .attest import Expect, JWKS, JWKSCache, verify_attestation
from .client import Client, Decision, Operator, sign_request
from .errors import (ApiError, ApprovalNotGranted, AttestationError, Denied, EscalationPending, EstopEngaged,
                     KeyFileError, ProtocolError, SintError, TokenError, TransportError, codes)
from .guard import guarded
from .jcs import canonicalize, params_hash
from .keys import Key
from .tokens import Token

__version__ = "0.1.0"
PROTOCOL = "sintgate/v1"

__all__ = [
    "attest", "jcs", "keys", "ledger", "pattern", "tokens",
    "Expect", "JWKS", "JWKSCache", "verify_attestation",
    "Client", "Decision", "Operator", "sign_request",
    "ApiError", "ApprovalNotGranted", "AttestationError", "Denied", "EscalationPending", "EstopEngaged",
    "KeyFileError", "ProtocolError", "SintError", "TokenError", "TransportError", "codes",
    "guarded", "canonicalize", "params_hash", "Key", "Token", "PROTOCOL",
]
