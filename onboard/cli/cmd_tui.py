"""onboard tui: the guided setup (what `onboard` alone opens on a terminal), with options."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "the guided setup in the terminal (what `onboard` alone opens), with options"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", metavar="DIR",
                   help="walk the whole flow on a harmless demo plan inside DIR (every screen says so)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("--profiles", action="store_true", help="open the Profiles screen (switch, rollback)")
    start.add_argument("--uninstall", action="store_true", help="open the Uninstall screen")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.tui.launch import run_tui

    argv: list[str] = []
    if args.demo:
        argv += ["--demo", args.demo]
    if args.profiles:
        argv.append("--profiles")
    if args.uninstall:
        argv.append("--uninstall")
    return run_tui(argv)
