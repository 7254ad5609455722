"""``guarded``: wrap any action (an LLM framework's tool) so that it runs only
after the gateway allowed exactly that command and its attestation verified.

    @guarded(client, "ros:///cmd_vel", "publish")
    def drive(linear, angular, sint_decision=None):
        bridge.publish(linear, angular, attestation=sint_decision.attestation)

    drive(linear={"x": 0.2, "y": 0, "z": 0}, angular={"x": 0, "y": 0, "z": 0})

The command's params are the call's keyword arguments (or what ``params``
computes from the call); ``resource`` may be a callable of the call too. The
wrapped function is never called on a deny (Denied is raised, with its code),
on an escalation that is not granted (ApprovalNotGranted / EscalationPending),
on an attestation that does not verify (AttestationError), or when the
gateway cannot be reached (TransportError). For a tool framework that wants a
string rather than an exception, ``on_refusal`` turns the error into the
tool's return value (e.g. ``lambda e: f"refused: {e.code}"``).
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Optional, Union

from .client import Client, Decision
from .errors import SintError

__all__ = ["guarded"]


def guarded(client: Client, resource: Union[str, Callable[..., str]], action: str, *,
            params: Optional[Callable[..., Any]] = None, wait: bool = True, wait_timeout_s: float = 300.0,
            pass_decision: Optional[bool] = None, on_refusal: Optional[Callable[[SintError], Any]] = None,
            on_escalate: Optional[Callable[[Decision], None]] = None):
    """Decorate fn so that each call is intercepted first and fn runs only on
    a verified allow. ``pass_decision`` (default: when fn has a parameter
    ``sint_decision``) hands fn the Decision, whose ``attestation`` a bridge
    needs."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        give = pass_decision if pass_decision is not None else "sint_decision" in sig.parameters

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            if params is not None:
                p = params(*args, **kwargs)
            else:
                if args:
                    raise TypeError("a guarded tool takes keyword arguments only (or give params=)")
                p = dict(kwargs)
            res = resource(*args, **kwargs) if callable(resource) else resource
            try:
                d = client.authorize(res, action, p, wait=wait, wait_timeout_s=wait_timeout_s, on_escalate=on_escalate)
            except SintError as e:
                if on_refusal is not None:
                    return on_refusal(e)
                raise
            if not d.allowed or d.claims is None:  # authorize returns nothing else; never act on less
                raise SintError("no verified allow")
            if give:
                kwargs["sint_decision"] = d
            return fn(*args, **kwargs)

        run.sint_resource = resource  # type: ignore[attr-defined]
        run.sint_action = action  # type: ignore[attr-defined]
        return run

    return wrap
