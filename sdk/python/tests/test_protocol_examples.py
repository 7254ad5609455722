"""The byte examples of docs/protocol.md §13, checked by this SDK.

Each example is the fenced block following ``<!-- example: NAME -->``, read
exactly as docs/protocoltest/examples_test.go reads it. The SDK must verify
the signature, the token, the attestation (offline, against the JWKS shown),
the ledger hashes, the checkpoint note and the inclusion proof, and must
reproduce the signature and token bytes from the seeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

from sintgate import attest, jcs, keys, ledger, tokens
from sintgate._util import b64url, b64url_decode
from sintgate.errors import AttestationError

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "protocol.md")
REQUEST_TIME_MS = 1763928000000


def read_examples(text: str) -> dict:
    out, name, inside, buf = {}, "", False, []
    for line in text.split("\n"):
        if inside and line == "```":
            assert name not in out, "example %r appears twice" % name
            out[name] = "\n".join(buf)
            name, inside, buf = "", False, []
        elif inside:
            buf.append(line)
        elif name and line.startswith("```"):
            inside = True
        elif name and line.strip():
            pytest.fail("example %r: marker not followed by a fenced block" % name)
        elif line.startswith("<!-- example: ") and line.endswith(" -->"):
            name = line[len("<!-- example: "):-len(" -->")]
    assert not name and not inside, "example %r not closed" % name
    return out


@pytest.fixture(scope="module")
def ex() -> dict:
    with open(DOC, encoding="utf-8") as f:
        return read_examples(f.read())


@pytest.fixture(scope="module")
def k(ex) -> dict:
    return json.loads(ex["keys"])


def test_every_example_is_present(ex):
    want = {"keys", "signed-request", "capability-token", "capability-token-claims", "attestation", "jwks",
            "ledger-entries", "ledger-hash-input", "checkpoint", "checkpoint-note", "inclusion-proof"}
    assert want <= set(ex), "missing: %s" % (want - set(ex))


def test_keys(k):
    assert keys.from_seed(bytes.fromhex(k["rootSeed"])).agent_id == k["rootPublicKey"]
    assert keys.from_seed(bytes.fromhex(k["agentSeed"])).agent_id == k["agentId"]
    gw = keys.from_seed(bytes.fromhex(k["gatewaySeed"]))
    assert gw.agent_id == k["gatewayPublicKey"]
    assert attest.key_id(gw.public) == k["gatewayKid"]


def split_request(block: str) -> tuple[dict, str]:
    head, sep, body = block.partition("\n\n")
    assert sep, "no blank line between headers and body"
    lines = head.split("\n")
    assert lines[0] == "POST /v1/intercept HTTP/1.1"
    return dict(line.split(": ", 1) for line in lines[1:]), body


def test_signed_request_verifies_and_is_reproduced(ex, k):
    h, body = split_request(ex["signed-request"])
    assert len(body.encode()) == 325
    req = jcs.loads_strict(body)
    assert h["X-Agent-Id"] == req["agentId"] == k["agentId"]
    assert h["X-Agent-Timestamp"] == str(req["timestamp"]) == str(REQUEST_TIME_MS)
    assert keys.verify(bytes.fromhex(h["X-Agent-Id"]), body.encode(), b64url_decode(h["X-Agent-Sig"]))
    # The SDK signs the same body to the same bytes (Ed25519 is deterministic),
    # and its own serialisation of the parsed body is byte-identical.
    from sintgate.client import sign_request

    alice = keys.from_seed(bytes.fromhex(k["agentSeed"]))
    raw, headers = sign_request(alice, req)
    assert raw.decode() == body
    assert headers["X-Agent-Sig"] == h["X-Agent-Sig"]
    # One flipped byte no longer verifies.
    assert not keys.verify(alice.public, body.replace("0.4", "0.5").encode(), b64url_decode(h["X-Agent-Sig"]))


def test_capability_token(ex, k):
    t = tokens.parse(ex["capability-token"])
    t.verify_signature()
    assert t.claims["issuer"] == k["rootPublicKey"] and t.claims["subject"] == k["agentId"]
    assert t.claims == json.loads(ex["capability-token-claims"])
    assert t.depth == 0 and t.claims["parentTokenId"] is None
    _, body = split_request(ex["signed-request"])
    req = json.loads(body)
    assert req["tokenId"] == t.token_id and t.allows(req["resource"], req["action"])
    # Re-signing the shown claims, in the shown order, with the root seed gives the token's exact bytes.
    root = keys.from_seed(bytes.fromhex(k["rootSeed"]))
    assert tokens.sign_claims(root, json.loads(ex["capability-token-claims"])).raw == ex["capability-token"]


def test_attestation_verifies_offline(ex, k):
    _, body = split_request(ex["signed-request"])
    req = json.loads(body)
    ph = jcs.params_hash(req["params"])
    jwks = attest.JWKS(ex["jwks"])
    want = attest.Expect(req["agentId"], req["resource"], req["action"], ph)
    c = attest.verify_attestation(ex["attestation"], jwks, want, issuer=k["gatewayId"], now=REQUEST_TIME_MS / 1000)
    assert c["jti"] == req["requestId"] and c["tokenId"] == req["tokenId"] and c["paramsHash"] == ph
    # The params hash is sha256 of the JCS bytes, which sort the members.
    assert jcs.canonicalize(req["params"]) == b'{"angular":{"x":0,"y":0,"z":0.1},"linear":{"x":0.4,"y":0,"z":0}}'
    # Other params, another issuer, or a later time: refused.
    bad = attest.Expect(req["agentId"], req["resource"], req["action"], jcs.params_hash({"linear": {"x": 0.41}}))
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(ex["attestation"], jwks, bad, issuer=k["gatewayId"], now=REQUEST_TIME_MS / 1000)
    assert e.value.reason == "ATTESTATION_MISMATCH" and e.value.claim == "paramsHash"
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(ex["attestation"], jwks, want, issuer="gw-other", now=REQUEST_TIME_MS / 1000)
    assert e.value.reason == "ATTESTATION_WRONG_ISSUER"
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(ex["attestation"], jwks, want, issuer=k["gatewayId"], now=REQUEST_TIME_MS / 1000 + 35)
    assert e.value.reason == "ATTESTATION_EXPIRED"


def test_ledger_entries_and_hash(ex):
    lines = ex["ledger-entries"].split("\n")
    assert len(lines) == 2
    prev = ledger.ZERO_HASH
    for i, line in enumerate(lines):
        e = jcs.loads_strict(line)
        assert e["sequenceNumber"] == i + 1 and e["previousHash"] == prev
        assert ledger.entry_hash(e) == e["hash"]
        # Stored bytes are the JCS form of the whole entry.
        assert jcs.canonicalize(e).decode() == line
        if i == 0:
            assert ledger.hash_input(e).decode() == ex["ledger-hash-input"]
            assert hashlib.sha256(ex["ledger-hash-input"].encode()).hexdigest() == e["hash"]
        else:
            assert "tokenId" not in e
        prev = e["hash"]


def test_checkpoint_and_inclusion_proof(ex, k):
    cp = json.loads(ex["checkpoint"])
    assert cp["note"] == ex["checkpoint-note"] + "\n"
    jwks = attest.JWKS(ex["jwks"])
    ledger.verify_checkpoint(cp, jwks, origin="sintgate/" + k["gatewayId"])
    gw = keys.from_seed(bytes.fromhex(k["gatewaySeed"]))
    vk = ledger.verifier_key("sintgate/" + k["gatewayId"], gw.public)
    ledger.verify_checkpoint(cp, verifier=vk)
    tampered = dict(cp, note=cp["note"].replace("\n2\n", "\n3\n"))
    with pytest.raises(ledger.LedgerError):
        ledger.verify_checkpoint(tampered, jwks)
    entries = [json.loads(line) for line in ex["ledger-entries"].split("\n")]
    p = json.loads(ex["inclusion-proof"])
    assert p["treeSize"] == cp["treeSize"]
    assert ledger.verify_inclusion(entries[0]["hash"], p["leafIndex"], p["treeSize"], p["inclusionProof"], cp["rootHash"])
    assert not ledger.verify_inclusion(entries[1]["hash"], p["leafIndex"], p["treeSize"], p["inclusionProof"], cp["rootHash"])
    root = ledger.node_hash(ledger.leaf_hash(entries[0]["hash"]), ledger.leaf_hash(entries[1]["hash"]))
    assert root.hex() == cp["rootHash"]


def test_independent_library_checks_the_examples(ex, k):
    """PyJWT (python3-jwt), not this SDK, verifies the attestation, and its
    EdDSA algorithm verifies the checkpoint note's signature."""
    jwt = pytest.importorskip("jwt") if os.environ.get("CI") != "true" else __import__("jwt")
    from jwt.algorithms import OKPAlgorithm

    jwk = json.loads(ex["jwks"])["keys"][0]
    key = jwt.PyJWK(jwk).key
    claims = jwt.decode(ex["attestation"], key, algorithms=["EdDSA"], audience="ros:///cmd_vel",
                        issuer=k["gatewayId"], options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == k["agentId"]
    assert jwt.get_unverified_header(ex["attestation"]) == {"alg": "EdDSA", "typ": "sint-attest+jwt", "kid": k["gatewayKid"]}
    cp = json.loads(ex["checkpoint"])
    text, _, sigline = cp["note"].partition("\n\n")
    raw = __import__("base64").b64decode(sigline.strip().rsplit(" ", 1)[1])
    assert OKPAlgorithm().verify((text + "\n").encode(), key, raw[4:])
    assert not OKPAlgorithm().verify((text + "x\n").encode(), key, raw[4:])
    assert re.fullmatch(r"[0-9a-f]{64}", cp["rootHash"])
    assert b64url(b64url_decode(jwk["x"])) == jwk["x"]
