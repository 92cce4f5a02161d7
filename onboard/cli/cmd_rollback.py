"""onboard rollback: make the previous generation of a project active again."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "return a project to its previous profile generation and hold it there (instant, offline)"
DESCRIPTION = """\
Make an older generation of a project current again (default: the previous one) and hold
the project there: `onboard shell` (no name, or the active profile's), direnv and lorri
load that generation's environment exactly as it was built, offline, without evaluating.
While held, an edit of the profile is reported on entry and not built; `onboard switch
NAME` rebuilds and ends the hold.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the project root above here, else here)")
    p.add_argument("--to", type=int, metavar="N", default=None,
                   help="a generation number (see `onboard profiles`) instead of the previous one")


def run(args: argparse.Namespace, out: Output) -> int:
    import os

    from onboard.core import project as projects
    from onboard.core.profiles import generations

    project = projects.resolve(args.project) or os.path.realpath(os.getcwd())
    if out.dry_run:
        gens = generations.list_generations(project)
        cur = next((g for g in gens if g.current), None)
        older = [g for g in gens if cur and g.number < cur.number]
        target = next((g for g in gens if g.number == args.to), None) if args.to else (older[-1] if older else None)
        if target is None:
            out.error(f"nothing to roll back to in {project}",
                      "`onboard profiles` lists the generations; `onboard switch NAME` makes one")
            return 1
        if out.json:
            out.emit_json(dry_run=True, project=project, previous=cur.to_dict() if cur else None,
                          generation=target.to_dict())
            return 0
        out.line(f"would make generation {target.number} ({target.profile}) current in {project}")
        return 0
    reporter = out.reporter()
    try:
        old, new = generations.rollback(project, to=args.to, emit=reporter)
    except generations.GenerationError as exc:
        reporter.close()
        out.error(exc.message, exc.hint)
        return 1
    reporter.close()
    changes = generations.diff(old, new)
    if out.json:
        out.emit_json(project=project, previous=old.to_dict(), generation=new.to_dict(), changes=changes)
        return 0
    out.line(f"{project}: back to generation {new.number} ({new.profile}), was {old.number} ({old.profile})")
    if new.venv:
        out.line(f"  its Python virtualenv: {new.venv}")
    for line in changes:
        out.line(f"  {line}")
    if generations.held(project) == new.number:
        out.line(f"  held at generation {new.number}: `onboard shell`, direnv and lorri load it as it was; "
                 f"`onboard switch {new.profile}` rebuilds and ends the hold")
    return 0
