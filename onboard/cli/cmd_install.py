"""onboard install: put Nix on this machine (single-user or daemon mode), reversibly."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from onboard.cli.choice_args import add_choice_args, choice_error, choices_from_args
from onboard.cli.output import Output
from onboard.core.choices import COMPONENTS

if TYPE_CHECKING:
    from onboard.cli.output import Reporter
    from onboard.core.engine.plan import Outcome, Plan

HELP = "install Nix (single-user or daemon mode) from the official tarball; undo with `onboard uninstall`"
DESCRIPTION = """\
Install Nix the way the official installer does, as a plan of reversible steps that is shown
first, asked about once, and recorded as it runs (re-running finishes or repairs it;
`onboard uninstall` removes all of it).

modes:
  --mode single   one user owns /nix; no daemon, no build users (default)
  --mode daemon   multi-user: root-owned /nix, nixbld group and build users, /etc/nix/nix.conf,
                  nix-daemon (systemd units, or --init none: onboard starts it itself); needs root

the release:
  with no --tarball, the known-versions table's release for this system is downloaded
  (--nix-version picks another known version); --tarball URL|PATH takes a team mirror's URL
  or a local nix-VERSION-SYSTEM.tar.xz for offline machines, checked against --sha256 (64 hex
  digits) before anything is unpacked.

extras (--with): {components}
  --dry-run lists every path, user, unit and rc block the install would change, and changes
  nothing.
""".replace("{components}", ", ".join(COMPONENTS))


def register(p: argparse.ArgumentParser) -> None:
    add_choice_args(p)
    p.add_argument("--build-users", type=int, metavar="N", default=None,
                   help="daemon mode: how many nixbld build users to create [default: 32]")
    p.add_argument("--keep-failed", action="store_true",
                   help="when a step fails, keep what was done (to inspect it or resume) instead of "
                        "undoing this run's changes")


def _nix_root_reason(plan: Plan) -> str:
    return ("daemon mode changes system files and accounts (root-owned /nix, the nixbld group and build "
            "users, /etc/nix/nix.conf, nix-daemon, /etc shell files), so it needs root")


def run(args: argparse.Namespace, out: Output) -> int:
    from onboard.cli.runner import run_plan
    from onboard.core.choices import ChoicesError
    from onboard.core.planner import build_plan

    if not out.dry_run and not str(getattr(args, "tarball", "") or "").startswith(("/", ".", "file:")):
        from onboard.core.preload import preload

        preload("requests")  # ~150 ms of imports for the download, done while the plan is made
    try:
        choices = choices_from_args(args)
        if args.build_users is not None:
            choices.build_users = args.build_users
            choices.validate()
        if choices.demo_dir:
            out.error("install does not take --demo; use `onboard apply --demo DIR`")
            return 2
        plan = build_plan(choices)
    except ChoicesError as exc:
        return choice_error(exc, out)
    if not plan.actions:
        out.line("nothing to do")
        return 0
    notes = (plan.meta.get("nix") or {})
    if not out.json:
        if notes.get("adopted"):
            out.info("note: an existing Nix was found and is kept as it is; only its configuration is planned")
        if notes.get("build_group"):
            out.info(f"note: {notes['build_group']}")
    from onboard.core.engine.plan import undo_run

    def on_failure(outcome: Outcome, reporter: Reporter) -> bool:
        if outcome.failed_action.startswith("profile-env:"):
            # everything before the build is in place and stays: only the build is retried
            done = sum(1 for e in (outcome.receipt.entries if outcome.receipt else []) if e.state == "done")
            out.error(f"the environment of profile {choices.profile} could not be built; the {done} "
                      "step(s) before it are done and stay (Nix and the hooks are in place)",
                      "fix the cause above, then retry the build: run the same command again (done steps "
                      f"are checked, not redone), or `onboard shell {choices.profile}`")
            return True
        if args.keep_failed:
            return False
        out.info("undoing what this run changed, so nothing is left half-installed ...")
        errors = undo_run(outcome, emit=reporter).errors
        if errors:
            out.error(f"the install failed, and {len(errors)} of its changes could not be undone: " +
                      "; ".join(errors[:3]), "run `onboard uninstall` after fixing that")
        else:
            out.error("the install failed; this run's changes were undone",
                      "fix the cause above and run the same command again")
        return True

    rc = run_plan(plan, out, question="Install Nix with these changes?" if choices.mode != "skip" else "Apply these changes?",
                  on_failure=on_failure, root_reason=_nix_root_reason(plan))
    if rc == 0 and not out.dry_run and not out.json and choices.profile and choices.build_env:
        out.info(f"profile {choices.profile!r} is ready: `onboard shell {choices.profile}`")
    return rc
