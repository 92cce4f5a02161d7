"""The project's own flake.nix, flake.lock and shell.nix, checked with the real Nix.

What is and is not checked here, honestly:
- Both files parse (`nix-instantiate --parse`), the lock matches flake.nix's inputs
  (`nix flake metadata` reads it offline), and shell.nix pins the same nixpkgs commit as
  flake.lock (its tarball sha256 is the lock's narHash in base32).
- The real nixpkgs is NOT evaluated or built: no binary cache or GitHub is reachable here.
- Instead, the flake's nixpkgs input is overridden (and shell.nix gets `--arg pkgs`) with
  tests/standin extended by this test: the stand-in offers mkShell, python3.withPackages,
  requests, setuptools and bashInteractive, but not textual, rich, pyyaml, psutil, the pytest
  plugins or the dev tools (direnv, zsh, fish, tmux, shellcheck, dash, patchelf, xz); the test
  adds named placeholders for those (never run), and a stub `buildPythonApplication` that
  records its arguments and builds a launcher running the filtered source with the host's
  python. So what runs for real is: the flake's outputs, the devShell entered with
  `nix develop` and `nix-shell` (its variables and shellHook), `nix run` through the app's
  program path, and the package's source filter, version and dependency list from
  pyproject.toml. What the real buildPythonApplication does with them is not tested.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import needs_nix

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_MAP = {"x86_64": "x86_64-linux", "aarch64": "aarch64-linux"}

# Placeholders are built by a bash that ends with a builtin: on these machines a builder whose
# last command is exec'd in place of bash (mkdir, ln, chmod...) is sometimes SIGKILLed.
WRAPPER = r"""
# tests/standin plus what onboard's own dev shell and package need and the stand-in lacks.
args:
let
  base = import ./base args;
  system = base.system;
  placeholder = name: derivation {
    inherit name system;
    builder = "/bin/bash";
    PATH = "/usr/bin:/bin";
    args = [ "-e" "-c" ''mkdir -p "$out/bin"; ln -s /bin/false "$out/bin/${name}"; true'' ];
  };
  missingTools = [ "direnv" "zsh" "fish" "tmux" "shellcheck" "dash" "patchelf" "xz" ];
  missingPython = [ "textual" "rich" "pyyaml" "psutil" "pytest-xdist" "pytest-asyncio"
                    "pytest-textual-snapshot" ];
  addMissing = set: names: set // builtins.listToAttrs (map (n: { name = n; value = placeholder n; })
    (builtins.filter (n: !(set ? ${n})) names));
  stubApplication = a: derivation {
    name = "${a.pname}-${a.version}";
    inherit system;
    builder = "/bin/bash";
    PATH = "/usr/bin:/bin";
    src = a.src;
    args = [ "-e" "-c" ''
      mkdir -p "$out/bin"
      printf '#!/bin/sh\nPYTHONPATH=%s exec python3 -m onboard "$@"\n' "$src" > "$out/bin/onboard"
      chmod +x "$out/bin/onboard"
      true
    '' ];
  } // {
    stub = {
      inherit (a) pname version pyproject doCheck pythonImportsCheck;
      src = "${a.src}";
      dependencies = map (d: d.name) a.dependencies;
      build-system = map (d: d.pname or d.name) a.build-system;
      mainProgram = a.meta.mainProgram;
    };
  };
  pyPkgs = addMissing base.python3Packages missingPython // { buildPythonApplication = stubApplication; };
  python3 = base.python3 // {
    withPackages = f: base.python3.withPackages (_: f pyPkgs);
    pkgs = pyPkgs;
  };
in
addMissing base missingTools // { inherit python3; python3Packages = pyPkgs; }
"""


def nix(*argv: str, cwd: Path | None = None, env: dict | None = None, check: bool = True,
        timeout: float = 120) -> subprocess.CompletedProcess:
    p = subprocess.run(list(argv), cwd=cwd, env=env, text=True, capture_output=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's Nix files and package source, plus things the package must leave out."""
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("flake.nix", "flake.lock", "shell.nix", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, proj / name)
    shutil.copytree(ROOT / "onboard", proj / "onboard", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (proj / "onboard" / "__pycache__").mkdir()
    (proj / "onboard" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    for junk in ("tests/test_x.py", ".venv/bin/python", "bench/x.py"):
        (proj / junk).parent.mkdir(parents=True, exist_ok=True)
        (proj / junk).write_text("not part of the package\n")
    return proj


@pytest.fixture
def standin(tmp_path) -> Path:
    d = tmp_path / "standin"
    shutil.copytree(ROOT / "tests" / "standin", d / "base")
    (d / "default.nix").write_text(WRAPPER)
    (d / "flake.nix").write_text('{ description = "extended stand-in"; outputs = { self }: { }; }\n')
    return d


def system() -> str:
    return SYSTEM_MAP.get(os.uname().machine, f"{os.uname().machine}-linux")


def override(standin: Path) -> list[str]:
    return ["--override-input", "nixpkgs", f"path:{standin}", "--no-write-lock-file"]


@needs_nix
@pytest.mark.parametrize("name", ["flake.nix", "shell.nix"])
def test_parses_with_the_real_nix(name):
    nix("nix-instantiate", "--parse", str(ROOT / name))


def test_shell_nix_pins_the_same_nixpkgs_as_flake_lock():
    from onboard.core.profiles.hashes import sri_to_nix32

    lock = json.loads((ROOT / "flake.lock").read_text())
    node = lock["nodes"][lock["nodes"]["root"]["inputs"]["nixpkgs"]]["locked"]
    assert re.fullmatch(r"[0-9a-f]{40}", node["rev"]) and node["narHash"].startswith("sha256-")
    shell = (ROOT / "shell.nix").read_text()
    url = re.search(r'url = "([^"]+)"', shell).group(1)
    sha = re.search(r'sha256 = "([^"]+)"', shell).group(1)
    assert url == f"https://github.com/NixOS/nixpkgs/archive/{node['rev']}.tar.gz"
    assert sha == sri_to_nix32(node["narHash"])
    flake = (ROOT / "flake.nix").read_text()
    original = lock["nodes"]["nixpkgs"]["original"]
    assert f'inputs.nixpkgs.url = "github:{original["owner"]}/{original["repo"]}/{original["ref"]}"' in flake


@needs_nix
def test_the_lock_matches_the_inputs_offline(project):
    meta = json.loads(nix("nix", "flake", "metadata", "--json", "--no-write-lock-file", f"path:{project}").stdout)
    locked = meta["locks"]["nodes"]["nixpkgs"]["locked"]
    assert locked["rev"] == json.loads((ROOT / "flake.lock").read_text())["nodes"]["nixpkgs"]["locked"]["rev"]


@needs_nix
@pytest.mark.slow
def test_package_and_app_against_the_stand_in(project, standin):
    sysname = system()
    stub = json.loads(nix("nix", "eval", "--json", f"path:{project}#packages.{sysname}.default.stub",
                          *override(standin)).stdout)
    meta = json.loads(nix("nix-instantiate", "--eval", "--json", "--expr",
                          f"(builtins.fromTOML (builtins.readFile {ROOT}/pyproject.toml)).project").stdout)
    assert (stub["pname"], stub["version"]) == (meta["name"], meta["version"])
    assert stub["pyproject"] is True and stub["build-system"] == ["setuptools"]
    assert stub["mainProgram"] == "onboard" and stub["doCheck"] is False
    # every runtime dependency of pyproject.toml, as python3Packages attributes
    # a requirement with a marker (tomli on Python < 3.11) is for Pythons older than the package set's
    names = [re.match(r"[A-Za-z0-9_.-]+", d).group(0).lower() for d in meta["dependencies"] if ";" not in d]
    assert [re.sub(r"^python[\d.]+-|-0-standin$", "", d) for d in stub["dependencies"]] == names
    # the source holds the package and nothing else
    src = Path(stub["src"])
    top = sorted(p.name for p in src.iterdir())
    assert top == ["README.md", "onboard", "pyproject.toml"]
    assert (src / "onboard" / "__init__.py").is_file()
    assert not list(src.rglob("__pycache__")) and not list(src.rglob("*.pyc"))

    program = nix("nix", "eval", "--raw", f"path:{project}#apps.{sysname}.default.program",
                  *override(standin)).stdout
    assert program.endswith("/bin/onboard")
    run = nix("nix", "run", f"path:{project}", *override(standin), "--", "--version")
    assert run.stdout.strip() == f"onboard {meta['version']}"


@needs_nix
@pytest.mark.slow
def test_dev_shell_with_nix_develop_and_nix_shell(project, standin):
    probe = 'echo "dev=$ONBOARD_DEV_SHELL"; echo "pythonpath=$PYTHONPATH"; ' \
            'for c in python3 shellcheck direnv; do command -v "$c"; done'
    env = dict(os.environ, NIX_PATH=f"nixpkgs={standin}")
    dev = nix("nix", "develop", f"path:{project}", *override(standin), "-c", "sh", "-c", probe,
              cwd=project, env=env)
    shell = nix("nix-shell", str(project / "shell.nix"), "--arg", "pkgs", f"import {standin} {{ }}",
                "--run", probe, cwd=project, env=env)
    for p in (dev, shell):
        lines = p.stdout.splitlines()
        assert "dev=1" in lines
        pythonpath = next(x for x in lines if x.startswith("pythonpath="))[len("pythonpath="):]
        assert pythonpath.split(":")[0] == str(project)  # the shellHook put the checkout first
        paths = [line for line in lines if line.startswith("/nix/store/")]
        assert [Path(x).name for x in paths] == ["python3", "shellcheck", "direnv"]
        assert "onboard dev shell" in p.stderr
