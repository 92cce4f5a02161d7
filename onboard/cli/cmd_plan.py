"""onboard plan: show every change a set of choices would make, without making it."""

from __future__ import annotations

import argparse

from onboard.cli.choice_args import add_choice_args, choice_error, choices_from_args
from onboard.cli.output import Output

HELP = "show every change onboard would make (nothing runs)"


def register(p: argparse.ArgumentParser) -> None:
    add_choice_args(p)
    p.add_argument("--out", metavar="FILE", help="also save the plan (choices + actions) as JSON for `onboard apply FILE`")


def run(args: argparse.Namespace, out: Output) -> int:
    import json

    from onboard.cli.runner import show_plan
    from onboard.core.choices import ChoicesError
    from onboard.core.planner import build_plan

    try:
        choices = choices_from_args(args)
        plan = build_plan(choices)
    except ChoicesError as exc:
        return choice_error(exc, out)
    rows = show_plan(plan, out)
    if args.out:
        from pathlib import Path

        from onboard.core.engine.fsutil import atomic_write

        doc = {"choices": choices.to_dict(), "plan": plan.to_dict()}
        atomic_write(Path(args.out), (json.dumps(doc, indent=2) + "\n").encode())
        if not out.json:
            out.info(f"saved to {args.out}; apply it with `onboard apply {args.out}`")
    if out.json:
        out.emit_json(plan=plan.name, title=plan.title, choices=choices.to_dict(), actions=rows)
    return 0
