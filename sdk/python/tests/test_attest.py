"""Offline attestation verification: each refusal has the gateway's reason."""

from __future__ import annotations

import json

import pytest

from sintgate import attest, keys
from sintgate._util import b64url
from sintgate.errors import AttestationError, codes

GW = keys.from_seed(bytes(range(1, 33)))
KID = attest.key_id(GW.public)
JWKS = attest.JWKS({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(GW.public), "kid": KID, "use": "sig", "alg": "EdDSA"}]})
T = 1763928000
WANT = attest.Expect("a" * 64, "ros:///cmd_vel", "publish", "b" * 64)


def claims(**kw):
    c = {"iss": "gw-test", "sub": WANT.agent_id, "aud": WANT.resource, "act": WANT.action, "jti": "r", "iat": T,
         "exp": T + 30, "tokenId": "t", "tier": 2, "paramsHash": WANT.params_hash, "envelope": {}, "policyHash": "p",
         "ledgerSeq": 1}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def sign(c, header=None, key=GW):
    h = header if header is not None else '{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"%s"}' % KID
    head = b64url(h.encode()) + "." + b64url(json.dumps(c, separators=(",", ":")).encode())
    return head + "." + b64url(key.sign(head.encode()))


def test_valid():
    c = attest.verify_attestation(sign(claims()), JWKS, WANT, issuer="gw-test", now=T + 1)
    assert c["ledgerSeq"] == 1


@pytest.mark.parametrize("name,att,want,reason,claim", [
    ("no-expectation", sign(claims()), attest.Expect("", "r", "a", "h"), "ATTESTATION_NO_EXPECTATION", ""),
    ("not-jws", "a.b", WANT, "ATTESTATION_MALFORMED", ""),
    ("typ", sign(claims(), '{"alg":"EdDSA","typ":"JWT","kid":"%s"}' % KID), WANT, "ATTESTATION_BAD_HEADER", "typ"),
    ("alg", sign(claims(), '{"alg":"none","typ":"sint-attest+jwt","kid":"%s"}' % KID), WANT, "ATTESTATION_BAD_HEADER", "alg"),
    ("extra-header", sign(claims(), '{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"%s","jku":"x"}' % KID), WANT, "ATTESTATION_BAD_HEADER", "header"),
    ("kid", sign(claims(), '{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"0000"}'), WANT, "ATTESTATION_UNKNOWN_KID", "kid"),
    ("other-key", sign(claims(), key=keys.generate()), WANT, "ATTESTATION_BAD_SIGNATURE", ""),
    ("extra-claim", sign(claims(extra=1)), WANT, "ATTESTATION_MALFORMED", "extra"),
    ("missing-claim", sign(claims(envelope=None)), WANT, "ATTESTATION_MALFORMED", "envelope"),
    ("float-iat", sign(claims(iat=T + 0.5)), WANT, "ATTESTATION_MALFORMED", "iat"),
    ("issuer", sign(claims(iss="gw-evil")), WANT, "ATTESTATION_WRONG_ISSUER", "iss"),
    ("lifetime", sign(claims(exp=T + 61)), WANT, "ATTESTATION_BAD_LIFETIME", "exp"),
    ("future", sign(claims(iat=T + 10, exp=T + 40)), WANT, "ATTESTATION_NOT_YET_VALID", "iat"),
    ("expired", sign(claims(iat=T - 40, exp=T - 10)), WANT, "ATTESTATION_EXPIRED", "exp"),
    ("sub", sign(claims(sub="c" * 64)), WANT, "ATTESTATION_MISMATCH", "sub"),
    ("aud", sign(claims(aud="ros:///other")), WANT, "ATTESTATION_MISMATCH", "aud"),
    ("act", sign(claims(act="subscribe")), WANT, "ATTESTATION_MISMATCH", "act"),
    ("params", sign(claims(paramsHash="d" * 64)), WANT, "ATTESTATION_MISMATCH", "paramsHash"),
])
def test_refusals(name, att, want, reason, claim):
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(att, JWKS, want, issuer="gw-test", now=T + 1)
    assert e.value.reason == reason and e.value.claim == claim


def test_cache_refetches_only_for_an_unknown_kid(tmp_path):
    other = keys.from_seed(bytes([5]) * 32)
    docs = [JWKS.document, {"keys": [JWKS.document["keys"][0], {"kty": "OKP", "crv": "Ed25519", "x": b64url(other.public), "kid": attest.key_id(other.public)}]}]
    fetched = []

    def fetch():
        fetched.append(1)
        return json.dumps(docs[min(len(fetched) - 1, 1)])

    path = str(tmp_path / "jwks.json")
    cache = attest.JWKSCache(path=path, fetch=fetch, min_refresh_s=0)
    attest.verify_attestation(sign(claims()), cache, WANT, now=T + 1)
    attest.verify_attestation(sign(claims()), cache, WANT, now=T + 1)
    assert len(fetched) == 1
    rotated = sign(claims(), '{"alg":"EdDSA","typ":"sint-attest+jwt","kid":"%s"}' % attest.key_id(other.public), key=other)
    attest.verify_attestation(rotated, cache, WANT, now=T + 1)
    assert len(fetched) == 2
    # Offline: a new cache from the file verifies without fetching; no file and no fetch fails closed.
    attest.verify_attestation(rotated, attest.JWKSCache(path=path), WANT, now=T + 1)
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(rotated, attest.JWKSCache(), WANT, now=T + 1)
    assert e.value.reason == "ATTESTATION_KEYS_UNAVAILABLE"
    with pytest.raises(AttestationError) as e:
        attest.verify_attestation(sign(claims()), attest.JWKSCache(fetch=lambda: b"{}"), WANT, now=T + 1)
    assert e.value.code == codes.INTERNAL_ERROR


def test_jwks_parsing():
    with pytest.raises(ValueError):
        attest.JWKS({"keys": []})
    with pytest.raises(ValueError):
        attest.JWKS({"keys": [JWKS.document["keys"][0], JWKS.document["keys"][0]]})
    mixed = attest.JWKS({"keys": [{"kty": "RSA", "n": "x"}, {"kty": "OKP", "crv": "Ed25519", "x": b64url(GW.public), "kid": "k", "use": "enc"}, JWKS.document["keys"][0]]})
    assert list(mixed.keys) == [KID]
