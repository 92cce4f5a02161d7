"""The team config: `onboard.yaml` at the root of the team's repository.

It names what every new hire of the team gets by default: the profile, the Nix version
and where its tarball comes from, the team's binary cache, the editors to configure and
how the environment loads (direnv or lorri), and the Python package index `onboard lock`
resolves against. A command-line flag or a choice in the terminal UI always wins over it.

Found, in order: an explicit path (--team-config), $ONBOARD_TEAM_CONFIG, `onboard.yaml`
in the current directory or a parent (up to the repository's root), then
$ONBOARD_DEFAULT_TEAM_CONFIG (which the bootstrap's launcher sets to the config it was
installed with). Validated like profiles: every problem at once as
`file:line:col: message`, unknown keys fatal with a did-you-mean (the checks:
onboard.core.teamschema).

yaml is imported only when a file is parsed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from onboard.core.schema import Problem, SchemaError

FILENAMES = ("onboard.yaml", "onboard.yml")
ENV_PATH = "ONBOARD_TEAM_CONFIG"
ENV_DEFAULT_PATH = "ONBOARD_DEFAULT_TEAM_CONFIG"
ENV_PROFILE = "ONBOARD_TEAM_PROFILE"  # overrides default_profile (the bootstrap's --profile)

SYSTEMS = ("x86_64-linux", "aarch64-linux", "i686-linux", "armv7l-linux", "armv6l-linux", "riscv64-linux",
           "x86_64-darwin", "aarch64-darwin")
RELEASES = "https://releases.nixos.org/nix"


__all__ = ["TeamConfig", "BinaryCache", "find_team_config", "load_team_config", "check_team_config",
           "apply_to_choices", "default_profile", "split_release_key", "SYSTEMS"]


@dataclass
class BinaryCache:
    substituters: list[str] = field(default_factory=list)
    trusted_public_keys: list[str] = field(default_factory=list)


@dataclass
class TeamConfig:
    path: str
    team: str = ""
    default_profile: str = ""
    profiles_dir: str = ""  # absolute; "" when the file names none and there is no profiles/ beside it
    nix_version: str = ""
    nix_mirror: str = ""  # base URL laid out like https://releases.nixos.org/nix
    nix_sha256: dict[str, str] = field(default_factory=dict)  # "VERSION-SYSTEM" -> 64 hex digits
    install_mode: str = ""  # single | daemon | "" (onboard recommends one)
    binary_cache: Optional[BinaryCache] = None
    editors: list[str] = field(default_factory=list)
    loader: str = ""  # direnv | lorri | none | "" (not said)
    python_index_url: str = ""  # the package index `onboard lock` resolves against ("" = uv's default)
    python_extra_index_urls: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def root(self) -> Path:
        """The team repository's root: the directory holding the config."""
        return Path(self.path).parent

    def tarball_url(self, system: str, version: str = "") -> str:
        """Where the Nix release tarball for `system` comes from ("" when no version is set)."""
        version = version or self.nix_version
        if not version:
            return ""
        base = self.nix_mirror or RELEASES
        return f"{base}/nix-{version}/nix-{version}-{system}.tar.xz"

    def tarball_sha256(self, system: str, version: str = "") -> str:
        return self.nix_sha256.get(f"{version or self.nix_version}-{system}", "")

    def nix_table_overlay(self) -> dict[str, Any]:
        """The team's Nix settings in the shape of onboard/data/nix-versions.json, to merge over
        the shipped table: the default version, the mirror's URL template, the sha256 entries
        and the nix.conf settings of the binary cache."""
        out: dict[str, Any] = {}
        if self.nix_version:
            out["default"] = self.nix_version
        if self.nix_mirror:
            out["url_template"] = self.nix_mirror + "/nix-{version}/nix-{version}-{system}.tar.xz"
        versions: dict[str, dict[str, dict[str, str]]] = {}
        for key, sha in self.nix_sha256.items():
            version, system = split_release_key(key)
            versions.setdefault(version, {})[system] = {"sha256": sha}
        if versions:
            out["versions"] = versions
        if self.binary_cache is not None:
            out["nix_conf"] = {"substituters": list(self.binary_cache.substituters),
                               "trusted-public-keys": list(self.binary_cache.trusted_public_keys)}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "team": self.team, "default_profile": self.default_profile,
            "profiles_dir": self.profiles_dir, "nix_version": self.nix_version, "nix_mirror": self.nix_mirror,
            "nix_sha256": dict(self.nix_sha256), "install_mode": self.install_mode,
            "binary_cache": None if self.binary_cache is None else {
                "substituters": list(self.binary_cache.substituters),
                "trusted_public_keys": list(self.binary_cache.trusted_public_keys)},
            "editors": list(self.editors), "loader": self.loader,
            "python_index_url": self.python_index_url,
            "python_extra_index_urls": list(self.python_extra_index_urls),
        }


def split_release_key(key: str) -> tuple[str, str]:
    """"2.24.9-x86_64-linux" -> ("2.24.9", "x86_64-linux")."""
    for system in SYSTEMS:
        if key.endswith("-" + system):
            return key[: -len(system) - 1], system
    return key, ""



# ---------------------------------------------------------------------------------------
# Finding and loading
# ---------------------------------------------------------------------------------------

def find_team_config(start: Optional[Path] = None) -> Optional[Path]:
    """The team config's path, or None. An explicit $ONBOARD_TEAM_CONFIG that does not exist
    is an error (a typo should not silently fall back to no config)."""
    env = os.environ.get(ENV_PATH, "").strip()
    if env:
        p = Path(os.path.expanduser(env)).absolute()
        if not p.is_file():
            raise SchemaError([Problem(str(p), 0, 0, f"no such file (named by ${ENV_PATH})")])
        return p
    here = Path(start if start is not None else os.getcwd()).absolute()
    for d in (here, *here.parents):
        for name in FILENAMES:
            cand = d / name
            if cand.is_file():
                return cand
        if (d / ".git").exists():
            break  # the repository's root: a config above it belongs to something else
    fallback = os.environ.get(ENV_DEFAULT_PATH, "").strip()
    if fallback:
        p = Path(os.path.expanduser(fallback)).absolute()
        if p.is_file():
            return p
    return None


def load_team_config(start: Optional[Path] = None, path: Optional[os.PathLike | str] = None) -> Optional[TeamConfig]:
    """The team config found from `start` (default: the current directory), or the file at
    `path`; None when there is none. Raises SchemaError with every problem when it has
    any error; warnings are kept in `TeamConfig.warnings`."""
    if path is not None:
        p = Path(os.path.expanduser(str(path))).absolute()
        if not p.is_file():
            what = "is a directory, not a team config file" if p.is_dir() else "no such file"
            raise SchemaError([Problem(str(p), 0, 0, what)])
    else:
        found = find_team_config(start)
        if found is None:
            return None
        p = found
    team, problems = check_team_config(p)
    if team is None or any(x.level == "error" for x in problems):
        raise SchemaError(problems)
    return team


def check_team_config(path: os.PathLike | str) -> tuple[Optional[TeamConfig], list[Problem]]:
    """Like load_team_config for one file, but never raises: (config or None, problems)."""
    from onboard.core.schema import Checker, read_yaml
    from onboard.core.teamschema import check_document

    file = str(path)
    res = read_yaml(file)
    c = Checker(file)
    c.problems.extend(res.problems)
    if any(p.level == "error" for p in res.problems):
        return None, _sorted(c.problems)
    team = check_document(res.root, file, c)
    team.warnings = [p for p in c.problems if p.level == "warning"]
    return (team if c.ok else None), _sorted(c.problems)


def _sorted(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.sort_key())


# ---------------------------------------------------------------------------------------
# Using it
# ---------------------------------------------------------------------------------------

def default_profile(team: Optional[TeamConfig]) -> str:
    """The profile a new hire starts with: $ONBOARD_TEAM_PROFILE (the bootstrap's --profile),
    else the team config's default_profile, else ""."""
    env = os.environ.get(ENV_PROFILE, "").strip()
    if env:
        return env
    return team.default_profile if team is not None else ""


def apply_to_choices(team: Optional[TeamConfig], choices: Any, keep: Iterable[str] = (),
                     system: str = "") -> dict[str, Any]:
    """Fill in what `choices` leaves open from the team config; return what was applied,
    which is also recorded in `choices.team_applied` (the planner reads it there).

    Only empty fields are filled, and never a field named in `keep` (what the user set on
    the command line or in the terminal UI). `system` is the Nix system for the tarball
    URL (default: this machine's).
    """
    keep = set(keep)
    applied: dict[str, Any] = choices.team_applied

    def put(name: str, value: Any) -> None:
        if name in keep or not value:
            return
        current = getattr(choices, name)
        if current:
            return
        setattr(choices, name, value)
        applied[name] = value

    put("profile", default_profile(team))
    if team is None:
        return applied
    if team.install_mode and "mode" not in keep and getattr(choices, "mode", "") == "single" \
            and team.install_mode != "single":
        choices.mode = team.install_mode
        applied["mode"] = team.install_mode
    if not getattr(choices, "tarball", "") and "tarball" not in keep:
        put("nix_version", team.nix_version)
        version = getattr(choices, "nix_version", "") or team.nix_version
        if team.nix_mirror and version:
            sys_name = system or _current_system()
            put("tarball", team.tarball_url(sys_name, version))
            put("sha256", team.tarball_sha256(sys_name, version))
        elif version:
            put("sha256", team.tarball_sha256(system or _current_system(), version))
    if not getattr(choices, "components", None) and "components" not in keep:
        comps = list(team.editors)
        if team.loader in ("direnv", "lorri"):
            comps.insert(0, team.loader)
        if comps:
            choices.components = comps
            applied["components"] = list(comps)
    return applied


def _current_system() -> str:
    import platform

    machine = platform.machine().lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64", "i386": "i686", "i586": "i686"}.get(machine, machine)
    return f"{arch}-{platform.system().lower()}"
