"""Robustness: parsers and verifiers given mutated input fail with their typed
error (TokenError, AttestationError, JCSError), never with another exception
and never by accepting it. Deterministic (fixed seeds), a few seconds."""

from __future__ import annotations

import json
import random

import pytest

from sintgate import attest, jcs, keys, tokens
from sintgate._util import b64url
from sintgate.errors import AttestationError, TokenError

ROOT = keys.from_seed(bytes([1]) * 32)
ALICE = keys.from_seed(bytes([2]) * 32)
NOW = 1763928000000
TOKEN = tokens.issue(ROOT, ALICE.agent_id, "ros:///**", ["publish"], now=NOW, constraints={
    "maxVelocityMps": 0.5, "geofence": {"frame": "map", "polygon": [[0, 0], [1, 0], [1, 1]]},
    "quorum": {"required": 1, "authorized": ["a"]}, "rateLimit": {"maxCalls": 1, "windowMs": 1},
    "timeWindow": {"start": 0, "end": NOW * 2}})
GW = keys.from_seed(bytes(range(1, 33)))
JWKS = attest.JWKS({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(GW.public), "kid": attest.key_id(GW.public)}]})
WANT = attest.Expect(ALICE.agent_id, "ros:///cmd_vel", "publish", "b" * 64)
WEIRD = [None, True, 0, -1, 1.5, 1e300, "", "x", [], [1], {}, {"a": 1}, [[1, "a"]], "\u0000", 2 ** 70]


def _sign_att(claims: dict, header: str) -> str:
    head = b64url(header.encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(GW.sign(head.encode()))


def _mutate(rnd: random.Random, v):
    """Replace one value somewhere in v by a weird one."""
    if isinstance(v, dict) and v and rnd.random() < 0.8:
        k = rnd.choice(list(v))
        return {**v, k: _mutate(rnd, v[k])}
    if isinstance(v, list) and v and rnd.random() < 0.8:
        i = rnd.randrange(len(v))
        return v[:i] + [_mutate(rnd, v[i])] + v[i + 1:]
    return rnd.choice(WEIRD)


def test_token_parse_with_mutated_bytes():
    rnd = random.Random(1)
    raw = TOKEN.raw
    for _ in range(3000):
        b = bytearray(raw.encode())
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        if bytes(b) == raw.encode():
            continue  # the flips restored the original
        try:
            t = tokens.parse(b.decode("latin-1"))
        except TokenError:
            continue
        with pytest.raises(TokenError):  # a parse may survive a flip in the signature; the signature may not
            t.verify_signature()


def test_token_claims_with_mutated_structure():
    rnd = random.Random(2)
    for _ in range(3000):
        c = _mutate(rnd, json.loads(json.dumps(TOKEN.claims)))
        try:
            t = tokens.sign_claims(ROOT, c)
        except TokenError:
            continue
        tokens.verify_chain(NOW, t, roots=[ROOT.agent_id])  # what signs must verify (or raise TokenError)


def test_delegation_with_mutated_constraints():
    rnd = random.Random(3)
    for _ in range(800):
        cons = _mutate(rnd, json.loads(json.dumps(TOKEN.claims["constraints"])))
        try:
            child = tokens.delegate(TOKEN, ALICE, ROOT.agent_id, constraints=cons, now=NOW)
        except TokenError:
            continue
        tokens.check_attenuation(TOKEN.claims, child.claims)


def test_attestation_with_mutated_claims_and_headers():
    rnd = random.Random(4)
    base = {"iss": "gw", "sub": WANT.agent_id, "aud": WANT.resource, "act": WANT.action, "jti": "r", "iat": 100,
            "exp": 130, "tokenId": "t", "tier": 2, "paramsHash": WANT.params_hash, "envelope": {}, "policyHash": "p",
            "ledgerSeq": 1}
    header = {"alg": "EdDSA", "typ": "sint-attest+jwt", "kid": attest.key_id(GW.public)}
    for i in range(1500):
        c, h = base, header
        if i % 2:
            c = _mutate(rnd, dict(base))
        else:
            h = _mutate(rnd, dict(header))
        att = _sign_att(c, json.dumps(h))
        try:
            got = attest.verify_attestation(att, JWKS, WANT, issuer="gw", now=101)
        except AttestationError:
            continue
        # What verifies binds exactly the expected command and issuer.
        assert {k: got[k] for k in ("iss", "sub", "aud", "act", "paramsHash")} == \
            {k: base[k] for k in ("iss", "sub", "aud", "act", "paramsHash")}
        assert got["iat"] < got["exp"] <= got["iat"] + 60
    good = _sign_att(base, json.dumps(header)).encode()
    for _ in range(1000):
        b = bytearray(good)
        b[rnd.randrange(len(b))] = rnd.randrange(256)
        if bytes(b) == good:
            continue
        with pytest.raises(AttestationError):
            attest.verify_attestation(b.decode("latin-1"), JWKS, WANT, issuer="gw", now=101)


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000, "\xff", "", "{"])
def test_strict_parse_refuses_hostile_documents(text):
    with pytest.raises(jcs.JCSError):
        jcs.loads_strict(text.encode("latin-1") if text == "\xff" else text)


def test_deep_values_are_refused_not_crashing():
    v: list = []
    for _ in range(2000):
        v = [v]
    with pytest.raises(jcs.JCSError):
        jcs.canonicalize(v)
