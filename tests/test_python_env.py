"""A locked Python in the environment, end to end: real Nix, the stand-in package set, a loopback
index of wheels the tests write, uv from the test extras (copied into the stand-in)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import standin
from tests.support.pyindex import Index

ROOT = standin.ROOT
UV = ROOT / ".venv" / "bin" / "uv"
IMP = 'import importlib.util as u, sys; print(" ".join(m for m in sys.argv[1:] if u.find_spec(m)) or "-")'

pytestmark = pytest.mark.skipif(not (standin.have_nix() and UV.exists()), reason="needs nix and .venv/bin/uv")


@pytest.fixture(autouse=True, scope="module")
def _uv_in_standin() -> None:
    dest = standin.STANDIN / "uv-bin"
    if not dest.exists() or dest.stat().st_size != UV.stat().st_size:
        shutil.copy2(UV, dest)


class Proj:
    def __init__(self, tmp: Path, index: Index) -> None:
        self.tmp, self.index = tmp, index
        self.home = tmp / "home"
        self.home.mkdir()

    def make(self, name: str, profile: str = "py", body: str = "") -> Path:
        p = self.tmp / name
        (p / "profiles").mkdir(parents=True, exist_ok=True)
        (p / "profiles" / f"{profile}.yaml").write_text(
            f"name: {profile}\nnixpkgs:\n  rev: {'50ab793786d9de88ee30ec4e4c24fb4236fc2674'}\n"
            "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n"
            + (body or "python:\n  version: \"3.12\"\n  lock: uv.lock\n"))
        subprocess.run(["git", "init", "-q", str(p)], check=True)
        return p

    def lock(self, p: Path, deps: str) -> None:
        (p / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                          f"dependencies = [{deps}]\n")
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "UV_NO_CONFIG": "1",
               "UV_CACHE_DIR": str(self.tmp / "uvcache")}
        r = subprocess.run([str(UV), "lock", "-q", "--index-url", self.index.url], cwd=p, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    def env(self, **extra: str) -> dict[str, str]:
        h = self.home
        return standin.onboard_standin_env(HOME=str(h), XDG_CONFIG_HOME=str(h / ".config"),
                                           XDG_STATE_HOME=str(h / ".local/state"), XDG_CACHE_HOME=str(h / ".cache"),
                                           XDG_DATA_HOME=str(h / ".local/share"), PYTHONPATH=str(ROOT), **extra)

    def shell(self, p: Path, *cmd: str, profile: str = "py", **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onboard", "shell", profile, "--", *cmd], cwd=p,
                              env=self.env(**extra), capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)

    def found(self, p: Path, *mods: str, profile: str = "py", **extra: str) -> str:
        r = self.shell(p, "python", "-c", IMP, *mods, profile=profile, **extra)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip().splitlines()[-1]


@pytest.fixture
def proj(tmp_path: Path):
    index = Index(tmp_path / "index")
    index.add("tinyalpha", "1.0")
    index.add("tinybeta", "2.0")
    index.start()
    try:
        yield Proj(tmp_path, index)
    finally:
        index.stop()


def test_exact_sync_follows_the_lock_and_wheels_are_store_paths(proj):
    p = proj.make("a")
    proj.lock(p, '"tinyalpha==1.0", "tinybeta==2.0"')
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha tinybeta"
    r = proj.shell(p, "sh", "-c", 'readlink -f "$ONBOARD_WHEELHOUSE"/wheels/*; echo "$VIRTUAL_ENV"')
    lines = r.stdout.split()
    assert all(line.startswith("/nix/store/") for line in lines[:-1]) and len(lines) == 3
    assert lines[-1] == str(p / ".venv") and not os.path.realpath(lines[-1]).startswith("/nix/store/")
    # a package installed by hand is not part of the lock: a new lock identity drops it and tinybeta
    proj.lock(p, '"tinyalpha==1.0"')
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha"


def test_two_profiles_in_one_project_each_see_only_their_lock(proj):
    p = proj.make("two")
    proj.lock(p, '"tinyalpha==1.0"')
    (p / "other").mkdir()
    shutil.copy(p / "pyproject.toml", p / "other")
    (p / "other" / "pyproject.toml").write_text((p / "pyproject.toml").read_text().replace("tinyalpha", "tinybeta")
                                                .replace("1.0", "2.0"))
    proj.lock(p / "other", '"tinybeta==2.0"')
    proj.make("two", "other", 'python:\n  version: "3.12"\n  lock: other/uv.lock\n')
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha"
    assert proj.found(p, "tinyalpha", "tinybeta", profile="other") == "tinybeta"
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha"


def test_offline_with_hostile_settings_rebuilds_the_venv_from_the_store(proj):
    p = proj.make("off")
    proj.lock(p, '"tinyalpha==1.0"')
    assert proj.found(p, "tinyalpha") == "tinyalpha"
    proj.index.stop()
    shutil.rmtree(os.path.realpath(p / ".venv"))
    shutil.rmtree(proj.home / ".cache" / "onboard" / "uv", ignore_errors=True)
    cfg = proj.home / ".config"
    (cfg / "pip").mkdir(parents=True)
    (cfg / "uv").mkdir(parents=True)
    (cfg / "pip" / "pip.conf").write_text("[global]\nindex-url = http://127.0.0.1:9/simple\nconstraint = /nonexistent\n")
    (cfg / "uv" / "uv.toml").write_text('index-url = "http://127.0.0.1:9/simple"\n')
    (proj.home / "uv.toml").write_text('index-url = "http://127.0.0.1:9/simple"\n')
    hostile = {"PIP_INDEX_URL": "http://127.0.0.1:9/", "PIP_CONSTRAINT": "/nonexistent", "UV_INDEX_URL":
               "http://127.0.0.1:9/", "UV_CONSTRAINT": "/nonexistent", "UV_NO_BINARY": "1", "UV_OFFLINE": "0"}
    assert proj.found(p, "tinyalpha", "tinybeta", **hostile) == "tinyalpha"


def test_warm_entry_runs_no_uv(proj, tmp_path):
    p = proj.make("warm")
    proj.lock(p, '"tinyalpha==1.0"')
    assert proj.found(p, "tinyalpha") == "tinyalpha"
    spy = tmp_path / "spy"
    spy.mkdir()
    log = tmp_path / "calls"
    (spy / "uv").write_text(f'#!/bin/sh\necho uv >> {log}\nexit 1\n')
    (spy / "uv").chmod(0o755)
    assert proj.found(p, "tinyalpha", PATH=f"{spy}:{os.environ['PATH']}") == "tinyalpha"
    assert not log.exists()


def test_a_wrong_hash_fails_naming_the_package_and_keeps_the_last_venv(proj):
    p = proj.make("bad")
    proj.lock(p, '"tinyalpha==1.0"')
    assert proj.found(p, "tinyalpha") == "tinyalpha"
    good = os.path.realpath(p / ".venv")
    proj.lock(p, '"tinyalpha==1.0", "tinybeta==2.0"')
    lock = p / "uv.lock"
    text = lock.read_text()
    beta = text.index('[[package]]\nname = "tinybeta"')
    m = re.compile(r"sha256:[0-9a-f]{64}").search(text, beta)
    assert m
    lock.write_text(text[:m.start()] + "sha256:" + "0" * 62 + "aa" + text[m.end():])
    r = proj.shell(p, "true", ONBOARD_NO_FALLBACK="1")
    assert r.returncode == 1
    assert "tinybeta" in r.stderr and "hash" in r.stderr and "0" * 62 + "aa" in r.stderr
    assert os.path.realpath(p / ".venv") == good and os.path.isfile(os.path.join(good, ".onboard-synced"))
    # under the fallback policy: the last good environment, said stale
    r = proj.shell(p, "sh", "-c", 'echo "$ONBOARD_ENV_STALE"; python -c "import tinyalpha"')
    assert r.returncode == 0 and r.stdout.split()[-1] == "1", r.stderr


def test_a_missing_include_is_refused_at_its_line(proj):
    p = proj.make("req", body='python:\n  version: "3.12"\n  requirements: requirements.txt\n')
    (p / "profiles" / "requirements.txt").write_text("-r more.txt\n")
    r = proj.shell(p, "true")
    assert r.returncode == 1
    assert "more.txt" in r.stderr and "requirements.txt:1" in r.stderr


def test_locked_and_from_nix_is_refused_naming_both(proj):
    p = proj.make("both", body='python:\n  version: "3.12"\n  lock: uv.lock\n  from_nix: [tinyalpha]\n'
                               "packages: [python312Packages.numpy]\n")
    proj.lock(p, '"tinyalpha==1.0"')
    r = proj.shell(p, "true")
    assert r.returncode == 1
    assert "from_nix" in r.stderr and "uv.lock" in r.stderr and "python312Packages.numpy" in r.stderr
