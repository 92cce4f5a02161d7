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
    p.add_argument("--project", metavar="DIR", default=".", help="the project directory (default: here)")
    p.add_argument("--lorri", action="store_true",
                   help='lorri mode: eval "$(lorri direnv)" (direnv mode when lorri is not installed)')
    g = p.add_mutually_exclusive_group()
    g.add_argument("--allow", action="store_true", help="run `direnv allow` after showing the file")
    g.add_argument("--no-allow", action="store_true", help="write the file only; do not offer to allow it")


def _preview_text(action: object) -> str:
    from onboard.core.actions.blocks import MarkedBlock, insert_block
    from onboard.core.actions.files import WriteFile
    from onboard.core.engine.fsutil import read_bytes, resolve_target

    if isinstance(action, WriteFile):
        return action.content
    if isinstance(action, MarkedBlock):
        data = read_bytes(resolve_target(action.path)) or b""
        text, _ = insert_block(data.decode("utf-8", "surrogateescape"), action.content, action.marker,
                               action.comment, action.position)
        return text
    return ""


def run(args: argparse.Namespace, out: Output) -> int:
    import os
    import shutil
    from pathlib import Path

    from onboard.core.actions.blocks import MarkedBlock
    from onboard.core.actions.files import WriteFile
    from onboard.core.engine.lock import LockedError
    from onboard.core.engine.plan import Plan, apply_plan
    from onboard.core.integrations import direnv as dv
    from onboard.core.integrations import lorri as lr
    from onboard.core.integrations.actions import DirenvAllow, direnv_allowed

    project = Path(os.path.expanduser(args.project)).absolute()
    if not project.is_dir():
        out.error(f"project directory {project} does not exist", "pass --project DIR with an existing directory")
        return 2
    name = args.profile or ""
    if name and not dv.PROFILE_NAME.match(name):
        out.error(f"{name!r} is not a profile name (letters, digits, '.', '_' and '-')")
        return 2
    mode = "direnv"
    if args.lorri:
        if shutil.which("lorri"):
            mode = "lorri"
        else:
            out.info("note: lorri is not installed (no `lorri` on PATH): writing a direnv-mode .envrc "
                     "(`use onboard`) instead")
    if mode == "direnv":
        if name:
            from onboard.core.profiles import cache

            if cache.find_profile_file(name, str(project)) is None:
                out.info(f"note: no profile {name} is found from {project} (profiles/ or "
                         "$ONBOARD_PROFILES_DIR): direnv reports an error there until it is")
        elif not dv.active_profile(project):
            out.info(f"note: no profile is active for {project} yet: run `onboard switch NAME` there "
                     "(or give NAME here); until then direnv says so when you cd in")

    shell_file = lr.shell_file_for(str(project), name) if mode == "lorri" else ""
    acts = dv.envrc_actions(str(project), mode, name, allow=False, lorri_shell_file=shell_file)
    plan = Plan(name="envrc", title=f".envrc for {project}")
    if mode == "direnv":
        plan.add(dv.library_action())
    plan.add(*acts)
    envrc_path = project / ".envrc"
    writes = [a for a in acts if isinstance(a, (WriteFile, MarkedBlock))]
    content = _preview_text(writes[0]) if writes else (envrc_path.read_text(errors="replace")
                                                        if envrc_path.exists() else "")
    if not out.json:
        verb = "would write" if out.dry_run else "writing"
        out.info(f"{verb} {envrc_path}:")
        for line in content.splitlines():
            out.line("    " + line)
    if out.dry_run:
        if out.json:
            out.emit_json(project=str(project), envrc=str(envrc_path), content=content, mode=mode,
                          profile=name, written=False, allowed=False, dry_run=True)
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
        elif direnv_allowed(str(project)):
            allowed = True
            out.info(f"{envrc_path} is already allowed")
        else:
            yes = args.allow or out.confirm(f"Allow {envrc_path} (runs `direnv allow`)?")
            if yes:
                done = apply_plan(Plan(name="envrc", title=f".envrc for {project}",
                                       actions=[DirenvAllow(project=str(project))]), emit=reporter)
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
        out.emit_json(project=str(project), envrc=str(envrc_path), content=content, mode=mode, profile=name,
                      written=True, allowed=allowed)
    elif allowed:
        out.info(f"done: cd {project} loads it; `onboard uninstall` undoes this")
    return 0
