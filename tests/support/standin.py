"""The stand-in nixpkgs (tests/standin/) and helpers to run real Nix against it.

Rendered profiles stay exactly what users get; only the `nixpkgs` input is swapped:
flakes through `--override-input nixpkgs path:<standin>`, shell.nix through
`--arg nixpkgs <standin>` (plus `-I nixpkgs=<standin>` so nix-shell finds
bashInteractive).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "standin"

#: Same settings as tests/conftest.py: no binary cache, no registry download, flakes on.
NIX_CONFIG = "\n".join([
    "sandbox = false",
    "substituters =",
    "flake-registry =",
    "experimental-features = nix-command flakes",
])


def standin_path() -> Path:
    return STANDIN


def have_nix() -> bool:
    return shutil.which("nix") is not None


@lru_cache(maxsize=1)
def nix_version() -> tuple[int, ...]:
    """(major, minor, patch) of `nix --version`; () without Nix."""
    if not have_nix():
        return ()
    out = subprocess.run(["nix", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


def nix_env(**extra: str) -> dict[str, str]:
    """The current environment (conftest already set NIX_CONFIG per test) with NIX_CONFIG
    guaranteed and `extra` on top."""
    env = dict(os.environ)
    env.setdefault("NIX_CONFIG", NIX_CONFIG)
    env.update(extra)
    return env


def onboard_standin_env(**extra: str) -> dict[str, str]:
    """Environment for running onboard with nixpkgs overridden by the stand-in."""
    return nix_env(ONBOARD_NIXPKGS_OVERRIDE=str(STANDIN), **extra)


def override_args() -> list[str]:
    return ["--override-input", "nixpkgs", f"path:{STANDIN}", "--no-write-lock-file"]


def nix_develop(flake_dir: os.PathLike | str, cmd: Sequence[str] = ("true",),
                timeout: float = 120) -> subprocess.CompletedProcess:
    """`nix develop <dir> -c CMD` with nixpkgs swapped for the stand-in. Runs in the flake's
    directory: shellHooks may create files (a virtualenv) in the current directory."""
    return subprocess.run(["nix", "develop", f"path:{flake_dir}", *override_args(), "-c", *cmd],
                          capture_output=True, text=True, env=nix_env(), timeout=timeout, cwd=str(flake_dir))


def print_dev_env(flake_dir: os.PathLike | str, profile: Optional[os.PathLike | str] = None,
                  json: bool = False, timeout: float = 120) -> subprocess.CompletedProcess:
    """`nix print-dev-env [--profile P] <dir>` with nixpkgs swapped for the stand-in."""
    argv = ["nix", "print-dev-env", f"path:{flake_dir}", *override_args()]
    if profile is not None:
        argv += ["--profile", str(profile)]
    if json:
        argv.append("--json")
    return subprocess.run(argv, capture_output=True, text=True, env=nix_env(), timeout=timeout)


def nix_shell(shell_nix: os.PathLike | str, command: str = "true", pure: bool = False,
              timeout: float = 120) -> subprocess.CompletedProcess:
    """`nix-shell [--pure] FILE --run COMMAND` with `nixpkgs` swapped for the stand-in."""
    argv = ["nix-shell", str(shell_nix), "--arg", "nixpkgs", str(STANDIN), "-I", f"nixpkgs={STANDIN}",
            "--run", command]
    if pure:
        argv.insert(1, "--pure")
    return subprocess.run(argv, capture_output=True, text=True, env=nix_env(), timeout=timeout,
                          cwd=os.path.dirname(os.path.abspath(shell_nix)))


# A flake and a shell.nix shaped like the ones onboard renders, for tests of the stand-in.
SAMPLE_FLAKE = """\
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/0000000000000000000000000000000000000000";
  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in {
      devShells = forAll (system:
        let pkgs = import nixpkgs { inherit system; config = CONFIG; };
        in { default = pkgs.mkShell {
          name = "sample";
          packages = [ PACKAGES ];
          SAMPLE_VAR = "sample value";
          shellHook = ''
            export SAMPLE_HOOK=ran
          '';
        }; });
    };
}
"""

SAMPLE_SHELL_NIX = """\
{ nixpkgs ? fetchTarball { url = "https://github.com/NixOS/nixpkgs/archive/0000000000000000000000000000000000000000.tar.gz"; sha256 = "0000000000000000000000000000000000000000000000000000"; } }:
let pkgs = import nixpkgs { config = CONFIG; };
in pkgs.mkShell {
  name = "sample";
  packages = [ PACKAGES ];
  SAMPLE_VAR = "sample value";
  shellHook = ''
    export SAMPLE_HOOK=ran
  '';
}
"""


def write_sample(directory: os.PathLike | str, packages: Sequence[str] = ("hello", "postgresql_16"),
                 config: str = "{ }") -> Path:
    """Write flake.nix and shell.nix using `pkgs.<attr>` for each package; return the dir."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pk = " ".join(f"pkgs.{p}" for p in packages)
    for name, text in (("flake.nix", SAMPLE_FLAKE), ("shell.nix", SAMPLE_SHELL_NIX)):
        (d / name).write_text(text.replace("PACKAGES", pk).replace("CONFIG", config))
    return d


# -- a project with profiles, for the end-to-end tests of onboard shell / switch -----------

PIN = """\
nixpkgs:
  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674
  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=
"""

BASE = "name: base\ndescription: the team base\n" + PIN + """\
packages: [hello]
env:
  TEAM: onboard
"""

WEB = """\
name: web
extends: base
packages: [postgresql_16, redis]
env:
  DATABASE_URL: postgres://localhost/web
  QUOTED: "it's \\"quoted\\" $HOME"
shellHook: |
  export WEB_HOOK=ran
  echo "web hook ran" >&2
"""

SCI = "name: sci\n" + PIN + """\
packages: [python312]
python:
  version: "3.12"
  requirements: requirements.txt
  from_nix: [numpy]
"""


class World:
    """A project with profiles, its own cache and state dirs, shared by a module's tests."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        self.profiles = self.project / "profiles"
        self.profiles.mkdir(parents=True)
        (self.profiles / "base.yaml").write_text(BASE)
        (self.profiles / "web.yaml").write_text(WEB)
        (self.profiles / "sci.yaml").write_text(SCI)
        (self.profiles / "requirements.txt").write_text("# nothing to install\n")
        self.cache = root / "cache"
        self.state = root / "state"

    def env(self, **extra: str) -> dict[str, str]:
        env = onboard_standin_env(ONBOARD_CACHE_DIR=str(self.cache), ONBOARD_STATE_DIR=str(self.state),
                                          PYTHONPATH=str(ROOT))
        env.pop("ONBOARD_NIX_BACKEND", None)
        env.update(extra)
        return env

    def onboard(self, *args: str, cwd: Path | None = None, input: str | None = None,
                **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onboard", *args], capture_output=True, text=True,
                              env=self.env(**extra), cwd=str(cwd or self.project), input=input, timeout=120)

    def env_dir(self, name: str, project: Path | None = None) -> Path:
        """The cache directory of `project`'s (default: this world's project) environment."""
        key = str(os.path.realpath(project or self.project)).replace("_", "_u").replace("/", "_s")
        return self.cache / "env" / key / name

    def built(self, name: str, project: Path | None = None) -> str:
        """The `built` stamp of the manifest: changes exactly when the env is rebuilt."""
        for line in (self.env_dir(name, project) / "manifest").read_text().splitlines():
            if line.startswith("built "):
                return line
        raise AssertionError("no built line")


