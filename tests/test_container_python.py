"""A profile with a locked Python exported as an image, end to end on real Nix: the lock is
made by uv from a loopback index, the store-built venv (python-env, built the one way onboard
builds it) is in the image with the package set's Python (a boxed copy of the host's, so it
runs with nothing of the host: tests/support/container_set.py), and the image's command
imports the locked package with the index gone. Run by podman where it can run containers
here, else from a umoci unpack in a chroot (tests/test_container.py's helpers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support import container_set, standin
from tests.test_container import PRIVATE_RUN, _podman_env, _podman_works, run_unpacked
from tests.test_python_native import UV, World

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (standin.have_nix() and UV.exists() and shutil.which("patchelf")),
                                 reason="needs nix, patchelf and .venv/bin/uv (tests/run installs them)")]

CODE = "import tinyalpha, sys; print(tinyalpha.VERSION, tinyalpha.__file__, sys.prefix)"


def _export(world: World, p: Path, env: dict[str, str], out: Path) -> dict:
    r = subprocess.run([sys.executable, "-m", "onboard", "--json", "export", "container", "py", "--out", str(out),
                        "--cmd", f"python -c '{CODE}'", "--tag", "py-test:1"], cwd=p, env=env,
                       capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return json.loads(r.stdout)


def test_a_locked_python_runs_from_the_image_and_the_digest_is_the_same_twice(tmp_path):
    world = World(tmp_path)
    try:
        pkgs = container_set.make(tmp_path / "pkgs", python=world.version)
        shutil.copy(standin.STANDIN / "uv-bin", pkgs / "uv-bin")  # the package set's uv builds the venv
        world.index.add("tinyalpha", "1.0")
        world.serve()
        p = world.project("proj", ["tinyalpha==1.0"], "")
        env = dict(world.env(), ONBOARD_NIXPKGS_OVERRIDE=str(pkgs))
        one = _export(world, p, env, tmp_path / "one.tar")
    finally:
        world.index.stop()  # no index from here on: the image carries the locked package
    venv = one["python_env"]
    assert venv and venv.startswith("/nix/store/") and venv.endswith("-python-env"), one
    assert f"PATH={venv}/bin:" in "\n".join(one["env"]) and f"VIRTUAL_ENV={venv}" in one["env"]
    gcroot = next((world.home / ".cache" / "onboard" / "env").glob("*/py/python-env"))
    assert gcroot.resolve() == Path(venv)  # the store venv's GC root, beside the environment
    # again, with the layer digests and the venv's root gone: the same bytes
    shutil.rmtree(world.home / ".cache" / "onboard" / "containers")
    gcroot.unlink()
    two = _export(world, p, env, tmp_path / "two.tar")
    assert two["digest"] == one["digest"] and two["python_env"] == venv
    assert (tmp_path / "one.tar").read_bytes() == (tmp_path / "two.tar").read_bytes()
    want = ["1.0", f"{venv}/lib/python{world.version}/site-packages/tinyalpha/__init__.py", venv]

    base = Path(tempfile.mkdtemp(prefix="ob-podman-", dir="/tmp"))
    try:
        penv = _podman_env(base)
        why = _podman_works(penv)
        if not why:
            r = subprocess.run([*PRIVATE_RUN, "podman", "load", "-i", str(tmp_path / "one.tar")], capture_output=True,
                               text=True, env=penv, timeout=300)
            assert r.returncode == 0, r.stderr
            r = subprocess.run([*PRIVATE_RUN, "podman", "run", "--rm", "--network", "none", "py-test:1"],
                               capture_output=True, text=True, env=penv, timeout=300)
            assert r.returncode == 0, r.stderr
            assert r.stdout.split() == want, r.stdout
            return
    finally:
        if not why:
            subprocess.run([*PRIVATE_RUN, "podman", "rmi", "-a", "-f"], capture_output=True, env=penv, timeout=120)
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    if not shutil.which("umoci"):
        pytest.skip(f"{why}; and umoci is not installed (tests/run installs it)")
    work = tmp_path / "unpacked"
    work.mkdir()
    spec_cmd = json.loads(_config(tmp_path / "one.tar"))["config"]["Cmd"]
    r = run_unpacked(tmp_path / "one.tar", work, spec_cmd)  # podman cannot run here: the image's own command
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == want, r.stdout


def _config(archive: Path) -> str:
    import tarfile

    with tarfile.open(archive) as t:
        index = json.loads(t.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest = json.loads(t.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]).read())  # type: ignore[union-attr]
        return t.extractfile("blobs/sha256/" + manifest["config"]["digest"][7:]).read().decode()  # type: ignore[union-attr]
