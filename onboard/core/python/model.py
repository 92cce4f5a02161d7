"""What a Python lock says, as read from uv.lock or a hashed requirements file.

A `Lock` holds `Package`s (name, version, where it comes from) and their `Artifact`s
(file name, URL, sha256, size): everything a Nix fixed-output fetch needs. The readers
(onboard.core.python.uvlock, onboard.core.python.requirements) build it; selection for
one interpreter and platform (onboard.core.python.select) picks one artifact per package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["Artifact", "Dependency", "Package", "Lock", "FIX_UV_LOCK", "FIX_EXPORT", "FIX_INIT",
           "SHA256_RE", "STORE_NAME_RE"]

#: the commands that make a proper lock, quoted in every problem
FIX_UV_LOCK = "uv lock"
FIX_EXPORT = "uv export --format requirements-txt --hashes --output-file requirements.txt"
FIX_INIT = "uv init --bare"

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: characters Nix allows in a store path's name (and it must not start with a dot)
STORE_NAME_RE = re.compile(r"^[A-Za-z0-9+\-_?=][A-Za-z0-9+\-._?=]*$")


@dataclass(frozen=True)
class Artifact:
    """One downloadable file of a package: a wheel or an sdist."""

    filename: str
    url: str  # "" when the lock gives none (a requirements file before its index is asked)
    sha256: str  # 64 lower-case hex digits
    size: Optional[int] = None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True)
class Dependency:
    """An edge of uv.lock's graph: `name` (normalised), with a marker and the extras it asks for.
    `version` is set when the lock holds several versions of that name (a forked resolution)."""

    name: str
    marker: str = ""
    extras: tuple[str, ...] = ()
    version: str = ""


@dataclass
class Package:
    name: str  # normalised (PEP 503)
    version: str
    source: str  # "registry", "url", "git", "path", "directory", "editable", "virtual", "requirements"
    source_url: str = ""  # the registry or URL the source names ("" for local sources)
    wheels: list[Artifact] = field(default_factory=list)
    sdist: Optional[Artifact] = None
    dependencies: list[Dependency] = field(default_factory=list)
    optional: dict[str, list[Dependency]] = field(default_factory=dict)  # extra -> edges
    groups: dict[str, list[Dependency]] = field(default_factory=dict)  # dependency group -> edges
    resolution_markers: list[str] = field(default_factory=list)
    marker: str = ""  # a requirements-file line's marker
    hashes: list[str] = field(default_factory=list)  # a requirements-file line's sha256 values
    file: str = ""
    line: int = 0

    @property
    def artifacts(self) -> list[Artifact]:
        return list(self.wheels) + ([self.sdist] if self.sdist is not None else [])

    @property
    def is_local_project(self) -> bool:
        """The project itself or a workspace member: installed from its directory, not fetched."""
        return self.source in ("virtual", "editable", "directory")

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass
class Lock:
    """A lock file read: `format` is "uv.lock" or "requirements"."""

    format: str
    path: str
    packages: list[Package] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # every file read (includes, pyproject.toml)
    requires_python: str = ""
    roots: list[str] = field(default_factory=list)  # uv.lock: the project and workspace members
    index_urls: list[str] = field(default_factory=list)  # requirements: -i / --extra-index-url given
    constraints: dict[str, str] = field(default_factory=dict)  # requirements: -c name -> version

    def by_name(self, name: str) -> list[Package]:
        return [p for p in self.packages if p.name == name]

    def versions(self) -> dict[str, str]:
        """name -> version of every package that is not the project itself (several versions
        of one name are joined with `, `)."""
        out: dict[str, list[str]] = {}
        for p in self.packages:
            if not p.is_local_project:
                out.setdefault(p.name, []).append(p.version)
        return {n: ", ".join(sorted(set(v))) for n, v in sorted(out.items())}
