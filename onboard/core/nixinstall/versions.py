"""Known Nix releases: version -> system -> sha256 (and the URL they come from).

The table ships as package data (onboard/data/nix-versions.json). A team can add or
replace entries with a JSON file of the same shape named by ONBOARD_NIX_VERSIONS (a
mirror's URLs, newer versions, an in-house build).
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from onboard.core.nixinstall.errors import PlanningError

DATA_FILE = Path(__file__).resolve().parent.parent.parent / "data" / "nix-versions.json"
OVERRIDE_ENV = "ONBOARD_NIX_VERSIONS"
_TARBALL_RE = re.compile(r"^nix-(?P<version>\d[\w.+-]*?)-(?P<system>[a-z0-9_]+-(?:linux|darwin))\.tar\.xz$")


@dataclass(frozen=True)
class Release:
    version: str
    system: str
    url: str  # a URL, or "" for a local file
    sha256: str
    size: int = 0
    path: str = ""  # a local file instead of a URL

    @property
    def filename(self) -> str:
        src = self.path or self.url
        return src.rstrip("/").rsplit("/", 1)[-1] or f"nix-{self.version}-{self.system}.tar.xz"

    @property
    def label(self) -> str:
        v = f"Nix {self.version}" if self.version else "Nix"
        return f"{v} for {self.system}" if self.system else v


def current_system() -> str:
    """The Nix system name of this machine (x86_64-linux, aarch64-linux, ...)."""
    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "i586": "i686"}.get(machine, machine)
    kernel = platform.system().lower()
    return f"{arch}-{kernel}"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if key == "versions" and isinstance(value, dict):
            versions = {k: dict(v) for k, v in base.get("versions", {}).items()}
            for ver, systems in value.items():
                versions.setdefault(ver, {}).update(systems)
            out["versions"] = versions
        else:
            out[key] = value
    return out


def _team_overlay() -> dict[str, Any]:
    """The team config's Nix settings (onboard.yaml: nix version, mirror, sha256, binary cache)."""
    from onboard.core.schema import SchemaError
    from onboard.core.teamconfig import load_team_config

    try:
        team = load_team_config()
    except SchemaError as exc:
        raise PlanningError(f"the team config has problems:\n{exc}",
                            hint="fix them (or set ONBOARD_TEAM_CONFIG to another file) and run again") from exc
    return team.nix_table_overlay() if team is not None else {}


def load_table(override: Optional[str] = None, team: bool = True) -> dict[str, Any]:
    """The shipped table, with the team config's and then ONBOARD_NIX_VERSIONS' entries over it."""
    table = json.loads(DATA_FILE.read_text())
    if team:
        table = _merge(table, _team_overlay())
    path = override if override is not None else os.environ.get(OVERRIDE_ENV, "")
    if path:
        try:
            extra = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise PlanningError(f"{OVERRIDE_ENV}={path}: no such file") from None
        except ValueError as exc:
            raise PlanningError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(extra, dict):
            raise PlanningError(f"{path}: expected a JSON object like {DATA_FILE.name}")
        table = _merge(table, extra)
    return table


def _entry_url(table: dict[str, Any], version: str, system: str, entry: dict[str, Any]) -> str:
    return entry.get("url") or table["url_template"].format(version=version, system=system)


def known_release(version: str = "", system: str = "", table: Optional[dict[str, Any]] = None) -> Release:
    """The release to download when no tarball is given."""
    table = table or load_table()
    system = system or current_system()
    version = version or table.get("default", "")
    versions = table.get("versions", {})
    if version not in versions:
        known = ", ".join(sorted(versions, key=_version_key, reverse=True))
        raise PlanningError(f"onboard does not know Nix {version!r}; known versions: {known}",
                            hint="pick one of those with --nix-version, or give --tarball and --sha256")
    entry = versions[version].get(system)
    if not entry:
        systems = ", ".join(sorted(versions[version])) or "none"
        raise PlanningError(f"no known Nix {version} tarball for {system} (known for: {systems})",
                            hint="give --tarball URL|PATH and --sha256 for this system")
    return Release(version=version, system=system, url=_entry_url(table, version, system, entry),
                   sha256=entry["sha256"].lower(), size=int(entry.get("size", 0)))


def parse_tarball_name(name: str) -> tuple[str, str]:
    """("2.24.9", "x86_64-linux") from nix-2.24.9-x86_64-linux.tar.xz, or ("", "")."""
    m = _TARBALL_RE.match(name)
    return (m.group("version"), m.group("system")) if m else ("", "")


def lookup_sha256(name: str, table: Optional[dict[str, Any]] = None) -> str:
    """The known hash of a tarball by its file name (a mirror keeps the official names)."""
    version, system = parse_tarball_name(name)
    if not version:
        return ""
    table = table or load_table()
    entry = table.get("versions", {}).get(version, {}).get(system)
    return entry["sha256"].lower() if entry else ""


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", v))
