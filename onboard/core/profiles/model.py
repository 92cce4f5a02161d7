"""The team profile as data: what a profiles/NAME.yaml file says, after validation
and after `extends` chains are merged.

Plain dataclasses, no YAML and no I/O: the loader builds them, the renderer and the
shell cache read them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Optional

#: The package set a profile pins when it names none (never used for shipped profiles).
DEFAULT_OWNER = "NixOS"
DEFAULT_REPO = "nixpkgs"


@dataclass
class Pin:
    """Where the package set comes from, pinned to exact content.

    kind "github": owner/repo at commit `rev` whose unpacked tree has NAR hash `nar_hash`
    (SRI form "sha256-..."). kind "tarball": `url` whose unpacked tree has NAR hash
    `sha256`, the hash `fetchTarball` checks (the loader stores it in SRI form, and in
    `nar_hash` too: for both kinds `nar_hash` is what flake.lock records).
    """

    kind: str  # "github" | "tarball"
    owner: str = DEFAULT_OWNER
    repo: str = DEFAULT_REPO
    rev: str = ""
    nar_hash: str = ""
    url: str = ""
    sha256: str = ""
    last_modified: int = 0  # commit time (seconds), written to flake.lock when known

    def flake_url(self) -> str:
        """The flake input URL (`inputs.nixpkgs.url`)."""
        if self.kind == "github":
            return f"github:{self.owner}/{self.repo}/{self.rev}"
        return self.url

    def tarball_url(self) -> str:
        """A URL fetchTarball can fetch (shell.nix for Nix without flakes)."""
        if self.kind == "github":
            return f"https://github.com/{self.owner}/{self.repo}/archive/{self.rev}.tar.gz"
        return self.url

    def describe(self) -> str:
        if self.kind == "github":
            return f"{self.owner}/{self.repo} at {self.rev[:12]}"
        return self.url


@dataclass
class PythonSpec:
    """A Python interpreter from the package set plus a virtualenv made inside the shell.

    `requirements` is the absolute path of the requirements or lock file (resolved
    relative to the profile that names it), or None for a bare venv.
    `venv_dir` is where the venv goes, relative to the project directory
    ($ONBOARD_PROJECT_DIR, else the directory the shell is entered from; default ".venv").
    `libraries` are attribute paths whose lib/ a locked wheel's or built sdist's extension
    modules get on their RUNPATH (stdenv.cc.cc.lib for libstdc++, zlib...); `build_inputs`
    are what sdists build with (headers, tools such as pg_config); `build_systems` names
    each sdist's build backend (onboard/core/python/native.py).
    """

    version: str
    requirements: Optional[str] = None
    venv_dir: str = ".venv"
    libraries: list[str] = field(default_factory=list)  # on native code's RUNPATH (wheels' libstdc++...)
    build_inputs: list[str] = field(default_factory=list)  # what sdists are built with
    build_systems: dict[str, list[str]] = field(default_factory=dict)  # sdist -> its build backend
    lock: Optional[str] = None  # uv.lock (absolute), with pyproject.toml beside it
    editable: bool = False
    from_nix: list[str] = field(default_factory=list)  # Python packages from the package set
    extras: list[str] = field(default_factory=list)
    selection: Any = None  # the artifacts chosen from the lock at load time (onboard.core.python.Selection)
    lock_inputs: list[str] = field(default_factory=list)  # every file the lock read (uv.lock, pyproject.toml...)

    @property
    def locked(self) -> bool:
        return self.selection is not None

    def attribute(self) -> str:
        """The package-set attribute of the interpreter: "3.12" -> "python312"."""
        return "python" + self.version.replace(".", "")


@dataclass
class Profile:
    name: str
    description: str = ""
    path: str = ""  # the YAML file this profile was loaded from (absolute)
    sources: list[str] = field(default_factory=list)  # every YAML file read, extends chain included
    nixpkgs: Pin = field(default_factory=lambda: Pin(kind="github"))
    packages: list[str] = field(default_factory=list)
    python: Optional[PythonSpec] = None
    env: dict[str, str] = field(default_factory=dict)
    shell_hook: str = ""
    scripts: dict[str, str] = field(default_factory=dict)
    allow_unfree: bool = False
    unfree: list[str] = field(default_factory=list)  # unfree packages allowed one by one
    editors: dict[str, Any] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    extends: Optional[str] = None
    warnings: list[str] = field(default_factory=list)  # things the plan must say (e.g. every unfree package allowed)

    def watched_files(self) -> list[str]:
        """Every file whose change must rebuild the environment: the YAML files of the
        whole extends chain and the Python requirements file."""
        files = list(self.sources)
        if self.python and self.python.requirements:
            files.append(self.python.requirements)
        if self.python:
            files += self.python.lock_inputs
        seen: set[str] = set()
        out: list[str] = []
        for f in files:
            f = os.path.abspath(f)
            if f not in seen:
                seen.add(f)
                out.append(f)
        return out

    def unfree_policy(self) -> str:
        """"none", "listed" (allowed one by one) or "all" (allowUnfree without a list)."""
        if not self.allow_unfree:
            return "none"
        return "listed" if self.unfree else "all"
