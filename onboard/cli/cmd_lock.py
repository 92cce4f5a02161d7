"""onboard lock: make or update a project's uv.lock with uv, against the team's package index."""

from __future__ import annotations

import argparse
import os
from typing import Optional

from onboard.cli.output import Output

HELP = "make or update the project's uv.lock (uv lock, with the team's package index); shows what changed"
DESCRIPTION = """\
Run `uv lock` in the project (the directory of pyproject.toml) against the package index the
team config names (`python.index_url`, `python.extra_index_urls` in onboard.yaml), then print
the packages added, removed or at another version. Only uv.lock is written; your own uv and
pip settings are not read. Without a pyproject.toml it says how to make one (`uv init --bare`).

  onboard lock                   lock the project here
  onboard lock PROFILE           lock the project whose uv.lock the profile names
  onboard lock --upgrade         let every package move to its newest allowed version
  onboard lock -P requests       let only requests move

The uv run is $ONBOARD_UV, else `uv` on PATH.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("profile", nargs="?", metavar="PROFILE",
                   help="the profile whose python.lock to update (default: the project in --project)")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory, holding pyproject.toml (default: here)")
    p.add_argument("--upgrade", "-U", action="store_true", help="allow every package to move to a newer version")
    p.add_argument("--upgrade-package", "-P", metavar="NAME", action="append", default=[],
                   help="allow this package to move to a newer version (repeatable)")


def _project_of(args: argparse.Namespace, out: Output) -> Optional[str]:
    """The directory to lock: the profile's python.lock's, else --project, else here."""
    if args.profile:
        from onboard.core.profiles.loader import load_profile
        from onboard.core.schema import SchemaError

        try:
            profile = load_profile(args.profile)
        except SchemaError as exc:
            for p in exc.problems:
                out.error(str(p))
            return None
        lock = getattr(profile.python, "lock", None) if profile.python is not None else None
        if lock:
            return os.path.dirname(os.path.abspath(str(lock)))
        if profile.python is not None and profile.python.requirements:
            out.info(f"note: profile {profile.name} names a requirements file; `onboard lock` makes uv.lock "
                     "(a requirements file is made from it with `uv export --format requirements-txt --hashes`)")
    return os.path.abspath(args.project or ".")


def run(args: argparse.Namespace, out: Output) -> int:
    from pathlib import Path

    from onboard.core.python.uvrun import find_uv, lock_argv, relock
    from onboard.core.schema import SchemaError
    from onboard.core.teamconfig import load_team_config

    project = _project_of(args, out)
    if project is None:
        return 1
    try:
        team = load_team_config(start=Path(project))
    except SchemaError as exc:
        for p in exc.problems:
            out.error(str(p))
        return 1
    index = team.python_index_url if team is not None else ""
    extra = list(team.python_extra_index_urls) if team is not None else []
    uv = find_uv()
    if out.dry_run:
        argv = lock_argv(uv or "uv", index, extra, args.upgrade, args.upgrade_package)
        if out.json:
            out.emit_json(dry_run=True, project=project, command=argv)
        else:
            out.line(f"would run in {project}: {' '.join(argv)}")
            out.line("dry run: nothing was changed")
        return 0
    res = relock(project, uv, index, extra, args.upgrade, args.upgrade_package)
    lock_path = os.path.join(project, "uv.lock")
    if out.json:
        out.emit_json(ok=res.ok, project=project, lock=lock_path, created=res.created, command=res.argv,
                      changes=[{"name": c.name, "old": c.old, "new": c.new} for c in res.changes],
                      problems=[p.to_dict() for p in res.problems])
    if not res.ok:
        if not out.json:
            for p in res.problems:
                out.error(str(p))
            if res.output and out.verbose:
                out.info(res.output)
        return 1
    if not out.json:
        for c in res.changes:
            out.line(str(c))
        if res.created:
            out.line(f"wrote {lock_path} ({len(res.changes)} packages)")
        elif res.changes:
            out.line(f"updated {lock_path}: {len(res.changes)} changed")
        else:
            out.line(f"{lock_path} is up to date: no version changed")
    return 0
