"""Choosing artifacts for one interpreter and platform, markers, and the texts the renderer
and the shell entry use (Nix fetches and wheelhouse, uv's requirements, the lock identity)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from onboard.core.python import Artifact, Lock, Package, Target, nix_expression, requirements_text, select
from onboard.core.python.markers import Environment, MarkerError, evaluate, version_matches
from onboard.core.python.nixexpr import lock_identity, nix_string, store_name
from onboard.core.python.tags import parse_filename, wheel_tags
from tests.conftest import needs_nix
from tests.support import standin
from tests.support.pyindex import Index, pyindex, sha256_of  # noqa: F401 - pyindex is a fixture

ROOT = Path(__file__).resolve().parents[1]
UV = str(ROOT / ".venv" / "bin" / "uv") if (ROOT / ".venv" / "bin" / "uv").exists() else shutil.which("uv")
H = [c * 64 for c in "0123456789abcdef"]


@pytest.mark.parametrize("marker, expected", [
    ("", True),
    ('python_version >= "3.8"', True),
    ("python_version < '3.12'", False),
    ("python_full_version >= '3.12.1'", True),  # the target's full version is 3.12.4
    ("python_version == '3.*'", True),
    ("python_version ~= '3.10'", True),
    ("'3.12' == python_version", True),
    ("'3.13' <= python_version", False),
    ("sys_platform == 'win32' or (platform_machine == 'x86_64' and os_name == 'posix')", True),
    ("sys_platform == 'linux' and platform_system != 'Linux'", False),
    ("implementation_name == 'cpython' and platform_python_implementation == 'CPython'", True),
    ("extra == 'fast'", True),
    ("extra == 'Fast' and extra != 'slow'", True),
    ("'slow' in extras", False),
    ("'slow' not in extras", True),
    ("platform_machine in 'x86_64 AMD64'", True),
    ("platform_machine not in 'aarch64 arm64'", True),
])
def test_markers_are_decided_for_the_target(marker, expected):
    env = Environment.for_target("3.12", "x86_64", "3.12.4").with_extras(frozenset({"fast"}))
    assert evaluate(marker, env) is expected


@pytest.mark.parametrize("marker, message", [
    ("python_version >= ", "expected a variable or a quoted value, got `the end`"),
    ("os.system('x') == '1'", "unknown marker variable `os.system`"),
    ("__import__('os') == 1", "cannot read the marker"),
    ("(python_version > '3'", "a `(` is not closed"),
    ("sys_platform < 'linux'", "compares text that is not a version"),
    ("python_version == '3' python_version", "unexpected `python_version`"),
])
def test_markers_that_cannot_be_read_are_refused_in_plain_words(marker, message):
    with pytest.raises(MarkerError) as exc:
        evaluate(marker, Environment())
    assert message in str(exc.value)


def test_versions_compare_as_pep_440_says():
    assert version_matches("3.12.0", "==", "3.12")
    assert version_matches("1.0rc1", "<", "1.0") and version_matches("1.0.post1", ">", "1.0")
    assert version_matches("1.0.dev1", "<", "1.0a1") and version_matches("2.0+cpu", "==", "2.0")
    assert not version_matches("3.9.1", "~=", "3.10") and version_matches("3.10.7", "~=", "3.10.2")
    assert version_matches("1!0.1", ">", "99")


def test_wheel_tags_order_prefers_the_interpreters_own_abi_then_abi3_then_pure():
    t = Target(python="3.12", glibc=(2, 17))
    tags = t.tags()
    assert tags[:3] == ["cp312-cp312-manylinux_2_17_x86_64", "cp312-cp312-manylinux2014_x86_64",
                        "cp312-cp312-manylinux_2_16_x86_64"]
    assert tags.index("cp312-abi3-manylinux1_x86_64") < tags.index("cp311-abi3-manylinux_2_17_x86_64")
    assert tags.index("cp38-abi3-linux_x86_64") < tags.index("py3-none-any")
    assert tags[-len(tags) + tags.index("cp312-none-any"):][:3] == ["cp312-none-any", "py312-none-any", "py3-none-any"]
    assert not [x for x in tags if "musllinux" in x or "aarch64" in x or "macosx" in x]
    assert Target(python="3.12", machine="aarch64").platforms()[-2:] == ["manylinux2014_aarch64", "linux_aarch64"]
    assert wheel_tags("x-1-py2.py3-none-any.whl") == ["py2-none-any", "py3-none-any"]
    assert parse_filename("x-1.0.tar.gz") == ("x", "1.0", "sdist")
    assert parse_filename("x_y-1.0-1-cp312-cp312-linux_x86_64.whl") == ("x_y", "1.0", "wheel")
    assert Target.from_system("aarch64-linux", "3.11").machine == "aarch64"
    with pytest.raises(ValueError, match="not a Linux system"):
        Target.from_system("x86_64-darwin", "3.12")


def pkg(name: str, version: str, files: list[str], sdist: str = "") -> Package:
    arts = [Artifact(f, f"https://files.example.org/{f}", H[i % 16]) for i, f in enumerate(files)]
    return Package(name=name, version=version, source="registry", wheels=arts,
                   sdist=Artifact(sdist, f"https://files.example.org/{sdist}", H[15]) if sdist else None,
                   file="/p/uv.lock", line=7)


def lock_of(*packages: Package) -> Lock:
    from onboard.core.python.model import Dependency

    root = Package(name="app", version="0", source="virtual", source_url=".",
                   dependencies=[Dependency(p.name) for p in packages], file="/p/uv.lock", line=1)
    return Lock(format="uv.lock", path="/p/uv.lock", packages=[root, *packages], roots=["app"])


def test_selection_picks_the_best_wheel_and_falls_back_to_the_sdist():
    lock = lock_of(
        pkg("native", "1.0", ["native-1.0-py3-none-any.whl", "native-1.0-cp312-cp312-musllinux_1_1_x86_64.whl",
                              "native-1.0-cp312-abi3-manylinux_2_28_x86_64.whl",
                              "native-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                              "native-1.0-cp312-cp312-manylinux_2_39_x86_64.whl"]),
        pkg("buildme", "2.0", ["buildme-2.0-cp312-cp312-win_amd64.whl"], sdist="buildme-2.0.tar.gz"))
    sel, problems = select(lock, Target(python="3.12"))
    assert problems == []
    assert [(c.name, c.artifact.filename, c.needs_build) for c in sel.chosen] == [
        ("buildme", "buildme-2.0.tar.gz", True),
        # the interpreter's own ABI before abi3; 2_39 needs a newer glibc than 2.35
        ("native", "native-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", False)]
    sel, _ = select(lock, Target(python="3.12", glibc=(2, 39)))
    assert sel.chosen[1].artifact.filename == "native-1.0-cp312-cp312-manylinux_2_39_x86_64.whl"
    sel, _ = select(lock, Target(python="3.13"))
    assert sel.chosen[1].artifact.filename == "native-1.0-cp312-abi3-manylinux_2_28_x86_64.whl"
    sel, _ = select(lock, Target(python="3.12", glibc=(2, 12)))
    assert sel.chosen[1].artifact.filename == "native-1.0-py3-none-any.whl"
    assert [c.name for c in sel.needs_build] == ["buildme"]


def sample_selection():
    lock = lock_of(pkg("zeta", "1.0", ["zeta-1.0-py3-none-any.whl"]),
                   pkg("alpha", "2.0+cpu", ["alpha-2.0+cpu-cp312-cp312-manylinux_2_17_x86_64.whl"]))
    sel, problems = select(lock, Target(python="3.12"))
    assert problems == []
    return sel


def test_requirements_text_is_exactly_the_chosen_artifacts_sorted():
    assert requirements_text(sample_selection()) == (
        f"alpha==2.0+cpu --hash=sha256:{H[0]}\n"
        f"zeta==1.0 --hash=sha256:{H[0]}\n")


def test_the_nix_text_and_identity_are_deterministic_and_change_with_the_artifacts():
    a, b = sample_selection(), sample_selection()
    assert nix_expression(a) == nix_expression(b) and lock_identity(a) == lock_identity(b)
    text = nix_expression(a)
    assert ('a0 = import <nix/fetchurl.nix> { url = "https://files.example.org/alpha-2.0+cpu-cp312-cp312-'
            f'manylinux_2_17_x86_64.whl"; sha256 = "{H[0]}"; name = "alpha-2.0+cpu-cp312-cp312-manylinux_2_17_'
            'x86_64.whl"; };') in text
    assert 'ln -s ${a1} "$out/wheels/zeta-1.0-py3-none-any.whl"' in text
    assert f'identity = "{lock_identity(a)}";' in text
    assert lock_identity(a, "/nix/store/x-python3") != lock_identity(a)
    other = lock_of(pkg("zeta", "1.0", ["zeta-1.0-py3-none-any.whl"]))
    assert lock_identity(select(other, Target(python="3.12"))[0]) != lock_identity(a)
    assert lock_identity(select(other, Target(python="3.11"))[0]) != lock_identity(select(other, Target())[0])
    assert nix_string('a"b${c}\\') == '"a\\"b\\${c}\\\\"'
    assert store_name("x-1.0-py3-none-any.whl") == "x-1.0-py3-none-any.whl"
    assert store_name(".odd name!.tar.gz") == "odd_name_.tar.gz"


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="needs nix-instantiate")
def test_the_nix_text_parses():
    r = subprocess.run(["nix-instantiate", "--parse", "-E", nix_expression(sample_selection())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


FLAKE = """{
  inputs.nixpkgs.url = "path:%s";
  outputs = { self, nixpkgs }:
    let pkgs = import nixpkgs { system = "x86_64-linux"; };
    in { packages.x86_64-linux.default =
           (import ./python.nix { inherit (pkgs) bash coreutils; system = "x86_64-linux"; }).wheelhouse; };
}
"""


@needs_nix
@pytest.mark.skipif(UV is None, reason="needs uv")
def test_the_wheelhouse_builds_in_a_pure_flake_and_uv_installs_from_it_offline(tmp_path, pyindex):
    from onboard.core.python import read_lock
    from onboard.core.python.uvrun import uv_env

    wheel = pyindex.add("tinyalpha", "1.0")
    pyindex.start()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                         'dependencies = ["tinyalpha"]\n')
    assert UV is not None
    r = subprocess.run([UV, "lock", "--no-config", "--index-url", pyindex.url], cwd=proj, env=uv_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lock, problems = read_lock(str(proj / "uv.lock"))
    assert lock is not None and problems == []
    sel, problems = select(lock, Target(python="3.12"))
    flake = tmp_path / "flake"
    flake.mkdir()
    (flake / "python.nix").write_text(nix_expression(sel))
    (flake / "flake.nix").write_text(FLAKE % standin.standin_path())
    out = tmp_path / "result"
    r = subprocess.run(["nix", "build", f"path:{flake}", "--no-write-lock-file", "-o", str(out)],
                       capture_output=True, text=True, timeout=300, env=standin.nix_env())
    assert r.returncode == 0, r.stderr
    link = out / "wheels" / "tinyalpha-1.0-py3-none-any.whl"
    target = os.readlink(link)
    assert target.startswith("/nix/store/") and target.endswith("-tinyalpha-1.0-py3-none-any.whl")
    assert sha256_of(link) == sha256_of(wheel)
    assert (out / "requirements.txt").read_text() == requirements_text(sel)
    assert (out / "identity").read_text().strip() == lock_identity(sel)
    pyindex.stop()  # offline from here on
    venv = tmp_path / "venv"
    env = uv_env()
    assert subprocess.run([UV, "venv", "--no-config", "-q", str(venv)], env=env, timeout=120).returncode == 0
    r = subprocess.run([UV, "pip", "sync", "--no-config", "--no-index", "--find-links", str(out / "wheels"),
                        "--require-hashes", str(out / "requirements.txt")], env={**env, "VIRTUAL_ENV": str(venv)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([str(venv / "bin" / "python"), "-c", "import tinyalpha; print(tinyalpha.VERSION)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "1.0"
