"""`use onboard`: real direnv loading a team profile through onboard's cache (real Nix on the
stand-in nixpkgs), warm loads without onboard, rebuilds when an input changes, the
project's active profile, and the last good environment when a rebuild fails."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from onboard.core.choices import Choices
from onboard.core.integrations import direnv as dv
from onboard.core.integrations.planner import plan_integrations
from tests.conftest import needs_nix
from tests.support.direnv_home import World, apply, bump_mtime, watched, write_profile

pytestmark = [needs_nix, pytest.mark.skipif(shutil.which("direnv") is None, reason="needs direnv")]


@pytest.fixture
def world(isolated_home, tmp_path, monkeypatch):
    w = World(isolated_home, tmp_path, monkeypatch)
    (w.project / ".git").mkdir()  # the project is its own repository (its profiles are elsewhere)
    write_profile(w.profiles, "demo", {"DEMO_VAR": "demo value"})
    return w


def env_dir(w: World, name: str = "demo") -> Path:
    """The project's own cache directory of a profile (the project root, "_" as "_u", "/" as "_s")."""
    owner = os.path.realpath(w.project).replace("_", "_u").replace("/", "_s")
    return w.home / ".cache/onboard/env" / owner / name


def install(w: World, profile: str = "demo") -> None:
    apply(plan_integrations(Choices(components=["direnv"], project_dir=str(w.project), profile=profile)))


def spy(w: World) -> Path:
    """ONBOARD_BIN that logs each call, then runs the real onboard."""
    log = w.tmp / "onboard-calls.log"
    exe = w.tmp / "onboard-spy"
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{os.sys.executable}" -m onboard "$@"\n')
    exe.chmod(0o755)
    w.monkeypatch.setenv("ONBOARD_BIN", str(exe))
    return log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_cd_into_the_project_gives_the_profile_env_and_path_and_warm_loads_skip_onboard(world, tmp_path):
    install(world)
    log = spy(world)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    script = 'echo "$DEMO_VAR|$ONBOARD_PROFILE|$SHELL|${TMPDIR-unset}"; command -v hello'
    first = world.exec_in(script, env=world.env(TMPDIR=str(tmpdir), SHELL="/bin/zsh"))
    assert "onboard: building profile demo (no cached environment yet)" in first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == f"demo value|demo|/bin/zsh|{tmpdir}"
    assert lines[1].startswith("/nix/store/") and lines[1].endswith("/bin/hello")
    assert calls(log) == [f"shell demo --print-env --project {world.project}"]

    warm = world.exec_in(script, env=world.env(TMPDIR=str(tmpdir), SHELL="/bin/zsh"))
    assert warm.stdout == first.stdout
    assert "building" not in warm.stderr
    assert calls(log) == [f"shell demo --print-env --project {world.project}"], "a warm load must not run onboard"
    assert os.listdir(tmpdir) == [], "loading must not leave temporary directories behind"
    # leaving the project: nothing of the profile is left
    outside = world.exec_in('echo "[${DEMO_VAR-}]"', directory=tmp_path)
    assert outside.stdout.strip() == "[]"


def test_editing_the_profile_rebuilds_and_the_new_value_loads(world):
    install(world)
    log = spy(world)
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"
    world.exec_in("true")  # warm, and remembers direnv's watch list
    profile = write_profile(world.profiles, "demo", {"DEMO_VAR": "edited value"})
    bump_mtime(profile)
    r = world.exec_in('echo "$DEMO_VAR"')
    assert r.stdout.strip() == "edited value"
    assert f"onboard: building profile demo ({profile} changed)" in r.stderr
    assert calls(log) == [f"shell demo --print-env --project {world.project}"] * 2
    # direnv watches every input, the cache and the project (what makes a shell reload)
    cache = env_dir(world)
    inputs = subprocess.run(["bash", "-c", f'source "{cache}/inputs.sh"; printf "%s\\n" "${{ONBOARD_INPUTS[@]}}"'],
                            capture_output=True, text=True).stdout.splitlines()
    assert str(profile) in inputs and any(i.endswith("/nix") for i in inputs), inputs
    assert set(inputs) | {str(cache / "env.sh")} <= set(watched(world))


def test_an_edit_made_while_nix_was_building_is_picked_up(world):
    """The loader compares inputs with env.sh: env.sh must date from when the inputs were
    read, not from when the build ended, or an edit during the build is never seen."""
    from onboard.core.profiles import cache as envcache

    install(world)
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"
    built = envcache.read_manifest(str(env_dir(world))).built
    profile = write_profile(world.profiles, "demo", {"DEMO_VAR": "edited during the build"})
    during = int((built - 0.001) * 1e9)  # after Nix read the profile, before the build ended
    os.utime(profile, ns=(during, during))
    r = world.exec_in('echo "$DEMO_VAR"')
    assert r.stdout.strip() == "edited during the build", r.stderr


def test_touching_an_input_without_changing_it_does_not_rebuild_nix(world):
    install(world)
    world.exec_in("true")
    env_sh = Path(env_dir(world) / "env.sh")
    before = env_sh.read_bytes()
    bump_mtime(world.profiles / "demo.yaml")
    r = world.exec_in('echo "$DEMO_VAR"')
    assert r.stdout.strip() == "demo value"
    assert env_sh.read_bytes() == before
    again = world.exec_in("true")
    assert "building" not in again.stderr, "the cache must agree with the loader after a touch"


def test_a_deleted_gc_root_rebuilds(world):
    install(world)
    world.exec_in("true")
    gcroot = env_dir(world) / "gcroot"
    gcroot.unlink()
    r = world.exec_in('echo "$DEMO_VAR"')
    assert "its GC root is gone" in r.stderr
    assert r.stdout.strip() == "demo value"
    assert gcroot.is_symlink() and gcroot.exists()


def test_a_failed_rebuild_loads_the_last_good_environment_and_says_so(world):
    install(world)
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"
    profile = world.profiles / "demo.yaml"
    profile.write_text(profile.read_text() + "packages: [this is: not valid\n")
    bump_mtime(profile)
    r = world.exec_in('echo "$DEMO_VAR|${ONBOARD_ENV_STALE-}"')
    assert "building profile demo failed; loading its last good environment" in r.stderr
    assert r.stdout.strip() == "demo value|1"


def test_a_failed_first_build_still_watches_the_profile_so_a_fix_retries(world):
    install(world)
    profile = world.profiles / "demo.yaml"
    good = profile.read_text()
    profile.write_text(good + "packages: [this is: not valid\n")
    r = world.exec_in("true")
    assert "no earlier environment to fall back to" in r.stderr
    assert str(profile) in watched(world), "fixing the profile would need a manual direnv reload"
    profile.write_text(good)
    bump_mtime(profile)
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"


def test_without_a_name_the_projects_active_profile_loads_and_a_switch_reloads(world):
    write_profile(world.profiles, "other", {"DEMO_VAR": "other value"})
    install(world, profile="")
    assert (world.project / ".envrc").read_text().splitlines()[-1] == "use onboard"
    r = world.exec_in('echo "[${DEMO_VAR-}]"')
    assert "no profile is active for" in r.stderr and "onboard switch NAME" in r.stderr
    active = dv.active_file(world.project)
    active.parent.mkdir(parents=True)
    active.write_text("demo\n")
    assert dv.active_profile(world.project) == "demo"
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"
    # a shell that cd'ed in through a symlink (logical PWD) loads the same project
    link = world.tmp / "link-to-project"
    link.symlink_to(world.project)
    r = world.direnv("exec", ".", "sh", "-c", 'echo "$DEMO_VAR"', cwd=link, env=world.env(PWD=str(link)))
    assert r.stdout.strip() == "demo value"
    active.write_text("other\n")
    bump_mtime(active)
    assert str(active) in watched(world)  # a switch makes direnv reload
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "other value"


def test_strict_envrc_files_load_too(world):
    install(world)
    (world.project / ".envrc").write_text("strict_env\nuse onboard demo\necho \"after:$-\" >&2\n")
    world.direnv("allow", str(world.project))
    r = world.exec_in('echo "$DEMO_VAR"')
    assert r.stdout.strip() == "demo value"
    flags = r.stderr.split("after:")[1].split()[0]
    assert "e" in flags and "u" in flags, r.stderr  # strictness is back after loading


def test_a_profile_name_that_is_not_one_is_refused_by_the_library(world):
    install(world)
    (world.project / ".envrc").write_text("use onboard ../../etc\n")
    world.direnv("allow", str(world.project))
    r = world.exec_in('echo "[${DEMO_VAR-}]"')
    assert "is not a profile name" in r.stderr
    assert r.stdout.strip() == "[]"


def test_the_library_finds_onboard_from_the_launcher_written_into_it(world):
    install(world)
    lib = dv.library_path().read_text()
    assert "_onboard_launcher=(" in lib and "@ONBOARD_LAUNCHER@" not in lib
    assert stat.S_IMODE(dv.library_path().stat().st_mode) == 0o644
    # no ONBOARD_BIN and no onboard on PATH: the launcher builds the cache
    env = world.env()
    env.pop("ONBOARD_BIN", None)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                  if not os.path.exists(os.path.join(p, "onboard")))
    r = world.exec_in('echo "$DEMO_VAR"', env=env)
    assert r.stdout.strip() == "demo value", r.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="needs shellcheck")
def test_the_library_is_shellcheck_clean(world):
    install(world)
    r = subprocess.run(["shellcheck", "-s", "bash", "-e", "SC2154", str(dv.library_path())],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
