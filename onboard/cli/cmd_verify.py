"""onboard verify: record the environment `onboard shell` would load, check it, compare it."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "prove this machine has the environment it should, or the same as another's (never builds)"
DESCRIPTION = """\
Record the environment `onboard shell` would load now and check it, without building.

  onboard verify web                   check the store paths and the venv are intact
  onboard verify web --out web.json    also write the record (for a teammate, CI, a paper)
  onboard verify web --against ci.json say exactly what differs from another record
  onboard verify web --against ci.json --strict   a different Nix or onboard counts too

The record holds the pin, the profile after `extends`, the rendered files, the closure with
each store path's NAR hash, the Python lock and every venv file's hash. Exit 0: intact or
the same; 1: not (each difference is named), or nothing is built; 2: bad input.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="PROFILE", help="profile name (default: the active profile)")
    p.add_argument("--out", metavar="FILE", help="write the record to FILE")
    p.add_argument("--against", metavar="FILE", help="compare with the record in FILE")
    p.add_argument("--strict", action="store_true",
                   help="with --against: a different onboard, Nix or system release counts as a difference")
    p.add_argument("--project", metavar="DIR", default=None, help="the project directory")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.verify import record as rec
    from onboard.core.verify.nixstore import NixError

    try:
        other = rec.load_record(args.against) if args.against else None
        loc = rec.locate(args.name, args.project)
        result = rec.make_record(loc, check=True)
    except rec.VerifyError as exc:
        out.error(exc.message, exc.hint)
        return exc.code
    except NixError as exc:
        out.error(exc.message, exc.hint)
        return 1
    if args.out:
        try:
            rec.write_record(args.out, result.record)
        except OSError as exc:
            out.error(f"cannot write {args.out}: {exc.strerror or 'not writable'}", "name a writable file")
            return 1
    for note in result.notes:
        out.info(f"onboard: {note}")
    if other is not None:
        from onboard.core.verify.compare import compare

        return _compared(args, out, result, compare(result.record, other, strict=args.strict))
    return _checked(args, out, result)


def _checked(args: argparse.Namespace, out: Output, result: object) -> int:
    from onboard.core.verify.record import Result

    assert isinstance(result, Result)
    r = result.record
    if out.json:
        out.emit_json(intact=result.intact, store=result.store_problems, venv=result.venv_problems,
                      notes=result.notes, record=r)
        return 0 if result.intact else 1
    n = len(r["closure"])
    for path, why in sorted(result.store_problems.items()):
        out.line(f"store path {path}: {why}")
    for why in result.venv_problems:
        out.line(f"venv: {why}")
    py = r.get("python")
    venv = f"; the venv matches its lock ({len(py['files'])} files)" if py and not result.venv_problems else ""
    if result.intact:
        out.line(f"profile {r['profile']['name']}: {n} store paths intact{venv}")
        if args.out:
            out.line(f"record written to {args.out}")
        return 0
    bad = len(result.store_problems) + len(result.venv_problems)
    out.line(f"profile {r['profile']['name']}: {bad} problem{'s' if bad != 1 else ''} found")
    out.info("  what to do: `nix-store --repair-path PATH` restores a store path; "
             "delete the venv and enter `onboard shell` to make it again")
    return 1


def _compared(args: argparse.Namespace, out: Output, result: object, cmp: object) -> int:
    from onboard.core.verify.compare import Comparison
    from onboard.core.verify.record import Result

    assert isinstance(result, Result) and isinstance(cmp, Comparison)
    rc = 0 if cmp.same else 1
    if out.json:
        out.emit_json(same=cmp.same, against=args.against, comparison=cmp.to_dict(), intact=result.intact,
                      store=result.store_problems, venv=result.venv_problems)
        return rc if result.intact else 1
    for group, diffs in cmp.groups():
        out.line(f"{group} ({len(diffs)}):")
        for d in diffs:
            out.line(f"  {d.sentence()}")
    for d in cmp.context:
        out.line(f"context, not a difference (--strict counts it): {d.sentence()}")
    for note in cmp.notes:
        out.line(f"note: {note}")
    for path, why in sorted(result.store_problems.items()):
        out.line(f"this machine: store path {path}: {why}")
    for why in result.venv_problems:
        out.line(f"this machine: venv: {why}")
    if cmp.same:
        out.line(f"profile {result.record['profile']['name']}: the same environment as {args.against}")
    return rc if result.intact else 1
