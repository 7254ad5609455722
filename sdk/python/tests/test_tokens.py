"""Capability tokens: the shared vectors of tokens/testdata/vectors.json
(the gateway's own), issuing, delegating, and local attenuation checks."""

from __future__ import annotations

import json
import os

import pytest

from sintgate import keys, pattern, tokens
from sintgate.errors import TokenError, codes

VEC = os.path.join(os.path.dirname(__file__), "..", "..", "..", "tokens", "testdata", "vectors.json")
NOW = 1763928000000
HOUR = 3600 * 1000


@pytest.fixture(scope="module")
def vec() -> dict:
    with open(VEC, encoding="utf-8") as f:
        return json.load(f)


def test_vector_keys_derive(vec):
    for k in vec["keys"]:
        assert keys.from_seed(bytes.fromhex(k["seed"])).agent_id == k["publicKey"], k["name"]


def _verify_case(vec, c):
    reg = {}
    parents = {}
    for raw in [c["token"]] + (c["chain"] or []) + vec["registered"]:
        try:
            t = tokens.parse(raw)
        except TokenError:
            continue
        parents[t.token_id] = t.claims["parentTokenId"]
    for raw in vec["registered"]:
        reg[tokens.parse(raw).token_id] = raw
    revoked_ids = set(c["revoked"] or [])

    def revoked(tid):
        seen = set()
        while tid and tid not in seen:
            if tid in revoked_ids:
                return True
            seen.add(tid)
            tid = parents.get(tid)
        return False

    try:
        tokens.verify_chain(c["nowMs"], c["token"], c["chain"] or [], roots=vec["trustedRoots"],
                            registered=reg if c["useRegistered"] else None, revoked=revoked,
                            registration=c["registration"])
        return "OK"
    except TokenError as e:
        return e.code


def test_chain_vectors(vec):
    """Every chain case answers the code the gateway's verifier answers."""
    assert len(vec["chains"]) >= 40
    wrong = []
    for c in vec["chains"]:
        got = _verify_case(vec, c)
        if got != c["expect"]:
            wrong.append("%s: got %s, want %s" % (c["name"], got, c["expect"]))
    assert not wrong, "\n".join(wrong)


def test_pattern_vectors(vec):
    for m in vec["match"]:
        assert pattern.match(m["pattern"], m["resource"]) == m["expect"], m
    for c in vec["contains"]:
        assert pattern.contains(c["parent"], c["child"]) == c["expect"], c
    for r in vec["normalResource"]:
        assert (pattern.normal_resource(r["resource"]) is None) == r["valid"], r


@pytest.mark.parametrize("parent,child,want", [
    ("**/*", "/**", True),  # one child wildcard split across parent tokens
    ("ros:///arm/*", "ros:///arm/**", False),
    ("ros:///arm/**", "ros:///arm/*/x", True),
    ("ros:///*/cmd_vel", "ros:///r1/cmd_vel", True),
    ("ros:///*/cmd_vel", "ros:///a/b/cmd_vel", False),
    ("gpio://*/tool*", "gpio://cell1/tool2", True),
    ("gpio://*/tool*", "gpio://cell1/tool*", True),
    ("gpio://*/tool*", "gpio://*/t*", False),
])
def test_contains(parent, child, want):
    assert pattern.contains(parent, child) is want


@pytest.fixture
def ks():
    return {n: keys.from_seed(bytes([i + 1]) * 32) for i, n in enumerate(["root", "alice", "bob", "carol", "dave"])}


def _root(ks, **kw):
    base = dict(tier=3, ttl_ms=24 * HOUR, now=NOW, constraints={
        "maxVelocityMps": 0.5, "rateLimit": {"maxCalls": 10, "windowMs": 1000},
        "geofence": {"frame": "map", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]},
        "quorum": {"required": 1, "authorized": ["op-a", "op-b"]}, "requiresHumanPresence": True,
        "timeWindow": {"start": NOW - HOUR, "end": NOW + 10 * HOUR}, "maxRepetitions": 100,
    })
    base.update(kw)
    return tokens.issue(ks["root"], ks["alice"].agent_id, "ros:///arm/**", ["publish", "subscribe"], **base)


def test_issue_and_delegate(ks):
    root = _root(ks)
    root.verify_signature()
    assert root.depth == 0 and root.claims["issuer"] == ks["root"].agent_id
    child = tokens.delegate(root, ks["alice"], ks["bob"].agent_id, resource="ros:///arm/joint_1", actions=["publish"],
                            tier=2, constraints={"maxVelocityMps": 0.25, "geofence": {"frame": "map", "polygon": [[0, 0], [10, 0], [10, 10]]}},
                            now=NOW)
    assert child.depth == 1 and child.claims["parentTokenId"] == root.token_id
    assert child.claims["constraints"]["rateLimit"] == {"maxCalls": 10, "windowMs": 1000}  # inherited
    chain = tokens.verify_chain(NOW, child, [root], roots=[ks["root"].agent_id])
    assert [t.token_id for t in chain] == [root.token_id, child.token_id]
    grand = tokens.delegate(child, ks["bob"], ks["carol"].agent_id, now=NOW)
    great = tokens.delegate(grand, ks["carol"], ks["dave"].agent_id, now=NOW)
    assert great.depth == 3
    with pytest.raises(TokenError) as e:
        tokens.delegate(great, ks["dave"], ks["alice"].agent_id, now=NOW)
    assert e.value.code == codes.DELEGATION_DEPTH_EXCEEDED


@pytest.mark.parametrize("name,kw,field", [
    ("resource", dict(resource="ros:///**"), "resource"),
    ("resource-star", dict(resource="ros:///arm*"), "resource"),
    ("action", dict(actions=["publish", "call"]), "actions"),
    ("tier", dict(tier=4), "tier"),
    ("ttl", dict(ttl_ms=48 * HOUR), "expiresAt"),
    ("velocity", dict(constraints={"maxVelocityMps": 0.6}), "constraints.maxVelocityMps"),
    ("velocity-removed", dict(constraints={"maxVelocityMps": None}), "constraints.maxVelocityMps"),
    ("rate-calls", dict(constraints={"rateLimit": {"maxCalls": 11, "windowMs": 1000}}), "constraints.rateLimit"),
    ("rate-window", dict(constraints={"rateLimit": {"maxCalls": 10, "windowMs": 999}}), "constraints.rateLimit"),
    ("repetitions", dict(constraints={"maxRepetitions": 101}), "constraints.maxRepetitions"),
    ("presence", dict(constraints={"requiresHumanPresence": False}), "constraints.requiresHumanPresence"),
    ("quorum-required", dict(constraints={"quorum": {"required": 1, "authorized": ["op-a"]}, "x": None}), None),
    ("quorum-authorized", dict(constraints={"quorum": {"required": 1, "authorized": ["op-c"]}}), "constraints.quorum.authorized"),
    ("window", dict(constraints={"timeWindow": {"start": NOW - 2 * HOUR, "end": NOW + HOUR}}), "constraints.timeWindow"),
    ("geofence-frame", dict(constraints={"geofence": {"frame": "odom", "polygon": [[0, 0], [1, 0], [1, 1]]}}), "constraints.geofence.frame"),
    ("geofence-out", dict(constraints={"geofence": {"frame": "map", "polygon": [[0, 0], [10.5, 0], [10, 10]]}}), "constraints.geofence.polygon"),
])
def test_widening_is_refused_before_signing(ks, name, kw, field):
    root = _root(ks)
    if field is None:  # a narrowing that is fine (quorum subset with the same required count)
        kw["constraints"].pop("x")
        tokens.delegate(root, ks["alice"], ks["bob"].agent_id, now=NOW, **kw)
        return
    with pytest.raises(TokenError) as e:
        tokens.delegate(root, ks["alice"], ks["bob"].agent_id, now=NOW, **kw)
    assert e.value.code == codes.CONSTRAINT_VIOLATION
    assert ("widens " + field + ":") in str(e.value)


def test_geofence_boundary_cases(ks):
    root = _root(ks)
    same = {"frame": "map", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]}
    edge = {"frame": "map", "polygon": [[0, 0], [10, 0], [5, 5]]}  # shares an edge and touches corners
    for g in (same, edge):
        tokens.delegate(root, ks["alice"], ks["bob"].agent_id, constraints={"geofence": g}, now=NOW)
    concave = _root(ks, constraints={"geofence": {"frame": "map", "polygon": [[0, 0], [10, 0], [10, 10], [5, 2], [0, 10]]}})
    with pytest.raises(TokenError):  # every vertex inside, but an edge leaves through the notch
        tokens.delegate(concave, ks["alice"], ks["bob"].agent_id, now=NOW,
                        constraints={"geofence": {"frame": "map", "polygon": [[1, 1], [9, 1], [9, 8], [1, 8]]}})
    with pytest.raises(TokenError) as e:  # a self-intersecting bow tie is not a polygon
        tokens.issue(ks["root"], ks["alice"].agent_id, "ros:///**", ["publish"], now=NOW,
                     constraints={"geofence": {"frame": "map", "polygon": [[0, 0], [1, 1], [1, 0], [0, 1]]}})
    assert e.value.code == codes.MALFORMED_TOKEN


@pytest.mark.parametrize("name,kw,code", [
    ("not-subject", dict(key="bob"), codes.INVALID_CHAIN),
    ("expired", dict(now=NOW + 25 * HOUR), codes.TOKEN_EXPIRED),
])
def test_delegate_refusals(ks, name, kw, code):
    root = _root(ks)
    with pytest.raises(TokenError) as e:
        tokens.delegate(root, ks[kw.get("key", "alice")], ks["carol"].agent_id, now=kw.get("now", NOW))
    assert e.value.code == code


def test_tampered_parent_is_refused(ks):
    root = _root(ks)
    h, p, s = root.raw.split(".")
    forged = tokens.parse(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])
    with pytest.raises(TokenError) as e:
        tokens.delegate(forged, ks["alice"], ks["bob"].agent_id, now=NOW)
    assert e.value.code == codes.INVALID_SIGNATURE


@pytest.mark.parametrize("name,claims,needle", [
    ("tier-float", {"tier": 2.0}, "tier"),
    ("tier-6", {"tier": 6}, "tier"),
    ("unknown-constraint", {"constraints": {"maxSpeed": 1}}, "maxSpeed"),
    ("bad-pattern", {"resource": "ros:///***"}, "resource"),
    ("dup-action", {"actions": ["a", "a"]}, "actions[1]"),
    ("lifetime", {"expiresAt": NOW + 31 * 24 * HOUR}, "30 days"),
    ("neg-velocity", {"constraints": {"maxVelocityMps": -1}}, "maxVelocityMps"),
    ("rate-float", {"constraints": {"rateLimit": {"maxCalls": 1.5, "windowMs": 10}}}, "rateLimit"),
])
def test_schema_refusals_name_the_field(ks, name, claims, needle):
    c = dict(_root(ks).claims)
    c.update(claims)
    with pytest.raises(TokenError) as e:
        tokens.sign_claims(ks["root"], c)
    assert e.value.code == codes.MALFORMED_TOKEN and needle in str(e.value)


def test_parse_refuses_exponent_and_float_integers(ks):
    from sintgate._util import b64url
    t = _root(ks)
    h, p, _ = t.raw.split(".")
    payload = json.dumps(t.claims, separators=(",", ":")).replace('"tier":3', '"tier":3e0').encode()
    with pytest.raises(TokenError) as e:
        tokens.parse(h + "." + b64url(payload) + "." + "A" * 86)
    assert e.value.code == codes.MALFORMED_TOKEN
