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
                         "--no-color"})

RUN_COMMAND = 'ONBOARD_ENV_SH=$1; shift; . "$ONBOARD_ENV_SH"; unset ONBOARD_ENV_SH; exec "$@"'


class Usage(Exception):
    pass


def parse_argv(argv: list[str]) -> tuple[str | None, set[str], list[str] | None]:
    """(name or None, flags, command or None) of `onboard shell` words."""
    name: str | None = None
    flags: set[str] = set()
    for i, word in enumerate(argv):
        if word == "--":
            cmd = argv[i + 1:]
            if not cmd:
                raise Usage("nothing after `--`: give the command to run in the shell")
            return name, flags, cmd
        if word in SHELL_FLAGS:
            flags.add(word)
        elif word.startswith("-") and word != "-":
            raise Usage(f"unknown option {word}")
        elif name is None:
            name = word
        else:
            raise Usage(f"unexpected {word!r}: to run a command, put it after `--` "
                        f"(onboard shell {name} -- {' '.join(argv[i:])})")
    return name, flags, None


def exec_shell(directory: str, name: str, bash: str, pure: bool, cmd: list[str] | None,
               project: str | None = None) -> int:
    """Replace this process with bash in the environment cached in `directory`."""
    env_sh = os.path.join(directory, "env.sh")
    if pure:
        env = {k: os.environ[k] for k in PURE_KEEP if k in os.environ}
        env["ONBOARD_PURE"] = "1"
    else:
        env = dict(os.environ)
        env.pop("ONBOARD_PURE", None)
    env["SHELL"] = bash
    if project and "ONBOARD_PROJECT_DIR" not in env:
        env["ONBOARD_PROJECT_DIR"] = project
    if cmd:
        argv = [bash, "--noprofile", "--norc", "-c", RUN_COMMAND, "onboard-shell", env_sh, *cmd]
    else:
        argv = [bash, "--rcfile", os.path.join(directory, "bashrc"), "-i"]
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


def shell_fast(argv: list[str]) -> int | None:
    """Enter a profile's shell from a fresh cache without Nix; None means take the slow path."""
    try:
        name, flags, cmd = parse_argv(argv)
    except Usage:
        return None
    if flags - {"--pure"}:
        return None
    from onboard.core.profiles import cache

    project = None
    if name is None:
        found = cache.active_profile()
        if found is None:
            return None
        project, name = found
    if not cache.valid_name(name) or name.endswith(cache.PROFILE_SUFFIXES):
        return None
    directory = cache.env_dir(name)
    manifest = cache.read_manifest(directory)
    if manifest is None:
        return None
    profile_file = cache.find_profile_file(name)
    if profile_file is None or cache.stale_reason(manifest, directory, profile_file=profile_file):
        return None
    if not manifest.bash or not os.access(manifest.bash, os.X_OK):
        return None
    if project is None:
        project = cache.project_of_profile(profile_file)
    return exec_shell(directory, name, manifest.bash, "--pure" in flags, cmd, project)

