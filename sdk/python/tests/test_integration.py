"""The SDK against a real gateway (see conftest.py): allow with a verified
attestation (also checked by PyJWT), deny with its code as a typed error,
an escalation approved through the sintctl binary, retries that never
reuse a requestId, SDK-minted delegated tokens, the guarded helper, the
example agent, and an agent's e-stop trip (last: it trips the gateway)."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from sintgate import (ApiError, ApprovalNotGranted, TransportError, Client, Denied, EstopEngaged, JWKS, Operator, TokenError, codes, guarded,
                      keys, ledger, params_hash, tokens)

pytestmark = pytest.mark.integration

TWIST_FAST = {"linear": {"x": 0.9, "y": 0, "z": 0}, "angular": {"x": 0, "y": 0, "z": 0}}
TWIST_SLOW = {"linear": {"x": 0.3, "y": 0, "z": 0}, "angular": {"x": 0, "y": 0, "z": 0.1}}


@pytest.fixture(scope="module")
def op(gateway):
    return Operator(gateway.url, gateway.admin_key)


@pytest.fixture(scope="module")
def world(gateway, op):
    """A trusted root, the agent alice with a registered root token, and bob."""
    root, alice, bob = keys.generate(), keys.generate(), keys.generate()
    op.add_root(root.agent_id, "pysdk-test-root")
    tok = tokens.issue(root, alice.agent_id, "ros:///**", ["publish", "subscribe"], tier=3, ttl_ms=3600_000,
                       constraints={"maxVelocityMps": 0.5})
    reg = op.register_token(tok)
    assert reg["token"] == tok.raw and reg["tokenId"] == tok.token_id
    return {"root": root, "alice": alice, "bob": bob, "token": tok}


@pytest.fixture
def alice(gateway, world):
    return Client(gateway.url, world["alice"], token=world["token"])


def _jwks(url: str) -> dict:
    with urllib.request.urlopen(url + "/.well-known/jwks.json", timeout=5) as r:
        return json.load(r)


def test_allow_with_verified_attestation(gateway, op, alice, world):
    d = alice.intercept("ros:///scan", "subscribe")
    assert d.allowed and d.status == 200 and d.tier == 1
    assert d.claims["sub"] == world["alice"].agent_id and d.claims["aud"] == "ros:///scan"
    assert d.claims["jti"] == d.request_id and d.claims["paramsHash"] == params_hash(None)
    # With params: the attestation binds exactly the params sent (JCS hash).
    params = {"frame": "base_link", "rate": 10.0, "note": "café ☕ \u2028 \U0001f600", "n": [1, 2.5, 1e-7, 2 ** 60 + 1, -0.0, 1e21]}
    d2 = alice.intercept("ros:///scan", "subscribe", params)
    assert d2.claims["paramsHash"] == params_hash(params)
    # An independent library checks it: PyJWT with the gateway's published JWKS.
    jwt = __import__("jwt")
    jwks = _jwks(gateway.url)
    kid = jwt.get_unverified_header(d2.attestation)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    c = jwt.decode(d2.attestation, key, algorithms=["EdDSA"], audience="ros:///scan", issuer=alice.gateway_id,
                   leeway=5)
    assert c["sub"] == world["alice"].agent_id and c["paramsHash"] == params_hash(params)
    # The decision is in the ledger: its inclusion proof leads to a checkpoint signed by the JWKS key.
    ev = d2.ledger["eventId"]
    deadline = time.monotonic() + 90
    while True:
        try:
            pr = op.proof(ev)
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)  # waits for a checkpoint covering the entry
    cp = pr["checkpoint"]
    ledger.verify_checkpoint(cp, JWKS(jwks), origin="sintgate/" + alice.gateway_id)
    assert ledger.entry_hash(pr["entry"]) == pr["entry"]["hash"] == d2.ledger["hash"]
    assert ledger.verify_inclusion(pr["entry"]["hash"], pr["leafIndex"], pr["treeSize"], pr["inclusionProof"], cp["rootHash"])


def test_checkpoint_verified_independently(gateway, op, alice):
    """The latest checkpoint: the SDK, the published verifier key, and PyJWT's
    EdDSA (with the JWK parsed by PyJWT) all accept its note."""
    cp = op.checkpoint()
    jwks = _jwks(gateway.url)
    ledger.verify_checkpoint(cp, JWKS(jwks))
    info = alice.discovery()["checkpoint"]
    ledger.verify_checkpoint(cp, verifier=info["verifierKey"], origin=info["origin"])
    jwt = __import__("jwt")
    from jwt.algorithms import OKPAlgorithm

    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == cp["kid"])).key
    text, _, sigs = cp["note"].partition("\n\n")
    sig = base64.b64decode(sigs.strip().rsplit(" ", 1)[1])[4:]
    assert OKPAlgorithm().verify((text + "\n").encode(), key, sig)
    assert text.split("\n")[1] == str(cp["treeSize"])
    assert base64.b64decode(text.split("\n")[2]).hex() == cp["rootHash"]


def test_deny_is_a_typed_error_with_its_code(alice):
    with pytest.raises(Denied) as e:
        alice.intercept("ros:///cmd_vel", "publish", TWIST_FAST)
    assert e.value.code == codes.PHYSICS_CONSTRAINT and e.value.status == 403
    assert e.value.decision["decision"] == "deny" and e.value.ledger is not None
    with pytest.raises(Denied) as e:
        alice.intercept("gpio://cell1/gripper", "set", {"state": "open"})
    assert e.value.code == codes.INSUFFICIENT_PERMISSIONS


def test_escalation_approved_with_sintctl(gateway, alice, world):
    d = alice.intercept("ros:///cmd_vel", "publish", TWIST_SLOW)
    assert d.decision == "escalate" and d.status == 202 and d.approval_id and not d.allowed
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("d", _catch(lambda: alice.wait(d, timeout_s=120))))
    t.start()
    time.sleep(0.5)  # the wait is a long poll: approve while it is open
    r = gateway.sintctl_run("approvals", "approve", d.approval_id, "--reason", "pysdk test")
    assert d.approval_id in r.stdout + r.stderr or r.returncode == 0
    t.join(130)
    got = out["d"]
    assert not isinstance(got, BaseException), got
    assert got.allowed and got.claims["jti"] == d.request_id  # the original request
    assert got.claims["paramsHash"] == params_hash(TWIST_SLOW) and got.claims["aud"] == "ros:///cmd_vel"
    assert got.claims["tier"] == 3


def test_escalation_denied_with_sintctl(gateway, alice):
    d = alice.intercept("ros:///cmd_vel", "publish", TWIST_SLOW)
    gateway.sintctl_run("approvals", "deny", d.approval_id, "--reason", "not now")
    with pytest.raises(ApprovalNotGranted) as e:
        alice.wait(d, timeout_s=60)
    assert e.value.code == codes.APPROVAL_DENIED


def _catch(fn):
    try:
        return fn()
    except BaseException as e:  # handed to the main thread
        return e


class _LossyProxy(http.server.ThreadingHTTPServer):
    """Forwards to the gateway; for the first `drop` intercepts, the gateway
    decides but the answer is lost (502 to the client). Records requestIds."""

    def __init__(self, target: str, drop: int):
        self.target, self.drop, self.seen = target, drop, []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):  # discovery and JWKS pass through untouched
        srv: _LossyProxy = self.server  # type: ignore[assignment]
        with urllib.request.urlopen(srv.target + self.path, timeout=10) as r:
            status, data = r.status, r.read()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        srv: _LossyProxy = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        srv.seen.append(json.loads(body)["requestId"])
        hdr = {k: v for k, v in self.headers.items() if k.lower().startswith("x-agent") or k.lower() == "content-type"}
        req = urllib.request.Request(srv.target + self.path, data=body, method="POST", headers=hdr)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        if srv.drop > 0:
            srv.drop -= 1
            status, data = 502, b"bad gateway"
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_retry_never_reuses_a_request_id(gateway, world):
    proxy = _LossyProxy(gateway.url, drop=2)
    th = threading.Thread(target=proxy.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    th.start()
    try:
        c = Client("http://127.0.0.1:%d" % proxy.server_address[1], world["alice"], token=world["token"],
                   backoff_s=0.05, gateway_id=None)
        d = c.intercept("ros:///scan", "subscribe", {"i": 1})
        # The gateway decided all three; the answers of the first two were lost.
        assert len(proxy.seen) == 3 and len(set(proxy.seen)) == 3, proxy.seen
        assert d.attempts == proxy.seen and d.request_id == proxy.seen[-1] == d.claims["jti"]
        assert d.allowed
        # Retries give up after `retries`: a transport error, never an allow.
        proxy.drop = 10
        c.retries = 1
        n = len(proxy.seen)
        with pytest.raises(TransportError) as e:
            c.intercept("ros:///scan", "subscribe")
        assert e.value.request_ids == proxy.seen[n:] and len(proxy.seen) == n + 2
        assert len(set(proxy.seen)) == len(proxy.seen)
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_sdk_minted_delegation_is_accepted(gateway, alice, world):
    bob = world["bob"]
    with pytest.raises(TokenError) as e:  # refused locally, nothing sent
        alice.delegate(bob.agent_id, resource="ros:///**", actions=["publish", "call"])
    assert e.value.code == codes.CONSTRAINT_VIOLATION
    child = alice.delegate(bob.agent_id, resource="ros:///scan", actions=["subscribe"], tier=1, ttl_ms=600_000,
                           constraints={"maxVelocityMps": 0.2}, register=True)
    b = Client(gateway.url, bob, token_id=child.token_id)
    d = b.intercept("ros:///scan", "subscribe")
    assert d.allowed and d.claims["tokenId"] == child.token_id
    with pytest.raises(Denied) as e2:  # outside the child's narrower resource
        b.intercept("ros:///imu/data", "subscribe")
    assert e2.value.code == codes.INSUFFICIENT_PERMISSIONS
    # Inline, unregistered: bob's own child from the registered one.
    carol = keys.generate()
    grand = tokens.delegate(child, bob, carol.agent_id, tier=1)
    cc = Client(gateway.url, carol, token=grand, chain=[world["token"], child])
    assert cc.intercept("ros:///scan", "subscribe").allowed


def test_guarded_tool(gateway, world):
    c = Client(gateway.url, world["alice"], token=world["token"])
    calls = []

    @guarded(c, "ros:///cmd_vel", "publish", wait=False, on_refusal=lambda e: "refused: %s" % e.code)
    def drive(linear, angular, sint_decision=None):
        calls.append((linear, sint_decision))
        return "moved"

    @guarded(c, lambda topic: "ros:///" + topic, "subscribe", params=lambda topic: {"topic": topic})
    def read(topic, sint_decision=None):
        calls.append((topic, sint_decision))
        return sint_decision.attestation

    assert drive(linear=TWIST_FAST["linear"], angular=TWIST_FAST["angular"]) == "refused: PHYSICS_CONSTRAINT"
    assert calls == []  # never acted on a deny
    att = read("scan")
    assert calls[0][0] == "scan" and calls[0][1].allowed and calls[0][1].claims["paramsHash"] == params_hash({"topic": "scan"})
    assert att == calls[0][1].attestation


@pytest.mark.parametrize("vote", ["approve", "deny"])
def test_example_agent(gateway, vote):
    """examples/agent.py, as a user runs it against `make run`: allow, deny with
    its code, an escalation approved (or denied) through sintctl, a verified attestation."""
    env = dict(os.environ, SINT_URL=gateway.url, SINT_API_KEY=gateway.admin_key)
    state = os.path.join(gateway.data_dir, "..", "example-agent")
    ex = os.path.join(os.path.dirname(__file__), "..", "examples", "agent.py")
    p = subprocess.Popen([sys.executable, ex, "--dir", state], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=env)
    lines = []
    try:
        for line in p.stdout:
            lines.append(line)
            m = re.search(r"sintctl approvals approve ([0-9a-f-]{36})", line)
            if m:
                gateway.sintctl_run("approvals", vote, m.group(1), "no" if vote == "deny" else "ok")
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    out = "".join(lines)
    assert "allow: ros:///scan" in out and "attestation verified" in out
    assert "deny: PHYSICS_CONSTRAINT" in out
    if vote == "approve":
        assert p.returncode == 0, out
        assert "approved: ros:///cmd_vel" in out
    else:
        assert p.returncode == 2, out
        assert "not approved: APPROVAL_DENIED" in out and "approved: ros:///cmd_vel" not in out


def test_estop_trip_by_agent(gateway, op, world):
    c = Client(gateway.url, world["alice"], token=world["token"])
    pending = c.intercept("ros:///cmd_vel", "publish", TWIST_SLOW)
    st = c.estop_trip("pysdk: obstacle seen by the agent")
    assert st["state"] == "tripped"
    assert any(s["id"] == "agent:" + world["alice"].agent_id for s in op.estop()["sources"])
    with pytest.raises(EstopEngaged) as e:
        c.intercept("ros:///scan", "subscribe")
    assert e.value.code == codes.ESTOP_ENGAGED
    with pytest.raises(ApprovalNotGranted) as e2:  # the trip cancelled the pending approval
        c.wait(pending, timeout_s=30)
    assert e2.value.code == codes.APPROVAL_CANCELLED
    # An agent without a registered token cannot trip.
    stranger = Client(gateway.url, keys.generate(), token=world["token"])
    with pytest.raises(ApiError) as e3:
        stranger.estop_trip("no authority")
    assert e3.value.status in (401, 403), e3.value
    gateway.sintctl_run("estop", "reset", "pysdk test done")
    assert op.estop()["state"] == "armed"
    assert c.intercept("ros:///scan", "subscribe").allowed


def test_readme_quick_start(gateway, tmp_path, monkeypatch):
    """The README's quick start, verbatim, after the top-level walkthrough's
    sintctl steps (keys gen, roots add, token issue)."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    code = re.search(r"## Quick start.*?```python\n(.*?)```", readme, re.S).group(1)
    assert len(code.strip().split("\n")) == 5
    monkeypatch.chdir(tmp_path)  # sintctl writes and the snippet reads relative paths
    gateway.sintctl_run("keys", "gen", "--out", "root.key")
    gateway.sintctl_run("keys", "gen", "--out", "agent.key")
    root = gateway.sintctl_run("keys", "show", "root.key").stdout.strip()
    agent = gateway.sintctl_run("keys", "show", "agent.key").stdout.strip()
    gateway.sintctl_run("roots", "add", root, "--name", "readme-root")
    jws = gateway.sintctl_run("token", "issue", "--key", "root.key", "--subject", agent, "--resource", "ros:///**",
                              "--actions", "publish,subscribe", "--tier", "3", "--ttl", "1h").stdout
    (tmp_path / "agent.jws").write_text(jws)
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "src"))
    r = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:8080", gateway.url)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("allow 1 "), r.stdout
