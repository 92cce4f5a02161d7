"""Shared by install, apply and uninstall: show the plan, ask once, apply, report."""

from __future__ import annotations

import os
from typing import Any, Callable

from onboard.cli.output import Output
from onboard.core.engine.plan import Plan, apply_plan, preview


def show_plan(plan: Plan, out: Output) -> list[dict[str, Any]]:
    rows = preview(plan)
    if out.json:
        return rows
    notes = sum(1 for r in rows if r["status"] == "note")
    steps = len(rows) - notes
    counts = f"{steps} step{'' if steps == 1 else 's'}" + (f", {notes} note{'' if notes == 1 else 's'}"
                                                            if notes else "")
    out.line(f"plan: {plan.title or plan.name} ({counts})")
    team = plan.meta.get("team_applied") or {}
    if team:
        filled = ", ".join(f"{k}={','.join(v) if isinstance(v, list) else v}" for k, v in team.items())
        out.line(f"  from the team config: {filled}")
    step = 0
    for r in rows:
        mark = {"already": "=", "note": "i"}.get(r["status"], "+")
        root = " [root]" if r["needs_root"] else ""
        if r["status"] == "note":  # notes are not steps: no number
            out.line(f" {mark}     {r['description']}")
            continue
        step += 1
        out.line(f" {mark} {step:>2}. {r['description']}{root}")
        for p in r["paths"]:
            if p and p not in r["description"]:
                out.line(f"        {p}")
    out.line("   (+ will change, = already so, i note)")
    return rows


def run_plan(plan: Plan, out: Output, *, question: str = "Apply these changes?",
             on_failure: "Callable[[Any, Any], bool] | None" = None,
             root_reason: str = "") -> int:
    """Show, ask once, apply. `on_failure(outcome, reporter)` may handle a failed apply (e.g. roll
    it back) and return True to replace the default advice."""
    rows = show_plan(plan, out)
    if out.dry_run:
        if out.json:
            out.emit_json(dry_run=True, plan=plan.name, actions=rows)
        return 0
    if plan.needs_root and os.geteuid() != 0:
        out.error(root_reason or "this plan changes system files (/nix, /etc, users) and needs root",
                  "run it again with sudo, e.g. `sudo onboard ...`; onboard asks once and only for that")
        return 1
    if not out.confirm(question):
        out.error("nothing was changed: not confirmed", "pass --yes to apply without asking")
        return 1
    from onboard.core.engine.lock import LockedError
    from onboard.core.nixinstall.errors import PlanningError
    from onboard.core.planner import preflight

    try:
        preflight(plan)
    except PlanningError as exc:
        out.error(str(exc), exc.hint)
        return 1
    reporter = out.reporter()
    reporter.open_log(plan.name)
    try:
        outcome = apply_plan(plan, emit=reporter)
    except LockedError as exc:
        reporter.close()
        out.error(str(exc))
        return 1
    finally:
        reporter.close()
    if out.json:
        out.emit_json(plan=plan.name, status=outcome.status, errors=outcome.errors,
                      receipt=str(outcome.receipt.path) if outcome.receipt else None,
                      log=str(out.log_path) if out.log_path else None)
    if not outcome.ok:
        reporter.failure_report()
        if on_failure is not None and on_failure(outcome, reporter):
            return 1
        out.info("the receipt keeps what was done: run the same command again to finish, "
                 "or `onboard uninstall` to undo it")
        return 1
    if not out.json:
        assert outcome.receipt is not None  # apply_plan always records a receipt
        out.info(f"done. undo everything with `onboard uninstall` (receipt: {outcome.receipt.path})")
    return 0
