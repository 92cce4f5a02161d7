"""onboard uninstall: undo everything onboard did, newest first."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "undo everything onboard did on this machine (--dry-run lists it all)"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-onboard", action="store_true",
                   help="keep onboard itself (its virtualenv and launcher) installed")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.engine.lock import LockedError
    from onboard.core.uninstall import clean_leftovers, plan_uninstall, run_uninstall

    plan = plan_uninstall(include_self=not args.keep_onboard)
    rows = plan.rows()
    if plan.empty:
        if not out.dry_run:
            clean_leftovers()
        if out.json:
            out.emit_json(status="nothing-to-do", actions=[])
        else:
            out.line("nothing to undo: onboard has made no changes on this machine")
        return 0
    if out.json and out.dry_run:
        out.emit_json(dry_run=True, actions=rows)
        return 0
    if not out.json:
        out.line(f"onboard will undo {len(rows)} changes, newest first:")
        for r in rows:
            out.line(f" - {r['description']}")
            for p in r["paths"]:
                if p and p not in r["description"]:
                    out.line(f"     {p}")
    if out.dry_run:
        return 0
    if not out.confirm("Undo all of these?"):
        out.error("nothing was changed: not confirmed", "pass --yes to uninstall without asking")
        return 1
    reporter = out.reporter()
    try:
        errors = run_uninstall(plan, emit=reporter)
    except LockedError as exc:
        out.error(str(exc))
        return 1
    finally:
        reporter.close()
    if out.json:
        out.emit_json(status="failed" if errors else "ok", errors=errors)
    if errors:
        reporter.failure_report()
        out.error(f"{len(errors)} change(s) could not be undone; the receipt keeps them",
                  "fix what the lines above say and run `onboard uninstall` again")
        return 1
    import shutil

    from onboard.core import paths

    reporter.close()
    shutil.rmtree(paths.log_dir(), ignore_errors=True)  # nothing left to explain: zero residue
    clean_leftovers()
    paths.prune_owned_dir(paths.state_dir())
    if not out.json:
        out.info("everything onboard did is undone")
    return 0
