"""onboard apply: make the changes of a plan (from choices or a file saved by `plan --out`)."""

from __future__ import annotations

import argparse

from onboard.cli.choice_args import add_choice_args, choice_error, choices_from_args
from onboard.cli.output import Output

HELP = "apply a plan; safe to re-run (repairs only what drifted)"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan_file", nargs="?", metavar="PLANFILE", help="a plan saved by `onboard plan --out`")
    add_choice_args(p)


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.cli.runner import run_plan
    from onboard.core.choices import Choices, ChoicesError
    from onboard.core.planner import build_plan

    try:
        if args.plan_file:
            choices = Choices.load(args.plan_file)
        else:
            choices = choices_from_args(args)
        plan = build_plan(choices)
    except ChoicesError as exc:
        return choice_error(exc, out)
    return run_plan(plan, out)
