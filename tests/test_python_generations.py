"""Generations record their locked Python's venv: rollback brings it back through the same
ROOT/.venv link, entry makes it again offline from the generation's wheelhouse, gc keeps it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.test_python_env import Proj, _uv_in_standin, pytestmark, proj  # noqa: F401

__all__ = ["pytestmark"]


def _onboard(proj: Proj, p: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onboard", *args], cwd=p, env=proj.env(), capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def _records(venv: Path) -> dict[str, bytes]:
    site = next((venv / "lib").glob("python3*/site-packages"))
    return {str(r.relative_to(site)): r.read_bytes() for r in sorted(site.glob("*.dist-info/RECORD"))}


def test_rollback_restores_the_generations_venv_byte_for_byte(proj):
    proj.index.add("tinyalpha", "1.1")
    p = proj.make("gen")
    proj.lock(p, '"tinyalpha==1.0", "tinybeta==2.0"')
    r = _onboard(proj, p, "switch", "py")
    assert r.returncode == 0, r.stderr
    venv_a = Path(os.path.realpath(p / ".venv"))
    before = _records(venv_a)
    assert sorted(before) == ["tinyalpha-1.0.dist-info/RECORD", "tinybeta-2.0.dist-info/RECORD"]

    proj.lock(p, '"tinyalpha==1.1"')  # one package moved, one removed
    r = _onboard(proj, p, "switch", "py")
    assert r.returncode == 0, r.stderr
    venv_b = Path(os.path.realpath(p / ".venv"))
    assert venv_b != venv_a and sorted(_records(venv_b)) == ["tinyalpha-1.1.dist-info/RECORD"]
    doc = json.loads(next((proj.home / ".local/state/onboard/projects").glob("*/generations.json")).read_text())
    assert [g["venv"] for g in doc["generations"]] == [str(venv_a), str(venv_b)]

    r = _onboard(proj, p, "rollback")
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(p / ".venv") == str(venv_a)
    assert _records(venv_a) == before
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha tinybeta"

    # deleted while held, with the index gone: entry makes it again from the generation's wheelhouse
    proj.index.stop()
    shutil.rmtree(venv_a)
    shutil.rmtree(proj.home / ".cache" / "onboard" / "uv", ignore_errors=True)
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinyalpha tinybeta"
    assert os.path.realpath(p / ".venv") == str(venv_a) and _records(venv_a) == before


def test_gc_lists_and_removes_the_venvs_nothing_uses(proj):
    p = proj.make("gc")
    proj.lock(p, '"tinyalpha==1.0"')
    assert _onboard(proj, p, "switch", "py").returncode == 0
    venv_a = Path(os.path.realpath(p / ".venv"))
    proj.lock(p, '"tinybeta==2.0"')
    assert _onboard(proj, p, "switch", "py").returncode == 0
    venv_b = Path(os.path.realpath(p / ".venv"))
    orphan = venv_a.parent / "0123456789abcdef0123456789abcdef-orphan"
    shutil.copytree(venv_a, orphan, symlinks=True)
    for v in (venv_a, venv_b, orphan):
        os.utime(v, (1, 1))  # older than the grace a build in progress gets

    r = _onboard(proj, p, "gc", "--dry-run", "--nix-gc", "none")
    assert r.returncode == 0, r.stderr
    assert f"remove the virtualenv {orphan} (" in r.stdout
    assert f"remove the virtualenv {venv_a} (" in r.stdout  # generation 1 goes, and its venv with it
    assert str(venv_b) not in r.stdout and "dry run: nothing was changed" in r.stdout
    assert orphan.is_dir() and venv_a.is_dir()

    r = _onboard(proj, p, "gc", "--nix-gc", "none")
    assert r.returncode == 0, r.stderr
    assert not orphan.exists() and not venv_a.exists() and venv_b.is_dir()
    assert proj.found(p, "tinyalpha", "tinybeta") == "tinybeta"
