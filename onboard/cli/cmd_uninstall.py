"""onboard uninstall: undo everything onboard did, newest first."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onboard.cli.output import Output

if TYPE_CHECKING:
    from onboard.core.uninstall import UninstallPlan

HELP = "undo everything onboard did on this machine (--dry-run lists it all)"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-onboard", action="store_true",
                   help="keep onboard itself (its virtualenv and launcher) installed")
    p.add_argument("--delete-data", action="store_true",
                   help="also delete the services' data (PostgreSQL databases, Redis dumps); "
                        "without it they are kept and listed, even with --yes")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.engine.lock import LockedError
    from onboard.core.uninstall import clean_leftovers, plan_uninstall, run_uninstall

    plan = plan_uninstall(include_self=not args.keep_onboard, delete_data=args.delete_data)
    rows = plan.rows()
    kept = plan.kept_rows()
    if plan.empty:
        if not out.dry_run:
            clean_leftovers()
        if out.json:
            out.emit_json(status="nothing-to-do", actions=[], kept_data=kept)
        else:
            out.line("nothing to undo: onboard has made no changes on this machine")
            _show_kept(plan, out)
        return 0
    if out.json and out.dry_run:
        out.emit_json(dry_run=True, actions=rows, kept_data=kept)
        return 0
    if not out.json:
        out.line(f"onboard will undo {len(rows)} changes, newest first:")
        for r in rows:
            out.line(f" - {r['description']}")
            for p in r["paths"]:
                if p and p not in r["description"]:
                    out.line(f"     {p}")
        _show_kept(plan, out)
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
        out.emit_json(status="failed" if errors else "ok", errors=errors, kept_data=kept)
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
        out.info("everything onboard did is undone" + (f"; the data of {len(kept)} service(s) is kept (listed above)"
                                                      if kept else ""))
    return 0


def _show_kept(plan: UninstallPlan, out: Output) -> None:
    from onboard.core.services.cleanup import human

    kept = plan.kept_data
    if not kept:
        return
    out.line("kept: the data of the services (onboard uninstall --delete-data deletes it):")
    for d in kept:
        out.line(f" - {d.service} of {d.project}: {d.path} ({human(d.size)})")
