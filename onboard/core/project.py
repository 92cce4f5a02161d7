"""Which project a command acts on: its root directory.

The project root is the nearest directory, going up from the start (default: the current
directory, physical path), that holds a `profiles/` directory or a team config
(`onboard.yaml` / `onboard.yml`). The search stops at the root of a git repository (the
directory holding `.git` is still a candidate) and never reaches $HOME or above.
`--project DIR` names it outright. The direnv library (onboard/data/direnv/onboard.sh)
applies the same rule in bash; keep the two in step.

Everything project-relative (the profile's virtualenv, the per-project environment cache,
generations) resolves against the root, never against the current directory.

This module is on the warm path of `onboard shell`: it imports only os (not even typing).
"""

from __future__ import annotations

import os

TEAM_CONFIGS = ("onboard.yaml", "onboard.yml")
PROFILES = "profiles"


def _home() -> str:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return os.path.realpath(home) if home else ""


def is_root(d: str) -> bool:
    if os.path.isdir(os.path.join(d, PROFILES)):
        return True
    return any(os.path.isfile(os.path.join(d, n)) for n in TEAM_CONFIGS)


def find_root(start: str | None = None) -> str | None:
    """The project root containing `start` (default: the current directory), or None."""
    here = os.path.realpath(start or os.getcwd())
    home = _home()
    while True:
        if here == home:
            return None
        if is_root(here):
            return here
        if os.path.exists(os.path.join(here, ".git")):
            return None
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def resolve(project: str | None = None, start: str | None = None) -> str | None:
    """`--project DIR` as an absolute physical path when given, else the root found from
    `start`."""
    if project:
        return os.path.realpath(os.path.abspath(os.path.expanduser(project)))
    return find_root(start)


def key(path: str) -> str:
    """The absolute path with every "/" replaced by "%" (bash: ${ROOT//\\//%})."""
    return os.path.abspath(path).replace("/", "%")


def team_config_file(root: str) -> str | None:
    for n in TEAM_CONFIGS:
        p = os.path.join(root, n)
        if os.path.isfile(p):
            return p
    return None


def profile_dirs(root: str | None) -> list[str]:
    """Where the project's profiles are, in order: $ONBOARD_PROFILES_DIR entries, then the
    team config's `profiles:` directory (when the root's team config names one), else
    ROOT/profiles. Without a root: the loader's own search from the current directory.
    Reads the team config (YAML): never on the warm path."""
    dirs: list[str] = []
    for part in os.environ.get("ONBOARD_PROFILES_DIR", "").split(os.pathsep):
        part = part.strip()
        if part:
            d = os.path.abspath(os.path.expanduser(part))
            if d not in dirs:
                dirs.append(d)
    if root is None:
        from onboard.core.profiles.loader import profile_dirs as loader_dirs

        for p in loader_dirs():
            if str(p) not in dirs:
                dirs.append(str(p))
        return dirs
    chosen = ""
    team = team_config_file(root)
    if team is not None:
        try:
            from onboard.core.teamconfig import check_team_config

            cfg, _problems = check_team_config(team)
            if cfg is not None and cfg.profiles_dir:
                chosen = cfg.profiles_dir
        except Exception:  # an unreadable team config is reported by its own commands
            chosen = ""
    if not chosen and os.path.isdir(os.path.join(root, PROFILES)):
        chosen = os.path.join(root, PROFILES)
    if chosen and chosen not in dirs:
        dirs.append(chosen)
    return dirs


__all__ = ["find_root", "resolve", "key", "profile_dirs", "team_config_file", "is_root"]
