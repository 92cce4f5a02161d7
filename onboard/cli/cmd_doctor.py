"""onboard doctor: check this machine before installing, each finding with a one-line fix."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from onboard.cli.output import Output

if TYPE_CHECKING:
    from onboard.core.doctor import CheckResult

HELP = "check this machine (OS, Nix, disk, shell, network ...) and say what to fix"
DESCRIPTION = """\
Check this machine before setting up Nix: OS and distribution, CPU, kernel, init system, root or
sudo, memory, free disk for /nix, an existing Nix, /nix ownership, SELinux, WSL, containers, the
login shell and its rc files, direnv / lorri, editors, and whether the Nix release host and binary
cache can be reached (through HTTPS_PROXY / ALL_PROXY when set). Checks run at the same time and
change nothing. Each finding is ok, warn or fail; warn and fail come with a one-line fix.
Exit status 1 when any check fails."""

MARK = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}
STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", metavar="ID,...", action="append", default=[],
                   help="run only these checks (comma-separated; see --list)")
    p.add_argument("--list", action="store_true", help="list the check ids and titles, run nothing")
    p.add_argument("--timeout", type=float, default=1.5, metavar="SECONDS",
                   help="give up on a check after this long (default 1.5)")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.doctor import UnknownCheck, load_checks, recommend_mode, run_checks

    if args.list:
        registry = load_checks()
        if out.json:
            out.emit_json(checks=[{"id": c.id, "title": c.title} for c in registry.values()])
        else:
            width = max(len(i) for i in registry)
            for c in registry.values():
                out.line(f"{c.id:<{width}}  {c.title}")
        return 0
    if args.timeout <= 0:
        out.error(f"--timeout must be more than 0 seconds, not {args.timeout:g}")
        return 2
    only = [i.strip() for chunk in args.only for i in chunk.split(",") if i.strip()] or None
    if args.only and not only:
        out.error("--only needs at least one check id", "see `onboard doctor --list`")
        return 2
    try:
        results = run_checks(only=only, timeout=args.timeout)
    except UnknownCheck as exc:
        out.error(str(exc), "see `onboard doctor --list`")
        return 2
    mode, reason = recommend_mode(results)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "warn", "fail")}
    code = 1 if counts["fail"] else 0
    if out.json:
        out.emit_json(checks=[r.to_dict() for r in results], counts=counts,
                      recommendation={"mode": mode, "reason": reason}, ok=not counts["fail"])
        return code
    if out.color and sys.stdout.isatty():
        _rich_table(results)
    else:
        _plain(out, results)
    out.line(f"{counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail")
    out.line(f"recommended install mode: {mode}")
    out.line(f"  why: {reason}")
    return code


def _plain(out: Output, results: list[CheckResult]) -> None:
    width = max(len(r.title) for r in results) if results else 0
    for r in results:
        out.line(f"{MARK[r.status]:<4}  {r.title:<{width}}  {r.summary}")
        if r.fix:
            out.line(f"{'':<4}  {'':<{width}}  fix: {r.fix}")


def _rich_table(results: list[CheckResult]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("finding")
    for r in results:
        finding = Text(r.summary)
        if r.fix:
            finding.append("\nfix: " + r.fix, style="italic")
        table.add_row(Text(MARK[r.status], style=STYLE[r.status]), Text(r.title), finding)
    Console().print(table)
