"""onboard gc: drop old profile generations and stale caches, show what is pinned, run Nix's GC."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onboard.cli.output import Output

if TYPE_CHECKING:
    from onboard.core.profiles.gc import GcPlan

HELP = "drop old profile generations and their GC roots, then run Nix's garbage collector"
DESCRIPTION = """\
Drop old profile generations (never a project's current one) and their GC roots, remove
the caches of profiles that no longer exist and the locked-Python virtualenvs no kept
generation or environment uses (listed with their size), show what each project still pins and its
size and the services' data directories (kept: `onboard services reset NAME` wipes one), then run
Nix's garbage collector.

  onboard gc                     drop every generation but the current ones
  onboard gc --older-than 30d    only generations made more than 30 days ago (s m h d w)
  onboard gc --dry-run           list what would go; change nothing
  onboard gc --nix-gc released   delete only the store paths onboard released (not a
                                 full `nix-store --gc`); `none` skips Nix's collector
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--older-than", metavar="AGE", default=None,
                   help="only drop generations older than AGE (e.g. 30d, 12h, 2w)")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="only this project's generations and caches (Nix's collector still runs store-wide)")
    p.add_argument("--nix-gc", choices=("all", "released", "none"), default="all",
                   help="how to run Nix's collector afterwards (default: all)")


def _size(n: int) -> str:
    from onboard.core.profiles.nixlog import human_bytes

    return human_bytes(n)


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.profiles import gc

    try:
        older = gc.parse_age(args.older_than) if args.older_than else None
    except ValueError as exc:
        out.error(str(exc), "e.g. onboard gc --older-than 30d")
        return 2
    from onboard.core import project as projects

    plan = gc.plan_gc(older_than=older, project=projects.resolve(args.project) if args.project else None)
    pins = [{"project": p.project, "current": p.current, "generations": p.generations, "store_paths": p.paths,
             "bytes": p.size} for p in plan.pins]
    service_data = [d.to_dict() for d in plan.service_data]
    if out.json and out.dry_run:
        out.emit_json(dry_run=True, actions=plan.rows(), pins=pins, service_data=service_data)
        return 0
    if not out.json:
        if not plan.drop and not plan.stale_envs and not plan.venvs:
            out.line("no old generations, stale caches or unused virtualenvs to drop")
        for row in plan.rows():
            if row["action"] == "drop generation":
                out.line(f"drop generation {row['generation']} ({row['profile']}, {row['when']}) of {row['project']}")
            elif row["action"] == "remove venv":
                out.line(f"remove the virtualenv {row['path']} ({_size(row['bytes'])}): "
                         "no generation or environment uses it")
            else:
                out.line(f"remove the cache of profile {row['profile']}: {row['why']} ({row['path']})")
    if out.dry_run:
        if not out.json:
            _show_pins(plan, out, kept_only=False)
            out.line("dry run: nothing was changed")
        return 0
    reporter = out.reporter()
    try:
        res = gc.run_gc(plan, nix_gc=args.nix_gc, emit=reporter)
    finally:
        reporter.close()
    if out.json:
        out.emit_json(dropped=[g.to_dict() for g in res.dropped],
                      removed_caches=[{"profile": e.name, "path": e.directory, "why": e.reason}
                                      for e in res.removed_envs],
                      removed_venvs=[{"path": v.path, "bytes": v.size} for v in res.removed_venvs],
                      pins=pins, service_data=service_data, nix_gc=res.nix_gc,
                      deleted_paths=res.deleted_paths, freed=res.freed,
                      errors=res.errors)
    else:
        _show_pins(plan, out, kept_only=True)
        if res.nix_gc != "none":
            out.line(f"Nix's garbage collector: {res.deleted_paths} store paths deleted"
                     + (f", {res.freed} freed" if res.freed else ""))
    for e in res.errors:
        out.error(e)
    return 1 if res.errors else 0


def _show_pins(plan: GcPlan, out: Output, kept_only: bool) -> None:
    if plan.service_data:
        out.line("services' data (kept; onboard services reset NAME wipes one):")
        for d in plan.service_data:
            out.line(f"  {d.project}: {d.service} {d.path} ({_size(d.size)})")
    if not plan.pins:
        return
    out.line("pinned by each project:")
    for p in plan.pins:
        gens = ", ".join(str(n) for n in p.generations) or "none"
        size = f"{p.paths} store paths, {_size(p.size)}" if p.paths else "nothing in the store"
        out.line(f"  {p.project}: {p.current or 'no active profile'} (generations {gens}): {size}")
