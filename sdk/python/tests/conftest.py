"""A real gateway for the integration tests.

``make test-sdk-python`` builds sint-gateway and sintctl and passes them in
SINT_TEST_GATEWAY_BIN and SINT_TEST_SINTCTL_BIN; without them the binaries are
built here with ``go build`` (when Go is available). The gateway runs on the
embedded store in a temporary data dir (``sint-gateway init``, then
``serve``) on a free loopback port, and is stopped after the session. Under
CI=true a gateway that cannot be built or started fails the suite, never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass

import pytest

SDK = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
REPO = os.path.abspath(os.path.join(SDK, "..", ".."))
sys.path.insert(0, os.path.join(SDK, "src"))


def _unavailable(msg: str):
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


@dataclass
class Gateway:
    url: str
    admin_key: str
    data_dir: str
    sintctl: str
    gateway_bin: str
    log_path: str

    def sintctl_run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        env = dict(os.environ, SINT_URL=self.url, SINT_API_KEY=self.admin_key)
        r = subprocess.run([self.sintctl, *args], capture_output=True, text=True, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("sintctl %s: exit %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]


def _binaries(tmp: str) -> tuple[str, str]:
    gw, ctl = os.environ.get("SINT_TEST_GATEWAY_BIN"), os.environ.get("SINT_TEST_SINTCTL_BIN")
    if gw and ctl:
        return gw, ctl
    go = shutil.which("go")
    if not go:
        _unavailable("SINT_TEST_GATEWAY_BIN/SINT_TEST_SINTCTL_BIN unset and no go to build them")
    out = os.path.join(tmp, "bin")
    r = subprocess.run([go, "build", "-o", out + "/", "./cmd/sint-gateway", "./cmd/sintctl"], cwd=REPO,
                       capture_output=True, text=True)
    if r.returncode != 0:
        _unavailable("go build failed: " + r.stderr[-2000:])
    return os.path.join(out, "sint-gateway"), os.path.join(out, "sintctl")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health/ready", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def gateway():
    tmp = tempfile.mkdtemp(prefix="sint-pysdk-")
    gw_bin, ctl = _binaries(tmp)
    data = os.path.join(tmp, "data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINT_") or k.startswith("SINT_TEST_")}
    r = subprocess.run([gw_bin, "init", "--data-dir", data, "--json"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        _unavailable("sint-gateway init failed: " + r.stderr)
    admin = json.loads(r.stdout)["adminApiKey"]
    log_path = os.path.join(tmp, "gateway.log")
    proc = None
    url = ""
    for _ in range(5):  # a free port can be taken between probing and binding: try another
        url = "http://127.0.0.1:%d" % _free_port()
        logf = open(log_path, "ab")
        proc = subprocess.Popen([gw_bin, "serve", "--data-dir", data, "--listen", url[len("http://"):],
                                 "--log-level", "warn"], stdout=logf, stderr=subprocess.STDOUT, env=env)
        logf.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and not _ready(url):
            time.sleep(0.1)
        if proc.poll() is None and _ready(url):
            break
        proc.kill()
        proc.wait()
        proc = None
    if proc is None:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            _unavailable("the gateway did not start:\n" + f.read()[-3000:])
    g = Gateway(url=url, admin_key=admin, data_dir=data, sintctl=ctl, gateway_bin=gw_bin, log_path=log_path)
    try:
        yield g
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
