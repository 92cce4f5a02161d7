"""Native code of a locked Python, built and patched with the package set, end to end: real Nix, the
stand-in package set (its `cc` is a store wrapper that records each call, its stdenv.cc.cc.lib a
copy of the host's libstdc++ in the store), a loopback index serving an sdist and a manylinux
wheel these tests make themselves."""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import pynative, standin
from tests.support.pyindex import Index, write_index

ROOT = standin.ROOT
UV = ROOT / ".venv" / "bin" / "uv"
PIN = ("nixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
       "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n")

pytestmark = [pytest.mark.skipif(not (standin.have_nix() and UV.exists() and shutil.which("patchelf")
                                      and shutil.which("g++")),
                                 reason="needs nix, patchelf, g++ and .venv/bin/uv (tests/run installs them)"),
              pytest.mark.slow]


@pytest.fixture(autouse=True, scope="module")
def _uv_in_standin() -> None:
    dest = standin.STANDIN / "uv-bin"
    if not dest.exists() or dest.stat().st_size != UV.stat().st_size:
        shutil.copy2(UV, dest)


class World:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.home.mkdir()
        self.index = Index(tmp / "index")
        self.version = pynative.host_python()[0]

    def serve(self, *files: Path) -> None:
        for f in files:
            shutil.copy(f, self.index.root / "files" / f.name)
        write_index(self.index.root)
        if self.index.proc is None:
            self.index.start()

    def project(self, name: str, deps: list[str], python: str, groups: str = "") -> Path:
        p = self.tmp / name
        (p / "profiles").mkdir(parents=True)
        self.profile(p, python)
        (p / "pyproject.toml").write_text(
            '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.10"\n'
            f"dependencies = [{', '.join(json.dumps(d) for d in deps)}]\n" + groups)
        subprocess.run(["git", "init", "-q", str(p)], check=True)
        env = {"PATH": os.environ["PATH"], "HOME": str(self.home), "UV_NO_CONFIG": "1",
               "UV_CACHE_DIR": str(self.tmp / "uvcache")}
        r = subprocess.run([str(UV), "lock", "-q", "--index-url", self.index.url], cwd=p, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return p

    def profile(self, p: Path, python: str) -> None:
        (p / "profiles" / "py.yaml").write_text(
            "name: py\n" + PIN + f'python:\n  version: "{self.version}"\n  lock: uv.lock\n' + python)

    def env(self, **extra: str) -> dict[str, str]:
        h = self.home
        return standin.onboard_standin_env(HOME=str(h), XDG_CONFIG_HOME=str(h / ".config"),
                                           XDG_STATE_HOME=str(h / ".local/state"), XDG_CACHE_HOME=str(h / ".cache"),
                                           XDG_DATA_HOME=str(h / ".local/share"), PYTHONPATH=str(ROOT),
                                           ONBOARD_NO_FALLBACK="1", **extra)

    def shell(self, p: Path, *cmd: str, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onboard", "shell", "py", *flags, "--", *cmd], cwd=p,
                              env=self.env(), capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)


@pytest.fixture
def world(tmp_path: Path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.index.stop()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


SHOW_BUILD = ("import cext, json, os; print(cext.add(2, 3)); "
              "print(json.dumps(json.load(open(os.path.join(os.path.dirname(cext.__file__), '_build.json')))))")


def test_an_sdist_builds_with_the_package_sets_compiler_and_its_backend_is_named_in_the_profile(world):
    setuptools = pynative.setuptools_wheel()
    if setuptools is None:
        pytest.skip("no setuptools wheel (70.1 or newer): tests/run downloads one into tests/.data/wheels")
    world.serve(pynative.c_sdist(world.tmp / "dist"), setuptools)
    p = world.project("sd", ["cext==1.0"], "", groups='\n[dependency-groups]\nbuild = ["setuptools"]\n')
    # no build backend named: the profile fails to load, printing the lines that fix it
    r = world.shell(p, "true")
    assert r.returncode == 1
    assert f"{p / 'profiles' / 'py.yaml'}:" in r.stderr and "cext 1.0 (cext-1.0.tar.gz)" in r.stderr
    assert "  python:\n    build_systems:\n      cext: [setuptools, wheel]\n" in r.stderr
    assert "Traceback" not in r.stderr
    world.profile(p, "  build_systems:\n    cext: [setuptools]\n")
    r = world.shell(p, "python", "-c", SHOW_BUILD)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.strip().splitlines()
    assert out[-2] == "5"
    info = json.loads(out[-1])
    calls = info["calls"]
    # every compile and the link went through the package set's cc, a store path; nothing from /usr on PATH
    assert calls and all(c.startswith("standin-cc: /nix/store/") for c in calls), calls
    assert any(" -c " in c for c in calls) and any("-shared" in c for c in calls), calls
    assert info["CC"].startswith("/nix/store/") and info["CC"].endswith("/bin/cc")
    assert all(d.startswith("/nix/store/") for d in info["PATH"].split(":")), info["PATH"]
    assert info["which_host_cc"] == "" and (info["which_gcc"] == "" or info["which_gcc"].startswith("/nix/store/"))
    # the built wheel is a store path in the wheelhouse, and what uv installed
    r = world.shell(p, "sh", "-c", 'for f in "$ONBOARD_WHEELHOUSE"/wheels/*; do readlink -f "$f"; done')
    built = [w for w in r.stdout.split() if "cext-1.0-" in w]
    assert len(built) == 1 and built[0].startswith("/nix/store/") and built[0].endswith(".whl"), r.stdout


def test_a_missing_build_requirement_is_said_with_the_profile_lines(world):
    setuptools = pynative.setuptools_wheel()
    if setuptools is None:
        pytest.skip("no setuptools wheel (70.1 or newer): tests/run downloads one into tests/.data/wheels")
    world.serve(pynative.c_sdist(world.tmp / "dist"), setuptools)
    # the lock has no setuptools: the name comes from the package set, whose setuptools is no backend
    p = world.project("sd2", ["cext==1.0"], "  build_systems:\n    cext: [wheel]\n")
    r = world.shell(p, "true")
    assert r.returncode == 1
    assert "cext 1.0: its build backend" in r.stderr and "needs setuptools" in r.stderr, r.stderr[-3000:]
    assert "    build_systems:\n      cext: [wheel, setuptools]" in r.stderr
    assert f"{p / 'profiles' / 'py.yaml'}:" in r.stderr and "Traceback" not in r.stderr


def _record_ok(site: Path, dist: str) -> dict[str, str]:
    rows = list(csv.reader((site / dist / "RECORD").read_text().splitlines()))
    got = {}
    for name, digest, _size in rows:
        if digest:
            data = (site / name).read_bytes()
            assert digest == "sha256=" + _b64(data), name
            got[name] = digest
    return got


def test_a_manylinux_wheel_gets_libstdcxx_from_the_store_and_no_ld_library_path(world):
    wheel = pynative.cpp_wheel(world.tmp / "dist", world.tmp / "work")
    assert "libstdc++.so.6" in subprocess.run(["patchelf", "--print-needed", str(world.tmp / "work" / next(
        f for f in os.listdir(world.tmp / "work") if f.endswith(".so")))], capture_output=True, text=True).stdout
    world.serve(wheel)
    p = world.project("whl", ["cppext==1.0"], "")
    # no library named: the build says which one the wheel needs and the lines that add it
    r = world.shell(p, "true")
    assert r.returncode == 1
    assert "libstdc++.so.6" in r.stderr and "libraries: [stdenv.cc.cc.lib]" in r.stderr, r.stderr[-3000:]
    assert f"{p / 'profiles' / 'py.yaml'}:" in r.stderr
    world.profile(p, "  libraries: [stdenv.cc.cc.lib, zlib]\n")
    code = ("import cppext; print(cppext.greet()); "
            "print(' '.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libstdc++' in l})))")
    r = world.shell(p, "python", "-c", code, flags=("--pure",))
    assert r.returncode == 0, r.stderr[-3000:]
    greeting, maps = r.stdout.strip().splitlines()[-2:]
    assert greeting == "hello from c++ 42"
    assert maps.startswith("/nix/store/") and maps.endswith("/lib/libstdc++.so.6") and " " not in maps, maps
    r = world.shell(p, "sh", "-c", 'echo "LDLP=${LD_LIBRARY_PATH-unset}"; /bin/ls / >/dev/null && echo ls-ok; '
                                   '/usr/bin/env true && echo env-ok')
    assert r.stdout.split()[-3:] == ["LDLP=unset", "ls-ok", "env-ok"], r.stdout + r.stderr[-2000:]
    # what uv installed is the patched wheel: RECORD has the patched file's hash, not the published one
    venv = Path(os.path.realpath(p / ".venv"))
    site = next(venv.glob("lib/python3*/site-packages"))
    got = _record_ok(site, "cppext-1.0.dist-info")
    so = next(n for n in got if n.endswith(".so"))
    with zipfile.ZipFile(wheel) as z:
        published = z.read(so)
    assert got[so] != "sha256=" + _b64(published)
    rpath = subprocess.run(["patchelf", "--print-rpath", str(site / so)], capture_output=True, text=True).stdout
    assert rpath.strip().startswith("/nix/store/") and "gcc-lib" in rpath and "zlib" not in rpath, rpath
