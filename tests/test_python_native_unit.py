"""The native builder's pieces and the load-time plan of native code, without Nix: the wheel
fixup (RUNPATH, RECORD), the messages with the profile lines that fix them, the profile keys."""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from onboard.core.python import nativebuild as nb
from onboard.core.python.model import Artifact, Lock, Package
from onboard.core.python.native import is_platform_wheel, plan, profile_lines
from onboard.core.python.nixexpr import NativeNix, nix_expression
from onboard.core.python.select import select
from onboard.core.python.tags import Target
from tests.support import pynative

H = ["%064x" % i for i in range(1, 6)]
needs_tools = pytest.mark.skipif(not (shutil.which("patchelf") and shutil.which("g++")), reason="needs patchelf, g++")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


@needs_tools
def test_fixup_sets_runpath_to_the_library_that_has_it_and_rewrites_record(tmp_path):
    wheel = pynative.cpp_wheel(tmp_path / "dist", tmp_path / "work")
    libs = tmp_path / "gcc-lib" / "lib"
    libs.mkdir(parents=True)
    other = tmp_path / "zlib" / "lib"
    other.mkdir(parents=True)
    for lib in ("libstdc++.so.6", "libgcc_s.so.1"):
        (libs / lib).write_bytes(b"stand-in")
    dest = tmp_path / "out.whl"
    changed = nb.fix_wheel(str(wheel), str(dest), [str(other), str(libs)], shutil.which("patchelf") or "", [],
                           str(tmp_path / "t"))
    assert changed
    with zipfile.ZipFile(dest) as z, zipfile.ZipFile(wheel) as orig:
        assert z.namelist() == orig.namelist()  # same members, same order
        record = next(n for n in z.namelist() if n.endswith("RECORD"))
        rows = {r[0]: r for r in csv.reader(z.read(record).decode().splitlines())}
        so = next(n for n in z.namelist() if n.endswith(".so"))
        data = z.read(so)
        assert rows[so][1] == "sha256=" + _b64(data) and rows[so][2] == str(len(data))
        assert data != orig.read(so)
        for n in z.namelist():
            if n != record:
                assert rows[n][1] == "sha256=" + _b64(z.read(n)), n
        (tmp_path / "x.so").write_bytes(data)
    rpath = subprocess.run(["patchelf", "--print-rpath", str(tmp_path / "x.so")], capture_output=True,
                           text=True).stdout.strip()
    assert rpath == str(libs)  # only the directory it needs, not zlib's


@needs_tools
def test_fixup_leaves_a_wheel_that_needs_nothing_byte_for_byte_and_fails_loudly_on_a_missing_library(tmp_path):
    wheel = pynative.cpp_wheel(tmp_path / "dist", tmp_path / "work")
    libs = tmp_path / "lib"
    libs.mkdir()
    with pytest.raises(nb.Failure) as exc:
        nb.fix_wheel(str(wheel), str(tmp_path / "o.whl"), [str(libs)], shutil.which("patchelf") or "",
                     ["zlib"], str(tmp_path / "t"), label="cppext-1.0.whl")
    msg = str(exc.value)
    assert msg.startswith("cppext-1.0.whl: cppext/_cpp") and "libstdc++.so.6" in msg and "(it names: zlib)" in msg
    assert msg.endswith("  python:\n    libraries: [zlib, stdenv.cc.cc.lib]")
    pure = tmp_path / "p.whl"
    with zipfile.ZipFile(pure, "w") as z:
        z.writestr("a/__init__.py", "")
        z.writestr("a/blob.bin", b"\x7fELF" + b"\0" * 200)  # an ELF header, no dynamic object: left alone
    assert not nb.fix_wheel(str(pure), str(tmp_path / "p2.whl"), [], shutil.which("patchelf") or "", [],
                            str(tmp_path / "t"))
    assert (tmp_path / "p2.whl").read_bytes() == pure.read_bytes()


def test_build_system_and_markers_of_an_sdist(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[build-system]\nrequires = ["hatchling>=1", "cython; python_version < '
                                            '\'3.0\'"]\nbuild-backend = "hatchling.build"\nbackend-path = ["."]\n')
    assert nb.build_system(str(tmp_path)) == (["hatchling>=1", "cython; python_version < '3.0'"],
                                              "hatchling.build", ["."])
    assert nb._build_system_by_hand((tmp_path / "pyproject.toml").read_text())["build-backend"] == "hatchling.build"
    assert not nb.marker_holds("cython; python_version < '3.0'") and nb.marker_holds("x; sys_platform == 'linux'")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert nb.build_system(str(tmp_path))[1] == "setuptools.build_meta:__legacy__"
    assert nb.requirement_name("Setuptools_SCM[toml]>=8") == "setuptools-scm"
    msg = nb.missing_backend_message("cext", "1.0", ["setuptools"], ["wheel"], "build backend (x)")
    assert "    build_systems:\n      cext: [wheel, setuptools]\n" in msg


def _lock(*pkgs: Package) -> Lock:
    root = Package(name="app", version="0", source="virtual", source_url=".",
                   dependencies=[__import__("onboard.core.python.model", fromlist=["Dependency"]).Dependency(name=p.name)
                                 for p in pkgs if p.name != "setuptools"])
    return Lock(format="uv.lock", path="/p/uv.lock", packages=[root, *pkgs], roots=["app"])


def _sdist_lock() -> Lock:
    cext = Package(name="cext", version="1.0", source="registry", file="/p/uv.lock", line=3,
                   sdist=Artifact("cext-1.0.tar.gz", "http://x/cext-1.0.tar.gz", H[0]))
    cpp = Package(name="cppext", version="1.0", source="registry",
                  wheels=[Artifact("cppext-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", "http://x/c.whl", H[1])])
    st = Package(name="setuptools", version="80", source="registry",
                 wheels=[Artifact("setuptools-80-py3-none-any.whl", "http://x/s.whl", H[2])])
    return _lock(cext, cpp, st)


def test_an_sdist_without_a_backend_is_a_profile_error_with_the_lines_and_one_with_it_is_planned():
    lock = _sdist_lock()
    sel, problems = select(lock, Target(python="3.12"))
    assert problems == [] and [c.name for c in sel.needs_build] == ["cext"]
    problems = plan(lock, sel, {}, [], "/p/profiles/py.yaml", 4, {})
    assert len(problems) == 1 and problems[0].line == 4 and problems[0].level == "error"
    assert profile_lines({"cext": ["setuptools", "wheel"]}) in problems[0].message
    sel, _ = select(lock, Target(python="3.12"))
    problems = plan(lock, sel, {"cext": ["setuptools", "wheel"], "cppext": ["x"], "cexd": ["y"]}, [],
                    "/p/profiles/py.yaml", 4, {"cppext": 7, "cexd": 8})
    assert [(p.line, p.level) for p in problems] == [(8, "warning"), (7, "warning")]
    assert "did you mean `cext`?" in problems[0].message and "has a wheel" in problems[1].message
    build = sel.native["cext"]
    assert [w.artifact.filename for w in build.wheels] == ["setuptools-80-py3-none-any.whl"]
    assert build.from_set == ["wheel"]
    native = NativeNix(python="pkgs.python312", packages="pkgs.python312Packages",
                       libraries=(("stdenv.cc.cc.lib", "pkgs.stdenv.cc.cc.lib"),),
                       build_inputs=(("postgresql", "pkgs.postgresql"),))
    text = nix_expression(sel, native=native)
    # libraries as given (the output named), build inputs with every output (headers in dev, pg_config)
    assert "libraries = [ pkgs.stdenv.cc.cc.lib ];" in text and "buildInputs = [ pkgs.postgresql ];" in text
    assert "buildInputs = builtins.concatMap outputsOf buildInputs;" in text
    assert 'libraryNames = "stdenv.cc.cc.lib";' in text and 'buildInputNames = "postgresql";' in text
    assert 'native "sdist"' in text and 'native "wheel"' in text and 'native "backend"' in text
    assert "${pkgs.python312Packages.wheel}/${python.sitePackages}" in text
    assert text == nix_expression(sel, native=native)  # deterministic
    assert is_platform_wheel("cppext-1.0-cp312-cp312-manylinux_2_17_x86_64.whl")
    assert not is_platform_wheel("a-1-py3-none-any.whl") and not is_platform_wheel("a-1.tar.gz")


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs nix-instantiate")
def test_the_native_nix_text_parses():
    lock = _sdist_lock()
    sel, _ = select(lock, Target(python="3.12"))
    plan(lock, sel, {"cext": ["setuptools"]}, [], "/p/py.yaml", 1, {})
    text = nix_expression(sel, native=NativeNix(python="pkgs.python312", packages="pkgs.python312Packages"))
    r = subprocess.run(["nix-instantiate", "--parse", "-E", text], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_build_systems_and_build_inputs_keys_are_checked_at_their_lines(tmp_path, monkeypatch):
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    prof = tmp_path / "profiles"
    prof.mkdir()
    (prof / "p.yaml").write_text(
        "name: p\nnixpkgs:\n  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674\n"
        "  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=\n"
        'python:\n  version: "3.12"\n  build_systems:\n    cext: setuptools\n    "bad name!": [x]\n'
        "    ok: []\n  build_inputs: [postgresql_16]\n  buildsystems: {}\n")
    with pytest.raises(SchemaError) as exc:
        load_profile(str(prof / "p.yaml"))
    text = "\n".join(str(p) for p in exc.value.problems)
    assert f"{prof / 'p.yaml'}:8:" in text and "python.build_systems.cext: expected a list" in text
    assert ":9:" in text and "is not a Python package name" in text
    assert ":10:" in text and "python.build_systems.ok: name at least one package" in text
    assert "unknown key `python.buildsystems`" in text and "did you mean `build_systems`" in text
    assert "Traceback" not in text and os.path.exists(prof / "p.yaml")
