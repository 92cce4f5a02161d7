"""The locked set as a venv built in the store (`packages.<system>.python-env`) and `onboard shell
--hermetic`, on real Nix with the stand-in package set and a loopback index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import pynative, standin
from tests.test_python_native import PIN, UV, World

pytestmark = [pytest.mark.skipif(not (standin.have_nix() and UV.exists() and shutil.which("patchelf")
                                      and shutil.which("g++")),
                                 reason="needs nix, patchelf, g++ and .venv/bin/uv (tests/run installs them)"),
              pytest.mark.slow]


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.index.stop()


def _build(world: World, rendered: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(["nix", "build", "--json", "--no-link", *extra, f"path:{rendered}#python-env",
                           *standin.override_args()], capture_output=True, text=True, timeout=600,
                          env=world.env())


def test_python_env_is_one_store_path_on_two_checkouts_and_rebuilds_bit_for_bit(world):
    world.index.add("tinyalpha", "1.0")
    world.index.add("tinybeta", "2.0")
    world.serve()
    a = world.project("a", ["tinyalpha==1.0", "tinybeta==2.0"], "")
    b = world.tmp / "elsewhere" / "b"
    shutil.copytree(a, b)
    paths = []
    for proj in (a, b):
        r = subprocess.run([sys.executable, "-m", "onboard", "profiles", "render", "py", "--out", str(proj / "r")],
                           cwd=proj, env=world.env(), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        r = _build(world, proj / "r")
        assert r.returncode == 0, r.stderr[-3000:]
        paths.append(json.loads(r.stdout)[0]["outputs"]["out"])
    assert paths[0] == paths[1] and paths[0].startswith("/nix/store/") and paths[0].endswith("-python-env")
    out = Path(paths[0])
    site = next(out.glob("lib/python3*/site-packages"))
    assert (site / "tinyalpha" / "__init__.py").is_file() and (site / "tinybeta" / "__init__.py").is_file()
    world.index.stop()  # no network from here on
    r = _build(world, a / "r", "--rebuild")  # built again and compared with the first: the same bytes
    assert r.returncode == 0, r.stderr[-3000:]


def test_hermetic_entry_imports_from_the_store_venv_with_no_project_venv(world):
    world.serve(pynative.cpp_wheel(world.tmp / "dist", world.tmp / "work"))
    world.index.add("tinyalpha", "1.0")
    p = world.project("h", ["cppext==1.0", "tinyalpha==1.0"], "  libraries: [stdenv.cc.cc.lib]\n")
    code = "import cppext, tinyalpha, sys, os; print(cppext.greet(), sys.prefix, os.environ['VIRTUAL_ENV'])"
    r = world.shell(p, "python", "-c", code, flags=("--pure", "--hermetic"))
    assert r.returncode == 0, r.stderr[-3000:]
    words = r.stdout.split()
    assert words[-6:-2] == ["hello", "from", "c++", "42"], r.stdout
    assert "python-env of profile py" in r.stderr  # built now, with progress
    prefix, venv = words[-2:]
    assert prefix == venv and prefix.startswith("/nix/store/") and prefix.endswith("-python-env")
    # no project venv was made, and none in onboard's state
    assert not os.path.lexists(p / ".venv")
    assert not any((world.home / ".local/state/onboard/venvs").glob("*"))
    # again: the warm path finds the store venv of this environment: no profile loaded, no Nix build, no uv
    spy = world.tmp / "spy"
    spy.mkdir()
    for tool in ("uv",):
        (spy / tool).write_text(f"#!/bin/sh\necho {tool} >> {world.tmp / 'calls'}\nexit 1\n")
        (spy / tool).chmod(0o755)
    env = dict(world.env(), PATH=f"{spy}:{os.environ['PATH']}")
    r2 = subprocess.run([sys.executable, "-X", "importtime", "-m", "onboard", "shell", "py", "--hermetic", "--", "sh",
                         "-c", 'echo "$VIRTUAL_ENV"'], cwd=p, env=env, capture_output=True, text=True, timeout=120)
    assert r2.returncode == 0 and r2.stdout.split()[-1] == prefix, r2.stderr[-2000:]
    assert not (world.tmp / "calls").exists() and "python-env of" not in r2.stderr
    assert "onboard.core.profiles.loader" not in r2.stderr and "| yaml" not in r2.stderr
    # CI asks for the path: --json --print-env names it
    r4 = subprocess.run([sys.executable, "-m", "onboard", "--json", "shell", "py", "--hermetic", "--print-env"],
                        cwd=p, env=world.env(), capture_output=True, text=True, timeout=120)
    assert r4.returncode == 0, r4.stderr[-2000:]
    doc = json.loads(r4.stdout)
    assert prefix in json.dumps(doc), doc
    # a plain entry gets the project's writable venv, as before
    r3 = world.shell(p, "sh", "-c", 'echo "$VIRTUAL_ENV"')
    assert r3.returncode == 0 and r3.stdout.split()[-1] == str(p / ".venv"), r3.stderr[-2000:]


def test_hermetic_without_a_lock_is_refused_plainly(world):
    p = world.tmp / "nolock"
    (p / "profiles").mkdir(parents=True)
    (p / "profiles" / "py.yaml").write_text("name: py\n" + PIN + "packages: [hello]\n")
    subprocess.run(["git", "init", "-q", str(p)], check=True)
    r = world.shell(p, "true", flags=("--hermetic",))
    assert r.returncode == 2
    assert "--hermetic: profile py has no locked Python" in r.stderr and "Traceback" not in r.stderr
