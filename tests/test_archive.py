"""onboard export archive / import archive. Fast tests of bad input (exit 2, nothing changed),
and one end to end on real Nix with the stand-in: export from the host's store, then, in a
private mount namespace with an empty /nix, no network, the stand-in package set hidden (an
empty folder over tests/standin), a fresh HOME and a copy of the project elsewhere: import,
enter the shell offline, and compare with the archive's record; the README's plain-Nix recipe in
another empty store; a locked Python's venv brought back from the archived wheelhouse."""

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


def test_export_of_an_unknown_kind_is_exit_2_with_a_suggestion(tmp_path):
    r = _onboard("export", "archiv", "web", cwd=tmp_path, home=tmp_path)
    assert r.returncode == 2
    assert "no kind archiv; did you mean `archive`?" in r.stderr


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
        # no difference: the package set the environment was built from is the one its build
        # recorded (facts.json travels with it), though the stand-in is hidden here
        diffs = [ln for ln in r.stdout.splitlines() if ln.startswith("  ")]
        assert r.returncode == 0 and not diffs, r.stdout + r.stderr
        assert {os.path.basename(q) for q in doc["paths"]} <= set(os.listdir(base / "nix" / "store"))
        r = ns("shell", "web", "--", "sh", "-c", "echo $DATABASE_URL $TEAM; hello")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[0] == "postgres://localhost/web onboard", r.stdout
        # the record names the stand-in's hash (a test-only override): compared where it is readable
        r = ns("verify", "web", "--against", str(out / "record.json"), hide=False)
        assert r.returncode == 0, r.stdout + r.stderr

        # the README's plain-Nix recipe, as written, in another empty store: no onboard involved
        (base / "nix2").mkdir()
        section = readme.split("## With plain Nix\n", 1)[1].split("\n## ", 1)[0]
        lines = [ln.strip() for ln in section.splitlines() if ln.strip()]
        copy_all = [ln.split("# every path: ", 1)[1] for ln in lines if ln.startswith("# every path: ")]
        realise = [ln for ln in lines if ln.startswith("nix-store --realise")]
        enter = [ln for ln in lines if ln.startswith("bash --norc -c")]
        assert copy_all and realise and enter, section
        script = "\n".join(["set -e", copy_all[0], realise[0],
                             enter[0].replace("exec bash", 'echo "$DATABASE_URL $TEAM"; hello')])
        env = dict(os.environ, SB_NIX=str(base / "nix2"), SB_STANDIN=str(standin.STANDIN), SB_EMPTY=str(base / "empty"),
                   NIX_CONFIG=standin.NIX_CONFIG, HOME=str(base / "home3"))
        env.pop("NIX_REMOTE", None)
        r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "bash", str(base / "ns.sh"),
                            "bash", "-c", script], capture_output=True, text=True, env=env, cwd=str(out), timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "postgres://localhost/web onboard" in r.stdout and "Hello" in r.stdout, r.stdout + r.stderr
    finally:
        shutil.rmtree(base, ignore_errors=True)


PY = ("name: py\n" + standin.PIN + "python:\n  version: \"3.12\"\n  lock: uv.lock\n")


@pytest.mark.slow
@pytest.mark.skipif(not standin.have_nix(), reason="needs nix")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a private mount namespace")
def test_a_locked_python_environment_comes_back_offline_with_its_venv(tmp_path):
    """The wheelhouse is in the archived closure: in an empty store with no network (the index
    is stopped too) and the stand-in hidden, the imported generation's venv is made from it and
    imports the locked package, in a copy of the project that never had a .venv."""
    from tests.support.pyindex import Index

    uv = ROOT / ".venv" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("needs .venv/bin/uv")
    dest = standin.STANDIN / "uv-bin"
    if not dest.exists() or dest.stat().st_size != uv.stat().st_size:
        shutil.copy2(uv, dest)
    home = tmp_path / "home"
    home.mkdir()
    index = Index(tmp_path / "index")
    index.add("tinyalpha", "1.0")
    index.start()
    p = tmp_path / "pyp"
    (p / "profiles").mkdir(parents=True)
    (p / "profiles" / "py.yaml").write_text(PY)
    (p / ".git").mkdir()
    (p / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                      'dependencies = ["tinyalpha==1.0"]\n')
    try:
        r = subprocess.run([str(uv), "lock", "-q", "--index-url", index.url], cwd=p, capture_output=True, text=True,
                           env={"PATH": os.environ["PATH"], "HOME": str(home), "UV_NO_CONFIG": "1",
                                "UV_CACHE_DIR": str(tmp_path / "uvcache")})
        assert r.returncode == 0, r.stderr
        r = _onboard("shell", "py", "--", "python", "-c", "import tinyalpha", cwd=p, home=home)
        assert r.returncode == 0, r.stderr
        out = tmp_path / "arch"
        r = _onboard("export", "archive", "py", "--out", str(out), cwd=p, home=home)
        assert r.returncode == 0, r.stderr
    finally:
        index.stop()
    doc = json.loads((out / "archive.json").read_text())
    assert any("wheelhouse" in q or "tinyalpha" in q for q in doc["paths"]), doc["paths"]
    base = Path(tempfile.mkdtemp(prefix="onboard-arch-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        for d in ("nix", "empty", "home"):
            (base / d).mkdir()
        p2 = base / "copy"
        shutil.copytree(p, p2, ignore=shutil.ignore_patterns(".venv"))  # a checkout: the venv is not in git
        (base / "ns.sh").write_text(NS)
        home2 = base / "home"
        env = standin.onboard_standin_env(HOME=str(home2), XDG_CACHE_HOME=str(home2 / ".cache"),
                                          XDG_STATE_HOME=str(home2 / ".local/state"), PYTHONPATH=str(ROOT),
                                          NO_COLOR="1", SB_NIX=str(base / "nix"), SB_STANDIN=str(standin.STANDIN),
                                          SB_EMPTY=str(base / "empty"))
        for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI", "NIX_REMOTE"):
            env.pop(k, None)
        script = (f'{sys.executable} -m onboard import archive {out}; echo "IMPORT=$?"\n'
                  f'{sys.executable} -m onboard shell py -- python -c '
                  '"import tinyalpha, sys; print(tinyalpha.__file__); print(sys.prefix)"\n')
        r = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "bash", str(base / "ns.sh"),
                            "bash", "-c", script], capture_output=True, text=True, env=env, cwd=str(p2), timeout=300,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        diffs = [ln for ln in r.stdout.splitlines() if ln.startswith("  ")]
        assert not diffs and "IMPORT=0" in r.stdout, r.stdout + r.stderr
        lines = r.stdout.splitlines()
        assert "site-packages/tinyalpha" in lines[-2], r.stdout
        assert (p2 / ".venv").is_symlink(), "the project's .venv links the generation's venv"
    finally:
        shutil.rmtree(base, ignore_errors=True)
