"""Key files in exactly the format of `sintctl keys gen` (internal/keyfile)."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from sintgate import keys
from sintgate.errors import KeyFileError

SEED7 = bytes([7]) * 32


def test_save_load_round_trip(tmp_path):
    k = keys.generate()
    p = tmp_path / "agent.key"
    keys.save(p, k)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    got = keys.load(p)
    assert got.agent_id == k.agent_id and got.seed == k.seed and len(got.agent_id) == 64
    assert keys.verify(got.public, b"m", got.sign(b"m"))
    raw = p.read_bytes()
    assert raw.endswith(b"}\n") and set(json.loads(raw)) == {"publicKey", "privateKey"}
    with pytest.raises(FileExistsError):
        keys.save(p, keys.generate())
    assert keys.load(p).agent_id == k.agent_id
    os.chmod(p, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        keys.load(p)


def test_go_byte_format():
    """The bytes keyfile.Marshal writes for the seed 0x07*32 (keyfile_test's fixed key)."""
    k = keys.from_seed(SEED7)
    want = '{"publicKey":"%s","privateKey":"%s"}\n' % (k.agent_id, SEED7.hex() + k.agent_id)
    assert keys.dumps(k).decode() == want
    assert repr(k) == "Key(agent_id=%s)" % k.agent_id and SEED7.hex() not in repr(k)


@pytest.mark.parametrize("name,mutate", [
    ("unknown-field", lambda s, k: s.replace("{", '{"x":1,', 1)),
    ("short-private", lambda s, k: '{"publicKey":"%s","privateKey":"00"}' % k.agent_id),
    ("bad-hex", lambda s, k: '{"publicKey":"zz","privateKey":"zz"}'),
    ("mismatched-public", lambda s, k: s.replace(k.agent_id, keys.from_seed(bytes([9]) * 32).agent_id, 1)),
    ("mismatched-embedded-public", lambda s, k: s.replace(k.agent_id + '"}', keys.from_seed(bytes([9]) * 32).agent_id + '"}')),
    ("trailing", lambda s, k: s + "{}"),
    ("not-json", lambda s, k: "hello"),
])
def test_loads_refuses(name, mutate):
    k = keys.from_seed(SEED7)
    with pytest.raises(KeyFileError):
        keys.loads(mutate(keys.dumps(k).decode(), k))


def test_interop_with_sintctl(tmp_path):
    """A key written by `sintctl keys gen` loads here, and one written here is
    what `sintctl keys show` reads (when the binary is given)."""
    sintctl = os.environ.get("SINT_TEST_SINTCTL_BIN")
    if not sintctl:
        if os.environ.get("CI") == "true":
            pytest.fail("SINT_TEST_SINTCTL_BIN is not set")
        pytest.skip("SINT_TEST_SINTCTL_BIN is not set (make test-sdk-python sets it)")
    p = tmp_path / "go.key"
    out = subprocess.run([sintctl, "keys", "gen", "--out", str(p)], capture_output=True, text=True, check=True).stdout
    k = keys.load(p)
    assert k.agent_id in out
    q = tmp_path / "py.key"
    mine = keys.generate()
    keys.save(q, mine)
    shown = subprocess.run([sintctl, "keys", "show", str(q)], capture_output=True, text=True, check=True).stdout.strip()
    assert shown == mine.agent_id
