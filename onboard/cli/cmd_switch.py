"""onboard switch: make a profile the active one of a project (a new generation)."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "make a profile the active one of this project (each switch is a generation)"
DESCRIPTION = """\
Make a profile the active one of a project (default: the nearest directory above here
holding profiles/ or onboard.yaml, else the current directory).

The profile's environment is built first (with live progress) if its cache is not
fresh. Each switch that changes the environment is a new generation with its own GC
roots: `onboard rollback` returns to the previous one instantly, offline, and
`onboard profiles` lists them. direnv and `onboard shell` (without NAME) follow the
active profile. A switch ends a hold made by `onboard rollback`.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME", help="profile name")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the project root above here, else here)")


def run(args: argparse.Namespace, out: Output) -> int:
    import os
    from pathlib import Path

    from onboard.core import project as projects
    from onboard.core.events import PlanFinished, PlanStarted
    from onboard.core.profiles import generations
    from onboard.core.profiles.build import EnvError
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    project = projects.resolve(args.project) or os.path.realpath(os.getcwd())
    dirs = projects.profile_dirs(project) if os.path.isdir(project) else []
    try:
        profile = load_profile(args.name, dirs=[Path(d) for d in dirs])
    except SchemaError as exc:
        out.error(f"cannot load profile {args.name}:\n" + "\n".join(f"  {p}" for p in exc.problems),
                  "fix the profile (onboard profiles validate), or list them: onboard profiles")
        return 1
    before = generations.current_generation(project)
    if out.dry_run:
        if out.json:
            out.emit_json(dry_run=True, project=project, profile=profile.name,
                          previous=before.to_dict() if before else None)
            return 0
        out.line(f"would make {profile.name} the active profile of {project}"
                 + (f" (now {before.profile}, generation {before.number})" if before else ""))
        return 0
    reporter = out.reporter()
    reporter(PlanStarted(plan=f"switch to {profile.name}", total=1))
    try:
        gen, created = generations.switch(project, profile, emit=reporter, dirs=dirs)
    except (EnvError, generations.GenerationError) as exc:
        reporter(PlanFinished(plan=f"switch to {profile.name}", status="failed", errors=[exc.message]))
        reporter.close()
        for line in getattr(exc, "log", [])[-20:]:
            out.info(f"  | {line}")
        out.error(f"cannot switch {project} to {profile.name}: {exc.message}", exc.hint)
        return 1
    reporter(PlanFinished(plan=f"switch to {profile.name}", status="ok"))
    reporter.close()
    changes = generations.diff(before, gen) if created else []
    if out.json:
        out.emit_json(project=project, profile=gen.profile, generation=gen.to_dict(), created=created,
                      previous=before.to_dict() if before else None, changes=changes)
        return 0
    if not created:
        out.line(f"{profile.name} is already the active profile of {project} (generation {gen.number})")
        return 0
    out.line(f"{project}: {profile.name} is active (generation {gen.number})")
    for line in changes:
        out.line(f"  {line}")
    if gen.fallback:
        out.info("  note: it uses the last good environment: the profile could not be rebuilt")
    return 0
