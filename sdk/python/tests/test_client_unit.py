"""The client against a scripted fake gateway: whatever the answer, nothing
but a verified allow for exactly the request sent comes back as an allow."""

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from sintgate import (AttestationError, Client, Denied, ProtocolError, TransportError, guarded, keys, params_hash,
                      tokens)
from sintgate._util import b64url
from sintgate.attest import key_id

GW = keys.from_seed(bytes(range(1, 33)))
OTHER = keys.from_seed(bytes([9]) * 32)
ROOT = keys.from_seed(bytes([1]) * 32)
AGENT = keys.from_seed(bytes([2]) * 32)
TOKEN = tokens.issue(ROOT, AGENT.agent_id, "ros:///**", ["publish"])


def attestation(body: dict, key=GW, **over) -> str:
    now = int(time.time())
    c = {"iss": "gw-fake", "sub": body["agentId"], "aud": body["resource"], "act": body["action"],
         "jti": body["requestId"], "iat": now, "exp": now + 30, "tokenId": TOKEN.token_id, "tier": 1,
         "paramsHash": params_hash(body.get("params")), "envelope": {}, "policyHash": "p", "ledgerSeq": 1}
    c.update(over)
    head = b64url(json.dumps({"alg": "EdDSA", "typ": "sint-attest+jwt", "kid": key_id(key.public)}).encode()) + "." + \
        b64url(json.dumps(c).encode())
    return head + "." + b64url(key.sign(head.encode()))


class Fake(http.server.ThreadingHTTPServer):
    def __init__(self):
        self.script = []  # callables body -> (status, bytes)
        self.bodies = []
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, status: int, data: bytes):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/.well-known/jwks.json":
            return self.reply(200, json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(GW.public),
                                                          "kid": key_id(GW.public)}]}).encode())
        if self.path == "/.well-known/sint.json":
            return self.reply(200, b'{"gatewayId":"gw-fake","protocol":"sintgate/v1"}')
        self.reply(404, b"{}")

    def do_POST(self):
        srv: Fake = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        srv.bodies.append(body)
        status, data = srv.script.pop(0)(body)
        self.reply(status, data if isinstance(data, bytes) else json.dumps(data).encode())


@pytest.fixture
def fake():
    f = Fake()
    threading.Thread(target=f.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f
    f.shutdown()
    f.server_close()


@pytest.fixture
def client(fake):
    return Client("http://127.0.0.1:%d" % fake.server_address[1], AGENT, token=TOKEN, backoff_s=0.01, retries=2)


def decision(body, kind="allow", **kw):
    d = {"requestId": body["requestId"], "decision": kind, "tier": 1, "code": None, "reason": None, "approvalId": None,
         "attestation": None, "envelope": {}, "ledger": None, "policyHash": "p"}
    d.update(kw)
    return d


def test_verified_allow(fake, client):
    fake.script.append(lambda b: (200, decision(b, attestation=attestation(b))))
    d = client.intercept("ros:///cmd_vel", "publish", {"v": 1})
    assert d.allowed and d.claims["jti"] == fake.bodies[0]["requestId"]


@pytest.mark.parametrize("name,answer,err", [
    ("other-key", lambda b: (200, decision(b, attestation=attestation(b, key=OTHER))), AttestationError),
    ("other-params", lambda b: (200, decision(b, attestation=attestation(dict(b, params={"v": 2})))), AttestationError),
    ("old-attestation", lambda b: (200, decision(b, attestation=attestation(dict(b, requestId="019aaf00-0000-7000-8000-000000000001")))), AttestationError),
    ("no-attestation", lambda b: (200, decision(b)), AttestationError),
    ("allow-202", lambda b: (202, decision(b, attestation=attestation(b))), ProtocolError),
    ("unknown-decision", lambda b: (200, decision(b, "maybe")), ProtocolError),
    ("escalate-without-id", lambda b: (202, decision(b, "escalate")), ProtocolError),
    ("unknown-code", lambda b: (403, decision(b, "deny", code="SOMETHING_NEW", reason="new")), Denied),
    ("deny-without-code", lambda b: (403, decision(b, "deny")), Denied),
    ("error-string", lambda b: (400, {"error": "weird"}), Exception),
    ("not-json", lambda b: (200, b"<html>"), ProtocolError),
])
def test_nothing_else_is_an_allow(fake, client, name, answer, err):
    fake.script.append(answer)
    acted = []

    @guarded(client, "ros:///cmd_vel", "publish")
    def act(v):
        acted.append(v)

    with pytest.raises(err) as e:
        act(v=1)
    assert acted == []
    if name == "unknown-code":
        assert e.value.code == "SOMETHING_NEW"
    if name == "deny-without-code":
        assert e.value.code == "INTERNAL_ERROR"


def test_retries_on_5xx_then_gives_up(fake, client):
    for _ in range(3):
        fake.script.append(lambda b: (503, decision(b, "deny", code="LEDGER_UNAVAILABLE", reason="x")))
    with pytest.raises(Denied) as e:
        client.intercept("ros:///cmd_vel", "publish")
    assert e.value.code == "LEDGER_UNAVAILABLE"
    ids = [b["requestId"] for b in fake.bodies]
    assert len(ids) == 3 and len(set(ids)) == 3
    fake.script.append(lambda b: (403, decision(b, "deny", code="PHYSICS_CONSTRAINT", reason="x")))
    with pytest.raises(Denied):
        client.intercept("ros:///cmd_vel", "publish")
    assert len(fake.bodies) == 4  # a deny is never retried


def test_unreachable_is_a_transport_error():
    c = Client("http://127.0.0.1:9", AGENT, token=TOKEN, retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(TransportError) as e:
        c.intercept("ros:///scan", "subscribe")
    assert len(e.value.request_ids) == 2 and len(set(e.value.request_ids)) == 2


def test_signed_body(fake, client):
    fake.script.append(lambda b: (403, decision(b, "deny", code="X")))
    with pytest.raises(Denied):
        client.intercept("ros:///cmd_vel", "publish", {"b": 1, "a": [1.5, "é"]}, physical_context={"humanDetected": False})
    b = fake.bodies[0]
    assert b["agentId"] == AGENT.agent_id and b["token"] == TOKEN.raw and b["params"] == {"b": 1, "a": [1.5, "é"]}
    assert b["physicalContext"] == {"humanDetected": False} and abs(b["timestamp"] - time.time() * 1000) < 10_000
