"""onboard envrc: write a project's .envrc that loads a profile through direnv (or lorri),
show it, and ask before allowing it. Undone by `onboard uninstall`."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "write a project's .envrc that loads a profile with direnv; asks before `direnv allow`"
DESCRIPTION = """\
Write .envrc in a project so that direnv loads a team profile when you cd there:
`use onboard NAME` (onboard's direnv library, installed if needed), or, with --lorri,
`eval "$(lorri direnv)"`. Without NAME the .envrc follows the profile made active for
the project with `onboard switch NAME`. An existing .envrc is never replaced: onboard
adds a marked block to it. The file is shown, and direnv runs nothing before you allow
it: onboard asks first (--yes or --allow answer yes; without a terminal it is left for
you to allow). `onboard uninstall` removes the file or block and denies it again."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("profile", nargs="?", metavar="NAME",
                   help="the profile to load (default: the project's active profile)")
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project directory (default: the nearest one above here with profiles/ "
                        "or onboard.yaml, else here)")
    p.add_argument("--lorri", action="store_true",
                   help='lorri mode: eval "$(lorri direnv)" (direnv mode when lorri is not installed)')
    g = p.add_mutually_exclusive_group()
    g.add_argument("--allow", action="store_true", help="run `direnv allow` after showing the file")
    g.add_argument("--no-allow", action="store_true", help="write the file only; do not offer to allow it")


def run(args: argparse.Namespace, out: Output) -> int:
    import shutil

    from onboard.core.choices import ChoicesError
    from onboard.core.engine.lock import LockedError
    from onboard.core.engine.plan import Plan, apply_plan
    from onboard.core.integrations.actions.direnv_allow import DirenvAllow, direnv_allowed
    from onboard.core.integrations.planner import plan_envrc

    from onboard.core import project as projects

    try:
        ep = plan_envrc(args.project or projects.find_root() or ".", args.profile or "", lorri=args.lorri)
    except ChoicesError as exc:
        out.error(str(exc))
        return 2
    for note in ep.notes:
        out.info(f"note: {note}")
    project, envrc_path, content, plan = ep.project, ep.envrc, ep.content, ep.plan
    if not out.json:
        verb = "would write" if out.dry_run else "writing"
        out.info(f"{verb} {envrc_path}:")
        for line in content.splitlines():
            out.line("    " + line)
    if out.dry_run:
        if out.json:
            out.emit_json(project=project, envrc=envrc_path, content=content, mode=ep.mode,
                          profile=ep.profile, written=False, allowed=False, dry_run=True)
        return 0

    reporter = out.reporter()
    try:
        outcome = apply_plan(plan, emit=reporter)
        if not outcome.ok:
            reporter.failure_report()
            return 1
        allowed = False
        direnv = shutil.which("direnv")
        if args.no_allow:
            out.info(f"not allowed (--no-allow): run `direnv allow {project}` once you have read it")
        elif not direnv:
            out.info("direnv is not installed, so nothing loads yet: install it, then run "
                     f"`direnv allow {project}`")
        elif direnv_allowed(project):
            allowed = True
            out.info(f"{envrc_path} is already allowed")
        else:
            yes = args.allow or out.confirm(f"Allow {envrc_path} (runs `direnv allow`)?")
            if yes:
                done = apply_plan(Plan(name="envrc", title=f".envrc for {project}",
                                       actions=[DirenvAllow(project=project)]), emit=reporter)
                if not done.ok:
                    reporter.failure_report()
                    return 1
                allowed = True
            else:
                out.info(f"not allowed: direnv will not load it until you run `direnv allow {project}` "
                         "(or `onboard envrc --allow`)")
    except LockedError as exc:
        out.error(str(exc))
        return 1
    finally:
        reporter.close()
    if out.json:
        out.emit_json(project=project, envrc=envrc_path, content=content, mode=ep.mode, profile=ep.profile,
                      written=True, allowed=allowed)
    elif allowed:
        out.info(f"done: cd {project} loads it; `onboard uninstall` undoes this")
    return 0
