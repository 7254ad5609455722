#!/usr/bin/python3
"""An example robot agent on the sintgate Python SDK.

Run it against a gateway started with `make run` (which prints the admin key):

    export SINT_URL=http://127.0.0.1:8080 SINT_API_KEY=sk_...
    PYTHONPATH=sdk/python/src /usr/bin/python3 sdk/python/examples/agent.py

It keeps its keys in --dir (default ~/.config/sintgate-example, mode 0600
files), uses the admin key once to trust its demo root issuer, then acts as
the agent: a sensor read (allowed, tier 1), a drive command too fast for its
token (denied PHYSICS_CONSTRAINT), and a slow drive command (tier 3: it waits
until an operator approves it with `sintctl approvals approve <id>`). Every
action runs only after a verified attestation for exactly its params.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import sintgate  # noqa: E402
from sintgate import ApiError, Client, Denied, Operator, guarded, keys, tokens  # noqa: E402


def load_or_create(path: str) -> sintgate.Key:
    if os.path.exists(path):
        return keys.load(path)
    k = keys.generate()
    keys.save(path, k)
    return k


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("SINT_URL", "http://127.0.0.1:8080"))
    ap.add_argument("--api-key", default=os.environ.get("SINT_API_KEY", ""), help="admin key (to trust the demo root)")
    ap.add_argument("--dir", default=os.path.expanduser("~/.config/sintgate-example"))
    a = ap.parse_args()
    os.makedirs(a.dir, mode=0o700, exist_ok=True)
    root = load_or_create(os.path.join(a.dir, "root.key"))
    agent = load_or_create(os.path.join(a.dir, "agent.key"))

    # Operator setup, once: trust the root issuer (scope admin).
    if a.api_key:
        try:
            Operator(a.url, a.api_key).add_root(root.agent_id, "python-example-root")
        except ApiError as e:
            if e.status != 409:  # 409: already trusted
                raise
    # The root issues the agent a token, offline: any ros topic, publish and
    # subscribe, up to tier 3, at most 0.5 m/s. Sent inline, no registration needed.
    token = tokens.issue(root, agent.agent_id, "ros:///**", ["publish", "subscribe"], tier=3, ttl_ms=3600_000,
                         constraints={"maxVelocityMps": 0.5})
    client = Client(a.url, agent, token=token)
    print("agent %s on %s" % (agent.agent_id, a.url), flush=True)

    def waiting(d: sintgate.Decision) -> None:
        print("escalate: tier %d, approval %s; an operator approves with: sintctl approvals approve %s"
              % (d.tier, d.approval_id, d.approval_id), flush=True)

    @guarded(client, "ros:///scan", "subscribe")
    def read_scan(sint_decision=None):
        return "scan read under attestation jti %s" % sint_decision.claims["jti"]

    @guarded(client, "ros:///cmd_vel", "publish", on_escalate=waiting, wait_timeout_s=300)
    def drive(linear, angular, sint_decision=None):
        # A real agent hands sint_decision.attestation to the bridge, which verifies it again.
        return "drove at %.1f m/s (ledger #%d)" % (linear["x"], sint_decision.claims["ledgerSeq"])

    print("allow: ros:///scan, attestation verified:", read_scan(), flush=True)
    try:
        drive(linear={"x": 0.9, "y": 0, "z": 0}, angular={"x": 0, "y": 0, "z": 0})
        print("unexpected: a drive at 0.9 m/s was allowed")
        return 1
    except Denied as e:
        print("deny: %s (%s)" % (e.code, e.reason), flush=True)
    try:
        result = drive(linear={"x": 0.3, "y": 0, "z": 0}, angular={"x": 0, "y": 0, "z": 0.1})
    except Denied as e:  # ApprovalNotGranted: APPROVAL_DENIED, APPROVAL_TIMEOUT, APPROVAL_CANCELLED
        print("not approved: %s (%s); the robot did not move" % (e.code, e.reason), flush=True)
        return 2
    print("approved: ros:///cmd_vel, attestation verified:", result, flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except sintgate.SintError as e:  # unreachable gateway, bad key file, attestation refused...
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
