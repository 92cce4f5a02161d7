"""onboard shell: enter a profile's shell, or run a command in it.

The warm path (a fresh cache, or a project held at a generation) is onboard/cli/fastpath.py
and never reaches this module; here the environment is checked (one render), (re)built
with live progress if its identity changed, or this project's last good environment is
loaded when that fails, then bash is exec'd.
"""

from __future__ import annotations

import argparse
from typing import Optional

from onboard.cli.output import Output

HELP = "enter a profile's shell, or run a command in it (onboard shell NAME -- CMD)"
DESCRIPTION = """\
Enter the pinned development shell of a team profile, or run one command in it.

  onboard shell web                  interactive bash with the profile's packages and env
  onboard shell web -- pytest -q     run a command in it; its exit code is onboard's
  onboard shell                      the active profile of this project (onboard switch)
  onboard shell web --pure           only the profile's environment (as nix-shell --pure)
  onboard shell py --pure --hermetic a locked Python's venv built in the store (read-only,
                                     packages.<system>.python-env), not the project's .venv
  onboard shell web --print-env      build if needed, print the path of the cached env.sh
  onboard shell --project DIR        the project at DIR (default: the nearest directory
                                     above here holding profiles/ or onboard.yaml)
  onboard shell web --services -- pytest   start the profile's services, wait until they
                                     answer, run the command, stop what it started
  onboard shell web --services --ephemeral -- pytest   the same on data in a temporary
                                     directory, removed afterwards (docs/services.md)

Each project's environment is evaluated once by Nix and cached under
$XDG_CACHE_HOME/onboard/env/, apart from every other project's; entering again only loads
the cache. A change to what it is built from (the rendered profile, its requirements
file, Nix, the system, onboard) rebuilds it; a comment in the profile does not. If a
rebuild fails, onboard says why (file:line) and enters this project's last good
environment with ONBOARD_ENV_STALE=1, unless --no-fallback or ONBOARD_NO_FALLBACK=1 (the
default when CI is set). After `onboard rollback` the project is held at that generation:
its environment is entered as it was until `onboard switch`.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="profile name (default: the active profile of this project)")
    p.add_argument("--pure", action="store_true",
                   help="clear the environment but HOME, USER, TERM, DISPLAY and a few more")
    p.add_argument("--print-env", action="store_true",
                   help="make sure the cache is fresh, print the path of env.sh and exit")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the nearest one above here with profiles/)")
    p.add_argument("--no-fallback", action="store_true",
                   help="a failed rebuild is an error (no last good environment); also ONBOARD_NO_FALLBACK=1")
    p.add_argument("--render", action="store_true",
                   help="only render what lorri mode evaluates (no build); print its path")
    p.add_argument("--hermetic", action="store_true",
                   help="a locked Python: enter with its venv built in the store, not the project's .venv")
    p.add_argument("--services", action="store_true",
                   help="start the profile's services first and stop them afterwards (docs/services.md)")
    p.add_argument("--ephemeral", action="store_true",
                   help="with --services: their data in a temporary directory, removed afterwards")
    # the words are read again by fastpath.parse_shell: argparse only must not refuse them
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="command to run in the shell")


def _notice(name: str, when: float, why: str) -> str:
    import time

    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
    return (f"onboard: building profile {name} failed; loading its last good environment "
            f"(built {stamp}, ONBOARD_ENV_STALE=1): {why}")


def _finish(out: Output, args: argparse.Namespace, directory: str, name: str, bash: str,
            cmd: Optional[list[str]], project: Optional[str], stale: str = "", generation: int = 0) -> int:
    from onboard.cli import fastpath

    if getattr(args, "hermetic", False):
        store = _store_env(out, directory, name)
        if store is None:
            return 1
        args.extra_env = {"ONBOARD_PYTHON_STORE_ENV": store}
    if getattr(args, "services", False) and not args.print_env:
        return _with_services(out, args, directory, name, bash or "/bin/bash", cmd, project, stale)
    if args.print_env:
        env_sh = f"{directory}/env.sh"
        if out.json:
            out.emit_json(env_sh=env_sh, profile=name, project=project, stale=bool(stale),
                          stale_reason=stale, generation=generation or None,
                          **({"python_env": args.extra_env["ONBOARD_PYTHON_STORE_ENV"]}
                             if getattr(args, "hermetic", False) else {}))
        else:
            out.line(env_sh)
        return 0
    return fastpath.exec_shell(directory, name, bash or "/bin/bash", args.pure, cmd, project, stale=stale,
                               extra=getattr(args, "extra_env", None))


def _store_env(out: Output, directory: str, name: str) -> Optional[str]:
    """--hermetic: the store-built venv of the environment in `directory` (built when needed)."""
    from onboard.core.events import PlanFinished, PlanStarted
    from onboard.core.profiles import cache
    from onboard.core.profiles.nixrun import EnvError
    from onboard.core.python import storeenv

    m = cache.read_manifest(directory)
    key = m.key if m is not None else ""
    found = storeenv.current(directory, key)
    if found is not None:
        return found
    reporter = out.reporter()
    reporter(PlanStarted(plan=f"python-env of profile {name}", total=1))
    try:
        path = storeenv.build(directory, key, m.backend if m is not None else "flake", emit=reporter)
    except EnvError as exc:
        reporter(PlanFinished(plan=f"python-env of profile {name}", status="failed", errors=[exc.message]))
        reporter.close()
        for line in exc.log[-20:]:
            out.info(f"  | {line}")
        out.error(f"cannot build the store venv of profile {name}: {exc.message}", exc.hint)
        return None
    reporter(PlanFinished(plan=f"python-env of profile {name}", status="ok"))
    reporter.close()
    return path


def run(args: argparse.Namespace, out: Output) -> int:
    import os

    from onboard.cli import fastpath
    from onboard.core import project as projects
    from onboard.core.events import PlanFinished, PlanStarted
    from onboard.core.profiles import build, cache
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    try:
        name, flags, cmd, project_opt = fastpath.parse_shell(args.words)
    except fastpath.Usage as exc:
        out.error(str(exc), "onboard shell [NAME] [--pure] [--project DIR] [-- CMD...]")
        return 2
    args.print_env = args.print_env or "--print-env" in flags
    args.services = "--services" in flags
    args.ephemeral = "--ephemeral" in flags
    if args.ephemeral and not args.services:
        out.error("--ephemeral goes with --services", "onboard shell NAME --services --ephemeral -- CMD")
        return 2
    args.pure = args.pure or "--pure" in flags
    args.hermetic = getattr(args, "hermetic", False) or "--hermetic" in flags
    out.json = out.json or "--json" in flags
    if out.json and not args.print_env:
        out.error("`onboard shell` has no JSON output: it runs a shell",
                  "`onboard --json shell NAME --print-env` prints the environment's file as JSON")
        return 2
    allow = build.fallback_allowed("--no-fallback" in flags)
    root = projects.resolve(project_opt)
    if project_opt and (root is None or not os.path.isdir(root)):
        out.error(f"{project_opt} is not a directory", "give the project directory: --project DIR")
        return 1
    if name is None:
        name = cache.active_name(root) if root else ""
        if not name:
            out.error("no profile given, and this directory has no active profile",
                      "name one (onboard shell NAME), or make one active here: onboard switch NAME")
            return 1
    held = cache.hold_of(root) if root else None
    if root and held is not None and held[1] == name:
        rc = _enter_held(args, out, root, held[0], name, cmd)
        if rc is not None:
            return rc
    dirs = projects.profile_dirs(root)
    from pathlib import Path

    render = "--render" in flags
    try:
        profile = load_profile(name, dirs=[Path(d) for d in dirs])
        if args.hermetic and not (profile.python and profile.python.locked):
            out.error(f"--hermetic: profile {name} has no locked Python (python.lock or python.requirements), "
                      "so there is no store-built venv to enter",
                      f"enter without --hermetic (onboard shell {name}), or give the profile a lock")
            return 2
    except SchemaError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
        found = cache.find_in(dirs, name) if cache.valid_name(name) else None
        can = allow and found and exc.problems and exc.problems[0].file
        where = build.location(name, root, found or "")
        if render:
            lorri_nix = os.path.join(where, cache.LORRI_NIX)
            if can and os.path.isfile(lorri_nix):
                build.mark_stale(where, str(exc.problems[0]))
                out.info(_notice(name, os.stat(lorri_nix).st_mtime, str(exc.problems[0])))
                out.line(lorri_nix)
                return 0
            out.error(f"cannot load profile {name}:\n" + problems, "fix the profile (onboard profiles validate)")
            return 1
        good = build.fallback(where, name, str(exc.problems[0]), root) if can else None
        if good is None:
            out.error(f"cannot load profile {name}:\n" + problems,
                      "fix the profile (onboard profiles validate), or list them: onboard profiles")
            return 1
        out.info(_notice(name, good.manifest.built, good.reason))
        return _finish(out, args, good.directory, name, good.manifest.bash, cmd, root, stale=good.reason)
    if render:
        try:
            out.line(build.render_for_lorri(profile, project=root, dirs=dirs))
        except OSError as exc:
            out.error(f"cannot render profile {name}: {exc.filename or ''}: {exc.strerror or exc}",
                      "restore the file the profile names")
            return 1
        return 0
    if root and profile.services:
        from onboard.core.services.control import ensure_variables

        ensure_variables(root, profile)  # ports chosen once; exported at entry (docs/services.md)
    args.profile = profile
    reporter = out.reporter()
    reporter(PlanStarted(plan=f"profile {profile.name}", total=1))
    try:
        result = build.ensure_env(profile, emit=reporter, project=root, dirs=dirs, allow_fallback=allow,
                                  python_venv=not args.hermetic)
    except build.EnvError as exc:
        reporter(PlanFinished(plan=f"profile {profile.name}", status="failed", errors=[exc.message]))
        reporter.close()
        for line in exc.log[-20:]:
            out.info(f"  | {line}")
        where = f"{exc.where}: " if exc.where else ""
        out.error(f"cannot build the shell of profile {profile.name}: {where}{exc.message}", exc.hint)
        return 1
    if result.rebuilt or result.fallback:
        reporter(PlanFinished(plan=f"profile {profile.name}", status="failed" if result.fallback else "ok"))
    reporter.close()
    if result.fallback:
        for line in (result.error.log if result.error else [])[-20:]:
            out.info(f"  | {line}")
        out.info(_notice(profile.name, result.manifest.built, result.reason))
    return _finish(out, args, result.directory, profile.name, result.manifest.bash, cmd, root,
                   stale=result.reason if result.fallback else "")


def _enter_held(args: argparse.Namespace, out: Output, root: str, number: int, name: str,
                cmd: Optional[list[str]]) -> Optional[int]:
    """A project held at a generation: that environment, as it was, or an error."""
    from onboard.cli import fastpath
    from onboard.core.profiles import cache

    directory = cache.generation_dir(root, number)
    m = cache.read_manifest(directory)
    why = "it was never recorded" if m is None else cache.entry_reason(m, directory, root="root")
    if m is None or why:
        out.error(f"{root} is held at generation {number} of profile {name} (onboard rollback), "
                  f"which cannot be entered: {why}",
                  f"rebuild it with `onboard switch {name}`, or pick another: onboard rollback --to N")
        return 1
    if (cache.lookup_reason(m) if m.dirs else "") or cache.inputs_reason(m.inputs)[0]:
        out.info(fastpath.held_notice(root, number))
    from onboard.core.profiles.nixrun import EnvError
    from onboard.core.python.envhook import on_entry

    try:
        if not getattr(args, "hermetic", False):
            on_entry(directory)  # its locked Python's venv, made again offline from its wheelhouse if deleted
    except EnvError as exc:
        out.error(f"generation {number} of profile {name}: {exc.message}", exc.hint)
        return 1
    return _finish(out, args, directory, name, m.bash, cmd, root, generation=number)


def _with_services(out: Output, args: argparse.Namespace, directory: str, name: str, bash: str,
                   cmd: Optional[list[str]], project: Optional[str], stale: str) -> int:
    """Start the services (or use those already up), run the shell or CMD, stop what was started."""
    import os
    import signal
    import subprocess

    from onboard.cli import fastpath
    from onboard.cli.cmd_services import _fail, _progress
    from onboard.core.services import control

    profile = getattr(args, "profile", None)
    if profile is None or not project:
        out.error("--services needs the project's profile (not a held generation or a fallback)",
                  "run it inside the project, after `onboard switch NAME`")
        return 1
    if not profile.services:
        out.error(f"profile {name} has no services", "add `services:` to it, or drop --services")
        return 1
    try:
        res = control.up(project, profile, emit=_progress(out), ephemeral=args.ephemeral, watch_pid=os.getpid())
    except control.ServicesError as exc:
        return _fail(out, exc)
    except KeyboardInterrupt:
        return 130
    argv, env = fastpath.shell_command(directory, name, bash, args.pure, cmd, project, stale=stale,
                                       extra=getattr(args, "extra_env", None))
    if res.data_root:
        for s in control.status(project):
            if s.get("kind") == "postgresql" and s.get("data_dir"):
                env["PGDATA"] = s["data_dir"]
    rc = 1
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the command; we stop after it
    try:
        try:
            child = subprocess.Popen(argv, executable=bash, env=env,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        except OSError as exc:
            out.error(f"cannot start {bash}: {exc.strerror}", "check the environment's bash")
            return 127
        rc = child.wait()
    finally:
        if res.started:
            control.down(project)
        signal.signal(signal.SIGINT, old)
    return 130 if rc == -signal.SIGINT else (128 - rc if rc < 0 else rc)

