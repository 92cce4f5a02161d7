"""The stand-in nixpkgs works with the real Nix the way the rendered profiles use it."""

from __future__ import annotations

import os

import pytest

from tests.conftest import needs_nix
from tests.support import standin

pytestmark = needs_nix

ALLOW_VSCODE = '{ allowUnfreePredicate = pkg: builtins.elem (pkgs.lib.getName pkg) [ "vscode" ]; }'


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return standin.write_sample(tmp_path_factory.mktemp("sample"),
                                ["hello", "python312", "python312Packages.numpy", "postgresql_16", "vscode"],
                                ALLOW_VSCODE)


def test_nix_develop_runs_a_command_with_packages_env_and_hook(sample):
    r = standin.nix_develop(sample, ["bash", "-c", "hello; psql --version | cut -d' ' -f1-2; code; echo \"$SAMPLE_VAR/$SAMPLE_HOOK\"; "
                                     "python3 -c 'import numpy; print(numpy.STANDIN)'"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "hello: Hello, world!", "psql (PostgreSQL)", "code: vscode 1.89.0 (stand-in)",
        "sample value/ran", "True"]


def test_print_dev_env_with_a_profile_makes_a_gc_root(sample, tmp_path):
    root = tmp_path / "gcroot"
    r = standin.print_dev_env(sample, profile=root)
    assert r.returncode == 0, r.stderr
    assert os.path.realpath(root).startswith("/nix/store/")
    assert os.path.realpath(root).endswith("-sample-env")
    assert "SAMPLE_VAR='sample value'" in r.stdout
    assert 'eval "$shellHook"' in r.stdout


def test_nix_shell_pure_has_only_the_profile_on_path(sample):
    r = standin.nix_shell(sample / "shell.nix", 'hello; echo "$SAMPLE_VAR/$SAMPLE_HOOK"; '
                          'command -v git || echo no-git; echo "$PATH"', pure=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["hello: Hello, world!", "sample value/ran", "no-git"]
    assert all(p.startswith("/nix/store/") for p in lines[3].split(":")), lines[3]


def test_unfree_package_is_refused_unless_allowed(tmp_path):
    refused = standin.write_sample(tmp_path / "refused", ["hello", "vscode"])
    r = standin.nix_develop(refused)
    assert r.returncode != 0
    assert "has an unfree license" in r.stderr and "vscode" in r.stderr
    everything = standin.write_sample(tmp_path / "all", ["vscode"], "{ allowUnfree = true; }")
    assert standin.nix_develop(everything, ["code"]).returncode == 0


SHIPPED = sorted(p.stem for p in (standin.ROOT / "profiles").glob("*.yaml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_profile_evaluates_and_builds_against_the_standin(name, tmp_path):
    from onboard.core.profiles.loader import load_profile
    from onboard.core.profiles.render import write_rendered

    profile = load_profile(str(standin.ROOT / "profiles" / f"{name}.yaml"))
    write_rendered(profile, tmp_path)
    if profile.python is not None and getattr(profile.python, "lock", None):
        # Its wheels come from the package index, which tests never reach: instantiate the
        # shell instead of building it, and check that every locked wheel is a fixed-output
        # fetch the shell depends on (so it is in the closure, and GC-rooted with it).
        import json
        import subprocess

        system = subprocess.run(["nix", "eval", "--impure", "--raw", "--expr", "builtins.currentSystem"],
                                capture_output=True, text=True, env=standin.nix_env()).stdout
        r = subprocess.run(["nix", "eval", "--raw", f"path:{tmp_path}#devShells.{system}.default.drvPath",
                            *standin.override_args()], capture_output=True, text=True,
                           env=standin.nix_env(), timeout=120)
        assert r.returncode == 0, r.stderr
        for cmd in (["derivation", "show"], ["show-derivation"]):  # newer Nix, Nix 2.8
            shown = subprocess.run(["nix", *cmd, "-r", r.stdout.strip()], capture_output=True,
                                   text=True, env=standin.nix_env(), timeout=120)
            if shown.returncode == 0:
                break
        assert shown.returncode == 0, shown.stderr
        drvs = json.loads(shown.stdout)
        fetched = {d["env"].get("name", "") for d in drvs.values() if d.get("outputs", {}).get("out", {}).get("hash")}
        chosen = {c.artifact.filename for c in profile.python.selection.chosen}
        assert chosen and chosen <= fetched, sorted(chosen - fetched)  # every locked wheel is fetched
        return
    r = standin.print_dev_env(tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"ONBOARD_PROFILE='{name}'" in r.stdout
