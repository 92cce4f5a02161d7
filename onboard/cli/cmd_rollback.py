"""onboard rollback: make the previous generation of a project active again."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "return a project to its previous profile generation (instant, offline)"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the current directory)")
    p.add_argument("--to", type=int, metavar="N", default=None,
                   help="a generation number (see `onboard profiles`) instead of the previous one")


def run(args: argparse.Namespace, out: Output) -> int:
    import os

    from onboard.core.profiles import generations

    project = os.path.abspath(args.project or os.getcwd())
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
    for line in changes:
        out.line(f"  {line}")
    return 0
