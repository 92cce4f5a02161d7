"""`onboard doctor` on this machine, through the real CLI in a subprocess; and the disk check
on small tmpfs mounts made in a private mount namespace."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, onboard_env, run_onboard
from tests.support.doctor_fakes import closed_port

KEYS = {"id", "title", "status", "summary", "fix", "details"}


def test_json_schema_on_this_machine():
    start = time.monotonic()
    proc = run_onboard("doctor", "--json")
    elapsed = time.monotonic() - start
    print(f"onboard doctor --json: {elapsed * 1000:.0f} ms including Python start-up")
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == "doctor"
    checks = doc["checks"]
    assert len(checks) >= 12
    assert len({c["id"] for c in checks}) == len(checks)
    for c in checks:
        assert set(c) == KEYS, c
        assert c["status"] in ("ok", "warn", "fail")
        assert c["summary"] and isinstance(c["details"], dict)
        assert bool(c["fix"]) == (c["status"] != "ok"), c
    assert doc["counts"] == {s: sum(c["status"] == s for c in checks) for s in ("ok", "warn", "fail")}
    assert proc.returncode == (1 if doc["counts"]["fail"] else 0)
    assert doc["recommendation"]["mode"] in ("single", "daemon") and doc["recommendation"]["reason"]
    # the facts that are plain to read from here agree with the machine
    by_id = {c["id"]: c for c in checks}
    assert by_id["arch"]["details"]["machine"] == os.uname().machine
    assert by_id["kernel"]["details"]["release"] == os.uname().release
    assert by_id["privileges"]["details"]["root"] == (os.geteuid() == 0)
    nix = shutil.which("nix")
    assert by_id["nix"]["details"]["present"] == bool(nix or os.path.exists("/nix/store"))
    if nix:
        version = subprocess.run([nix, "--version"], capture_output=True, text=True).stdout.split()[-1]
        assert by_id["nix"]["details"]["version"] == version


def test_plain_output_has_no_escape_codes_and_shows_fixes():
    proc = run_onboard("doctor", env=onboard_env(NO_COLOR="1"))
    assert "\x1b" not in proc.stdout + proc.stderr
    doc = json.loads(run_onboard("doctor", "--json").stdout)
    for c in doc["checks"]:
        assert c["title"] in proc.stdout
        word = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}[c["status"]]
        assert any(line.startswith(word) and c["title"] in line for line in proc.stdout.splitlines())
    fixes = [c["fix"] for c in doc["checks"] if c["fix"]]
    for fix in fixes:
        assert "fix: " + fix in proc.stdout
    assert "recommended install mode: " + doc["recommendation"]["mode"] in proc.stdout


def test_only_and_list():
    doc = json.loads(run_onboard("doctor", "--only", "kernel,os", "--json").stdout)
    assert [c["id"] for c in doc["checks"]] == ["os", "kernel"]
    listed = run_onboard("doctor", "--list").stdout.split()
    assert "net-cache" in listed and "nix-dir" in listed


def test_unknown_check_is_a_usage_error():
    proc = run_onboard("doctor", "--only", "os,kernal")
    assert proc.returncode == 2
    assert "did you mean 'kernel'" in proc.stderr and proc.stdout == ""


def test_a_failing_check_exits_1():
    """A proxy that refuses connections is a real failure: Nix would use it too."""
    env = onboard_env(HTTPS_PROXY=f"http://127.0.0.1:{closed_port()}")
    for var in ("https_proxy", "no_proxy", "NO_PROXY"):
        env.pop(var, None)
    proc = run_onboard("doctor", "--only", "net-releases,net-cache", env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("FAIL") == 2 and "fix: check HTTPS_PROXY" in proc.stdout


DISK_SCRIPT = """
import json, os, subprocess, sys
base = sys.argv[1]
out = {}
for size in ("1m", "3g", "20g"):
    d = os.path.join(base, size)
    os.makedirs(d)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", d], check=True)
    from onboard.core.doctor import run_checks
    (res,) = run_checks(only=["disk"], overrides={"nix_root": os.path.join(d, "nix")})
    out[size] = res.to_dict()
print(json.dumps(out))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare to mount a tmpfs in a private namespace")
def test_disk_check_on_small_tmpfs(tmp_path):
    """tmpfs sizes are limits, not allocations: a 20 GiB one costs nothing."""
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
                           DISK_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=30,
                          cwd=str(ROOT), env=onboard_env())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["1m"]["status"] == "fail" and out["1m"]["details"]["free_bytes"] <= 1024 * 1024
    assert "free at least" in out["1m"]["fix"]
    assert out["1m"]["details"]["path"] == str(tmp_path / "1m")
    assert out["3g"]["status"] == "warn"
    assert out["20g"]["status"] == "ok"
    assert not os.path.ismount(tmp_path / "1m")  # the mounts stayed in the namespace


DNS_SCRIPT = """
import json, subprocess, sys
subprocess.run(["mount", "--bind", sys.argv[1], "/etc/resolv.conf"], check=True)
from onboard.core.doctor import run_checks
res = run_checks(only=["net-releases", "net-cache"], timeout=8, overrides={"env": {}, "net_timeout": 0.3})
print(json.dumps([r.to_dict() for r in res]))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root and unshare to replace resolv.conf in a private namespace")
def test_a_dns_server_that_never_answers_does_not_stall_the_check(tmp_path):
    """resolv.conf names a TEST-NET address nobody answers on: glibc alone would wait 5 s per try."""
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 192.0.2.1\noptions timeout:5 attempts:2\n")
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c",
                           DNS_SCRIPT, str(resolv)], capture_output=True, text=True, timeout=30,
                          cwd=str(ROOT), env=onboard_env())
    assert proc.returncode == 0, proc.stderr
    for res in json.loads(proc.stdout):
        assert res["status"] == "warn", res
        assert "timed_out" not in res["details"]  # the check answered itself, well before the runner gave up
        assert "not reachable" in res["summary"] and "HTTPS_PROXY" in res["fix"]
