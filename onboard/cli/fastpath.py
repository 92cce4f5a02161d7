"""Warm paths that must not import argparse or anything heavy.

`onboard shell [NAME] [--pure] [-- CMD...]` with a fresh cache: read the small manifest,
stat each watched file, then exec bash with the cached environment. No argparse, yaml,
json, subprocess or hashlib (hashlib only when a watched file's stat changed). Anything
unusual returns None and the normal command (onboard/cli/cmd_shell.py) takes over.
"""

from __future__ import annotations

import os
import sys
#: Variables `--pure` keeps (as nix-shell --pure does), everything else is cleared.
PURE_KEEP = ("HOME", "USER", "LOGNAME", "TERM", "COLORTERM", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR",
             "TZ", "PAGER", "LANG", "LC_ALL", "SHLVL", "NIX_CONFIG", "NIX_REMOTE", "NIX_PATH",
             "http_proxy", "https_proxy", "ftp_proxy", "all_proxy", "no_proxy",
             "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY", "NO_PROXY")

#: Flags `onboard shell` accepts before `--` (its own and the global ones).
SHELL_FLAGS = frozenset({"--pure", "--print-env", "--json", "--yes", "-y", "--dry-run", "--verbose", "-v",
                         "--no-color", "--no-fallback", "--render", "--services", "--ephemeral",
                         "--hermetic"})
#: Flags the warm path handles itself.
WARM_FLAGS = frozenset({"--pure", "--no-fallback", "--hermetic"})

RUN_COMMAND = 'ONBOARD_ENV_SH=$1; shift; . "$ONBOARD_ENV_SH"; unset ONBOARD_ENV_SH; exec "$@"'


class Usage(Exception):
    pass


def parse_shell(argv: list[str]) -> tuple[str | None, set[str], list[str] | None, str | None]:
    """(name or None, flags, command or None, --project DIR or None) of `onboard shell` words."""
    name: str | None = None
    project: str | None = None
    flags: set[str] = set()
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            cmd = argv[i + 1:]
            if not cmd:
                raise Usage("nothing after `--`: give the command to run in the shell")
            return name, flags, cmd, project
        if word in SHELL_FLAGS:
            flags.add(word)
        elif word == "--project" or word.startswith("--project="):
            if word == "--project":
                if i + 1 >= len(argv) or not argv[i + 1]:
                    raise Usage("--project needs a directory")
                i += 1
                project = argv[i]
            else:
                project = word.split("=", 1)[1]
        elif word.startswith("-") and word != "-":
            raise Usage(f"unknown option {word}")
        elif name is None:
            name = word
        else:
            raise Usage(f"unexpected {word!r}: to run a command, put it after `--` "
                        f"(onboard shell {name} -- {' '.join(argv[i:])})")
        i += 1
    return name, flags, None, project


def parse_argv(argv: list[str]) -> tuple[str | None, set[str], list[str] | None]:
    """(name or None, flags, command or None) of `onboard shell` words."""
    name, flags, cmd, _project = parse_shell(argv)
    return name, flags, cmd


def exec_shell(directory: str, name: str, bash: str, pure: bool, cmd: list[str] | None,
               project: str | None = None, stale: str = "", extra: dict[str, str] | None = None) -> int:
    """Replace this process with bash in the environment cached in `directory`. `stale`:
    why this is the last good environment rather than a fresh one (sets ONBOARD_ENV_STALE).
    `extra`: variables set on top (--hermetic: ONBOARD_PYTHON_STORE_ENV, the store-built venv)."""
    argv, env = shell_command(directory, name, bash, pure, cmd, project, stale, extra)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    try:
        os.execve(bash, argv, env)
    except OSError as exc:
        sys.stderr.write(f"onboard: error: cannot start {bash}: {exc.strerror}\n")
        return 127
    return 0  # pragma: no cover (execve does not return)


def shell_command(directory: str, name: str, bash: str, pure: bool, cmd: list[str] | None,
                  project: str | None = None, stale: str = "",
                  extra: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of the shell exec_shell starts."""
    env_sh = os.path.join(directory, "env.sh")
    if pure:
        env = {k: os.environ[k] for k in PURE_KEEP if k in os.environ}
        env["ONBOARD_PURE"] = "1"
    else:
        env = dict(os.environ)
        env.pop("ONBOARD_PURE", None)
    env["SHELL"] = bash
    if project:
        env["ONBOARD_PROJECT_DIR"] = project  # the venv and other project paths resolve here
    else:
        env.pop("ONBOARD_PROJECT_DIR", None)
    if project:
        env.update(services_env(project, name))  # PGPORT, DATABASE_URL, ...: at entry, not in the Nix environment
    if stale:
        env["ONBOARD_ENV_STALE"] = "1"
        env["ONBOARD_ENV_STALE_REASON"] = stale
    else:
        env.pop("ONBOARD_ENV_STALE", None)
        env.pop("ONBOARD_ENV_STALE_REASON", None)
    env.pop("ONBOARD_PYTHON_STORE_ENV", None)  # only --hermetic sets it, below
    if extra:
        env.update(extra)
    if cmd:
        argv = [bash, "--noprofile", "--norc", "-c", RUN_COMMAND, "onboard-shell", env_sh, *cmd]
    else:
        argv = [bash, "--rcfile", os.path.join(directory, "bashrc"), "-i"]
    return argv, env


def services_env(project: str, name: str) -> dict[str, str]:
    """The variables of the project's services for profile `name` (docs/services.md)."""
    from onboard.core.profiles.cache import project_dir
    from onboard.core.services import envfile

    return envfile.read(envfile.path(project_dir(project), name)) or {}


def _services_due(directory: str, project: str | None, name: str) -> bool:
    """The profile has services whose variables file is not written yet: the slow path writes it."""
    if not project or not os.path.exists(os.path.join(directory, "flake", "services")):
        return False
    from onboard.core.profiles.cache import project_dir
    from onboard.core.services import envfile

    return not os.path.exists(envfile.path(project_dir(project), name))


def held_notice(project: str, number: int) -> str:
    return (f"onboard: {project} is held at generation {number} (onboard rollback): the profile changed "
            f"since generation {number}; `onboard switch` rebuilds")


def enter_generation(project: str, number: int, name: str, pure: bool, cmd: list[str] | None) -> int | None:
    """Enter generation `number` of `project` as recorded (held by `onboard rollback`):
    never evaluated, never rebuilt; an edit of the profile since then is said, not built."""
    from onboard.core.profiles import cache

    directory = cache.generation_dir(project, number)
    m = cache.read_manifest(directory)
    if m is None or cache.entry_reason(m, directory, root="root") or not m.bash or not _venv_ready(directory):
        return None  # its venv deleted: the slow path makes it again from the generation's wheelhouse
    changed = (cache.lookup_reason(m) if m.dirs else "") or cache.inputs_reason(m.inputs)[0]
    if changed:
        sys.stderr.write(held_notice(project, number) + "\n")
    return exec_shell(directory, name, m.bash, pure, cmd, project)


def shell_fast(argv: list[str]) -> int | None:
    """Enter a profile's shell from a fresh cache without Nix; None means take the slow path."""
    try:
        name, flags, cmd, project_opt = parse_shell(argv)
    except Usage:
        return None
    if flags - WARM_FLAGS:
        return None
    from onboard.core import project as projects
    from onboard.core.profiles import cache

    pure = "--pure" in flags
    root = projects.resolve(project_opt)
    if root is not None:
        if name is None:
            name = cache.active_name(root)
            if not name:
                return None
        held = cache.hold_of(root)
        if held is not None and held[1] == name:
            if "--hermetic" in flags:
                return None
            return enter_generation(root, held[0], name, pure, cmd)
    elif name is None:
        return None
    if not cache.valid_name(name) or name.endswith(cache.PROFILE_SUFFIXES):
        return None
    if root is None:
        profile_file = cache.find_profile_file(name)
        if profile_file is None:
            return None
        owner = cache.owner_key(None, profile_file)
    else:
        owner = cache.path_key(root)
    directory = cache.env_dir(owner, name)
    manifest = cache.read_manifest(directory)
    if manifest is None or manifest.project != (root or "") or \
            os.path.exists(os.path.join(directory, cache.STALE)):
        return None
    if cache.stale_reason(manifest, directory):
        return None
    if not manifest.bash or not os.access(manifest.bash, os.X_OK):
        return None
    extra = None
    if "--hermetic" in flags:
        store = _store_env(directory, manifest.key)  # the locked Python's venv built in the store
        if store is None:
            return None
        extra = {"ONBOARD_PYTHON_STORE_ENV": store}
    elif not _venv_ready(directory):
        return None
    if _services_due(directory, root, name):
        return None
    return exec_shell(directory, name, manifest.bash, pure, cmd, root, extra=extra)


def _store_env(directory: str, key: str) -> str | None:
    """--hermetic: the store venv built for this environment (python-env.key holds its key,
    see onboard/core/python/storeenv.py), or None (the slow path builds it)."""
    try:
        with open(os.path.join(directory, "python-env.key"), encoding="utf-8") as fh:
            if fh.read().strip() != key or not key:
                return None
    except OSError:
        return None
    target = os.path.realpath(os.path.join(directory, "python-env"))
    if target.startswith("/nix/store/") and os.path.isfile(os.path.join(target, "pyvenv.cfg")):
        return target
    return None


def _venv_ready(directory: str) -> bool:
    """A locked Python's venv (named in python-venv, see onboard/core/python/venv.py) has its
    marker: a stat, never uv. False sends the entry to the slow path, which makes it."""
    try:
        with open(os.path.join(directory, "python-venv"), encoding="utf-8") as fh:
            venv = fh.readline().rstrip("\n").partition("=")[2]
    except OSError:
        return True  # no locked Python
    return bool(venv) and os.path.isfile(os.path.join(venv, ".onboard-synced"))
