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
