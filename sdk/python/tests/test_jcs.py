"""JCS (RFC 8785) against the gateway's own canonicaliser.

testdata/jcs_vectors.json is written by docs/protocoltest (TestJCSVectors,
which fails when the file is stale) from github.com/gowebpki/jcs, the
reference the gateway hashes params and ledger entries with."""

from __future__ import annotations

import json
import math
import os
import struct

import pytest

from sintgate import jcs

VEC = os.path.join(os.path.dirname(__file__), "testdata", "jcs_vectors.json")


@pytest.fixture(scope="module")
def vectors() -> dict:
    with open(VEC, encoding="utf-8") as f:
        return json.load(f)


def test_documents_match_the_gateway(vectors):
    assert len(vectors["documents"]) >= 10
    for d in vectors["documents"]:
        assert jcs.canonicalize(jcs.loads_strict(d["in"])).decode("utf-8") == d["out"], d["in"]


def test_numbers_match_the_gateway(vectors):
    assert len(vectors["numbers"]) > 600
    for n in vectors["numbers"]:
        f = struct.unpack(">d", bytes.fromhex(n["bits"]))[0]
        if n["out"] == "":
            with pytest.raises(jcs.JCSError):
                jcs.canonical_number(f)
        else:
            assert jcs.canonical_number(f) == n["out"], n["bits"]


@pytest.mark.parametrize("value,want", [
    (0, "0"), (-0.0, "0"), (1, "1"), (-1, "-1"), (1.0, "1"), (0.1, "0.1"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
    (1e-6, "0.000001"), (1e-7, "1e-7"), (123e-20, "1.23e-18"), (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"), (2 ** 53, "9007199254740992"),
    (2 ** 53 + 1, "9007199254740992"),  # an int is read as the double the gateway reads
    (12345678901234567890, "12345678901234567000"), (333333333.33333329, "333333333.3333333"),
    (-2.5e-5, "-0.000025"), (1e16, "10000000000000000"),
])
def test_number_forms(value, want):
    assert jcs.canonical_number(value) == want


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 10 ** 400, True])
def test_numbers_without_a_form_are_refused(bad):
    with pytest.raises(jcs.JCSError):
        jcs.canonical_number(bad)


@pytest.mark.parametrize("name,value,want", [
    ("sorted-by-utf16", {"\U0001f600": 1, "\ufb33": 2, "\u20ac": 3, "a": 4}, '{"a":4,"\u20ac":3,"\U0001f600":1,"\ufb33":2}'),
    ("escapes", {"s": "\"\\\b\f\n\r\t\x00\x1f\x7f/<>&\u2028"}, '{"s":"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\x7f/<>&\u2028"}'),
    ("nested", [{"b": [None, True, False]}, {"a": {}}, []], '[{"b":[null,true,false]},{"a":{}},[]]'),
    ("tuple-is-array", (1, 2.5), "[1,2.5]"),
])
def test_canonical_forms(name, value, want):
    assert jcs.canonicalize(value).decode() == want


@pytest.mark.parametrize("bad", [{"a": "\ud800"}, {"\udc00": 1}, {1: "int key"}, {"a": object()}, {"a": float("nan")}])
def test_values_without_a_form_are_refused(bad):
    with pytest.raises(jcs.JCSError):
        jcs.canonicalize(bad)


@pytest.mark.parametrize("text", ['{"a":1,"a":2}', '{"a":NaN}', '[Infinity]'])
def test_strict_parse_refuses(text):
    with pytest.raises(ValueError):
        jcs.loads_strict(text)


def test_params_hash():
    assert jcs.params_hash(None) == jcs.EMPTY_PARAMS_HASH == jcs.params_hash({})
    a = jcs.params_hash({"linear": {"x": 0.4, "y": 0, "z": 0}, "angular": {"z": 0.1, "x": 0, "y": 0}})
    b = jcs.params_hash(json.loads('{"angular":{"x":0,"y":0.0,"z":0.1},"linear":{"z":0,"y":0,"x":0.40}}'))
    assert a == b == "df930a9d06bd71e8889ec8ed3e38da40671b0d5648aad81a410f193e3af0d012"


def test_random_doubles_round_trip_in_ecmascript_form():
    """Property: the canonical form reads back as the same double, uses the
    exponent form exactly outside [1e-6, 1e21), and has no redundant digit."""
    import random

    rnd = random.Random(8785)
    for i in range(20000):
        f = struct.unpack(">d", rnd.getrandbits(64).to_bytes(8, "big"))[0] if i % 2 else rnd.uniform(-1, 1) * 10 ** rnd.randint(-30, 30)
        if math.isnan(f) or math.isinf(f):
            continue
        s = jcs.canonical_number(f)
        assert float(s) == f, (f, s)
        a = abs(f)
        assert ("e" in s) == (a != 0 and (a < 1e-6 or a >= 1e21)), (f, s)
        assert not s.startswith("+") and "E" not in s and not (("." in s) and s.split("e")[0].endswith("0")), s


def test_local_refusal_is_typed():
    from sintgate.errors import SintError

    with pytest.raises(SintError) as e:
        jcs.params_hash({"a": "\ud800"})
    assert e.value.code == "MALFORMED_REQUEST"
