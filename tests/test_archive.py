"""onboard export archive / import archive. Fast tests of bad input (exit 2, nothing changed),
and one end to end on real Nix with the stand-in: export from the host's store, then, in a
private mount namespace with an empty /nix, no network, the stand-in package set hidden (an
empty folder over tests/standin), a fresh HOME and a copy of the project elsewhere: import,
enter the shell offline, and compare with the archive's record."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import standin

ROOT = standin.ROOT


def _onboard(*args: str, cwd: Path, home: Path, **extra: str) -> subprocess.CompletedProcess:
    env = standin.onboard_standin_env(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                                      XDG_STATE_HOME=str(home / ".local/state"), PYTHONPATH=str(ROOT), NO_COLOR="1")
    for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI"):
        env.pop(k, None)
    env.update(extra)
    return subprocess.run([sys.executable, "-m", "onboard", *args], capture_output=True, text=True, env=env,
                          cwd=str(cwd), timeout=300, stdin=subprocess.DEVNULL)


def _project(p: Path) -> Path:
    (p / "profiles").mkdir(parents=True)
    (p / ".git").mkdir()
    (p / "profiles" / "base.yaml").write_text(standin.BASE)
    (p / "profiles" / "web.yaml").write_text(standin.WEB)
    return p


def _state(home: Path) -> list[str]:
    return sorted(str(q.relative_to(home)) for q in home.rglob("*")) if home.exists() else []


# -- bad input -------------------------------------------------------------------------------

def _archive(d: Path, **changes: object) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "cache").mkdir(exist_ok=True)
    (d / "cache" / "nix-cache-info").write_text("StoreDir: /nix/store\n")
    doc = {"format": "onboard-archive", "version": 1, "profile": "web", "roots": ["/nix/store/" + "a" * 32 + "-x"],
           "paths": ["/nix/store/" + "a" * 32 + "-x"], "sources": [], "files": ["record.json"]}
    doc.update(changes)
    (d / "archive.json").write_text(json.dumps(doc))
    (d / "record.json").write_text("{}")
    (d / "cache" / ("a" * 32 + ".narinfo")).write_text("")
    return d


@pytest.mark.parametrize("case,needle", [
    ("not-a-dir", "is not a directory"),
    ("empty", "is not an archive of onboard"),
    ("not-json", "is not JSON"),
    ("other-format", "is not an archive of onboard"),
    ("newer", "newer than this onboard reads"),
    ("missing-file", "is missing env/env.sh"),
    ("missing-path", "is missing store path"),
    ("no-cache", "missing its binary cache"),
])
def test_bad_input_is_exit_2_and_changes_nothing(tmp_path, case, needle):
    home = tmp_path / "home"
    home.mkdir()
    p = _project(tmp_path / "p")
    d = tmp_path / "arch"
    if case == "empty":
        d.mkdir()
    elif case == "not-json":
        d.mkdir()
        (d / "archive.json").write_text("{not json")
    elif case == "other-format":
        _archive(d, format="something-else")
    elif case == "newer":
        _archive(d, version=99)
    elif case == "missing-file":
        _archive(d, files=["record.json", "env/env.sh"])
    elif case == "missing-path":
        _archive(d, paths=["/nix/store/" + "b" * 32 + "-y"])
    elif case == "no-cache":
        _archive(d)
        (d / "cache" / "nix-cache-info").unlink()
    before = _state(home), _state(p)
    r = _onboard("import", "archive", str(d), cwd=p, home=home)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr, r.stderr
    assert (_state(home), _state(p)) == before


def test_export_container_is_not_available_yet(tmp_path):
    r = _onboard("export", "container", "web", cwd=tmp_path, home=tmp_path)
    assert r.returncode == 2
    assert "not available yet" in r.stderr


def test_export_needs_out_and_an_empty_directory(tmp_path):
    p = _project(tmp_path / "p")
    r = _onboard("export", "archive", "web", cwd=p, home=tmp_path)
    assert r.returncode == 2 and "--out" in r.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    r = _onboard("export", "archive", "web", "--out", str(tmp_path / "full"), cwd=p, home=tmp_path)
    assert r.returncode == 2 and "not an empty directory" in r.stderr


# -- end to end ------------------------------------------------------------------------------

NS = r"""#!/bin/bash
set -e
mount --bind "$SB_NIX" /nix
mount --bind "$SB_EMPTY" "$SB_STANDIN"
set +e
"$@"
"""


@pytest.mark.slow
@pytest.mark.skipif(not standin.have_nix(), reason="needs nix")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount namespace")
def test_export_then_import_offline_in_an_empty_store(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    p = _project(tmp_path / "p")
    r = _onboard("shell", "web", "--print-env", cwd=p, home=home)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "arch"
    r = _onboard("export", "archive", "web", "--out", str(out), cwd=p, home=home)
    assert r.returncode == 0, r.stderr
    assert "bytes before (NAR sizes)" in r.stdout
    doc = json.loads((out / "archive.json").read_text())
    for rel in ("env/env.sh", "flake/flake.nix", "flake/flake.lock", "record.json", "README.md"):
        assert rel in doc["files"] and (out / rel).is_file(), rel
    readme = (out / "README.md").read_text()
    assert "onboard import archive" in readme and "--no-check-sigs" in readme

    base = Path(tempfile.mkdtemp(prefix="onboard-arch-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        (base / "nix").mkdir()
        (base / "empty").mkdir()
        home2 = base / "home"
        home2.mkdir()
        p2 = base / "copy"
        shutil.copytree(p, p2)
        (base / "ns.sh").write_text(NS)

        def ns(*args: str, hide: bool = True) -> subprocess.CompletedProcess:
            env = standin.onboard_standin_env(HOME=str(home2), XDG_CACHE_HOME=str(home2 / ".cache"),
                                              XDG_STATE_HOME=str(home2 / ".local/state"), PYTHONPATH=str(ROOT),
                                              NO_COLOR="1", SB_NIX=str(base / "nix"), SB_STANDIN=str(standin.STANDIN),
                                              SB_EMPTY=str(base / "empty" if hide else standin.STANDIN))
            for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI", "NIX_REMOTE"):
                env.pop(k, None)
            return subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "bash",
                                   str(base / "ns.sh"), sys.executable, "-m", "onboard", *args],
                                  capture_output=True, text=True, env=env, cwd=str(p2), timeout=300,
                                  stdin=subprocess.DEVNULL)

        r = ns("import", "archive", str(out))
        assert "generation 1" in r.stdout, r.stdout + r.stderr
        # the only difference the import may find: the stand-in override is hidden, so its hash differs
        diffs = [ln for ln in r.stdout.splitlines() if ln.startswith("  ")]
        assert r.returncode == (1 if diffs else 0), r.stdout + r.stderr
        assert all(ln.strip().startswith("nixpkgs override:") for ln in diffs), r.stdout
        assert {os.path.basename(q) for q in doc["paths"]} <= set(os.listdir(base / "nix" / "store"))
        r = ns("shell", "web", "--", "sh", "-c", "echo $DATABASE_URL $TEAM; hello")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0] == "postgres://localhost/web onboard", r.stdout
        # the record names the stand-in's hash (a test-only override): compared where it is readable
        r = ns("verify", "web", "--against", str(out / "record.json"), hide=False)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)
