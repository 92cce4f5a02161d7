"""onboard shell: enter a profile's pinned shell, or run a command in it.

The warm path (a fresh cache) is onboard/cli/fastpath.py and never reaches this module;
here the environment is (re)built with live progress first, then bash is exec'd.
"""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "enter a profile's shell, or run a command in it (onboard shell NAME -- CMD)"
DESCRIPTION = """\
Enter the pinned development shell of a team profile, or run one command in it.

  onboard shell web                  interactive bash with the profile's packages and env
  onboard shell web -- pytest -q     run a command in it; its exit code is onboard's
  onboard shell                      the active profile of this project (onboard switch)
  onboard shell web --pure           only the profile's environment (as nix-shell --pure)
  onboard shell web --print-env      build if needed, print the path of the cached env.sh

The environment is evaluated once by Nix and cached under $XDG_CACHE_HOME/onboard/env/;
entering again only loads the cache. Any change to the profile, its requirements file, the
lock, Nix or the system rebuilds it. If a rebuild fails and an older environment exists,
onboard says so and enters the older one.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="profile name (default: the active profile of this project)")
    p.add_argument("--pure", action="store_true",
                   help="clear the environment but HOME, USER, TERM, DISPLAY and a few more")
    p.add_argument("--print-env", action="store_true",
                   help="make sure the cache is fresh, print the path of env.sh and exit")
    p.add_argument("command", nargs="*", metavar="-- CMD", help="command to run in the shell")


def _words(args: argparse.Namespace) -> tuple[str | None, list[str] | None]:
    """Name and command as typed (argparse cannot tell `shell -- CMD` from `shell NAME`)."""
    from onboard.cli import fastpath

    name, _flags, cmd = fastpath.parse_argv(args.words)
    return name, cmd


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.cli import fastpath
    from onboard.core.events import PlanFinished, PlanStarted
    from onboard.core.profiles import cache
    from onboard.core.profiles.build import EnvError, ensure_env
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    try:
        name, cmd = _words(args)
    except fastpath.Usage as exc:
        out.error(str(exc), "onboard shell [NAME] [--pure] [-- CMD...]")
        return 2
    project = None
    if name is None:
        found = cache.active_profile()
        if found is None:
            out.error("no profile given, and this directory has no active profile",
                      "name one (onboard shell NAME), or make one active here: onboard switch NAME")
            return 1
        project, name = found
    try:
        profile = load_profile(name)
    except SchemaError as exc:
        out.error(f"cannot load profile {name}:\n" + "\n".join(f"  {p}" for p in exc.problems),
                  "fix the profile (onboard profiles validate), or list them: onboard profiles")
        return 1
    reporter = out.reporter()
    reporter(PlanStarted(plan=f"profile {profile.name}", total=1))
    try:
        result = ensure_env(profile, emit=reporter)
    except EnvError as exc:
        reporter(PlanFinished(plan=f"profile {profile.name}", status="failed", errors=[exc.message]))
        reporter.close()
        for line in exc.log[-20:]:
            out.info(f"  | {line}")
        out.error(f"cannot build the shell of profile {profile.name}: {exc.message}", exc.hint)
        return 1
    if result.rebuilt or result.fallback:
        reporter(PlanFinished(plan=f"profile {profile.name}", status="failed" if result.fallback else "ok"))
    reporter.close()
    if args.print_env:
        out.line(result.env_sh)
        return 0
    if project is None and profile.path:
        project = cache.project_of_profile(profile.path)
    return fastpath.exec_shell(result.directory, profile.name, result.manifest.bash or "/bin/bash",
                               args.pure, cmd, project)
