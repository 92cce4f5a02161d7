"""onboard profiles: list, validate, show and render the team's profiles.

`list` also shows the generations of each project (switch history) when the generations
module is there: it calls `onboard.core.profiles.generations.list_all()`, and renders each
entry with `format_listing(entries)` when that module defines it (else one `str()` line
per entry); in --json each entry is given by its `to_dict()` (or as a dataclass).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING, Any, Optional

from onboard.cli.output import Output

if TYPE_CHECKING:
    from pathlib import Path

    from onboard.core.profiles.model import Profile

HELP = "list, validate, show and render the team's profiles"
DESCRIPTION = """\
List, validate, show and render the team's profiles (profiles/NAME.yaml).

Profiles are looked for in $ONBOARD_PROFILES_DIR (several dirs separated by ':'), then in
the project's profiles directory: the team config's `profiles:` when the project root has
an onboard.yaml that names one, else ROOT/profiles. The project root is the nearest
directory above here holding profiles/ or onboard.yaml, or --project DIR.

  onboard profiles                      list profiles (and project generations: the one
                                        loaded, and a hold made by `onboard rollback`)
  onboard profiles validate [FILE...]   check files (default: every profile); exit 1 on errors
  onboard profiles show NAME            the profile after `extends`: packages, env, scripts, hooks
  onboard profiles render NAME --out D  write flake.nix, flake.lock, shell.nix into D
  onboard profiles schema               what a profile file can say

Validating and rendering write nothing but the --out directory.
"""


def _local_globals(p: argparse.ArgumentParser) -> None:
    """The global flags, accepted after the sub-command too (`profiles list --json`),
    without overriding them when given before it."""
    S = argparse.SUPPRESS
    p.add_argument("--json", action="store_true", default=S, help=S)
    p.add_argument("--yes", "-y", action="store_true", default=S, help=S)
    p.add_argument("--dry-run", action="store_true", default=S, help=S)
    p.add_argument("--verbose", "-v", action="store_true", default=S, help=S)
    p.add_argument("--no-color", action="store_true", default=S, help=S)
    p.add_argument("--project", metavar="DIR", default=S, help=S)


def _dirs(args: argparse.Namespace) -> "list[Path]":
    """The project's profile directories (the team config's `profiles:` honoured)."""
    from pathlib import Path

    from onboard.core import project as projects

    root = projects.resolve(getattr(args, "project", None))
    return [Path(d) for d in projects.profile_dirs(root)]


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project", metavar="DIR", default=None,
                   help="the project (default: the nearest directory above here with profiles/ or onboard.yaml)")
    sub = p.add_subparsers(dest="profiles_cmd", metavar="SUBCOMMAND")
    ls = sub.add_parser("list", help="the profiles found, with descriptions and files")
    _local_globals(ls)
    va = sub.add_parser("validate", help="check profile files; every problem as file:line:col")
    va.add_argument("files", nargs="*", metavar="FILE",
                    help="profile files or names (default: every profile found)")
    va.add_argument("--strict", action="store_true", help="warnings count as errors")
    _local_globals(va)
    sh = sub.add_parser("show", help="a profile after `extends`, as the shell will get it")
    sh.add_argument("name", metavar="NAME", help="profile name or file")
    _local_globals(sh)
    sc = sub.add_parser("schema", help="what a profile file can say (the reference)")
    _local_globals(sc)
    re_ = sub.add_parser("render", help="write the profile's flake.nix, flake.lock and shell.nix")
    re_.add_argument("name", metavar="NAME", help="profile name or file")
    re_.add_argument("--out", "-o", required=True, metavar="DIR", help="directory to write into")
    _local_globals(re_)


def run(args: argparse.Namespace, out: Output) -> int:
    cmd = getattr(args, "profiles_cmd", None) or "list"
    if getattr(args, "json", False):
        out.json = True
    if getattr(args, "dry_run", False):
        out.dry_run = True
    return {"list": _list, "validate": _validate, "show": _show, "render": _render,
            "schema": _schema}[cmd](args, out)


def _schema(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.profiles.schema import SCHEMA_REFERENCE

    if out.json:
        out.emit_json(reference=SCHEMA_REFERENCE)
    else:
        out.line(SCHEMA_REFERENCE.rstrip("\n"))
    return 0


# -- list ---------------------------------------------------------------------------------

def _plain(entry: Any) -> Any:
    if hasattr(entry, "to_dict"):
        return entry.to_dict()
    if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
        return dataclasses.asdict(entry)
    return entry


def _generations() -> tuple[list[Any], Any]:
    from onboard.core.profiles import generations

    return list(generations.list_all()), generations.format_listing


def _generations_or_note(out: Output) -> tuple[list[Any], Any]:
    """Generations, or none with a note: an unreadable state file must not hide the profiles."""
    try:
        return _generations()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:  # a damaged state file: shown, not fatal
        out.info(f"note: the generations cannot be read: {getattr(exc, 'strerror', None) or exc}")
        return [], None


def _short(text: str, limit: int = 120) -> str:
    """The first sentence, at most `limit` characters."""
    text = " ".join(text.split())
    if ". " in text:
        text = text.split(". ", 1)[0] + "."
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _list(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.profiles.loader import list_profiles

    dirs = _dirs(args)
    infos = list_profiles(dirs)
    gens, fmt = _generations_or_note(out)
    if out.json:
        out.emit_json(dirs=[str(d) for d in dirs],
                      profiles=[dataclasses.asdict(i) for i in infos],
                      generations=[_plain(g) for g in gens])
        return 0
    if not dirs:
        out.error("no profiles directory found",
                  "run onboard inside the team's repository (it has a profiles/ directory), "
                  "or set ONBOARD_PROFILES_DIR")
        return 1
    if not infos:
        out.line(f"no profiles in {', '.join(map(str, dirs))}")
    width = max((len(i.name) for i in infos), default=0)
    for i in infos:
        desc = _short(i.description)
        if i.problem:
            desc = f"(cannot be read: {i.problem})"
        out.line(f"{i.name:<{width}}  {desc}".rstrip())
        out.line(f"{'':<{width}}  {i.path}")
    if gens:
        out.line("")
        out.line("generations:")
        lines = fmt(gens) if fmt else [str(g) for g in gens]
        for line in lines:
            out.line(f"  {line}")
    return 0


# -- validate -----------------------------------------------------------------------------

def _validate(args: argparse.Namespace, out: Output) -> int:
    from onboard.core.profiles.loader import check_profile, list_profiles

    targets = list(args.files)
    dirs = _dirs(args)
    if not targets:
        targets = [i.path for i in list_profiles(dirs)]
        if not targets:
            out.error("no profiles to validate",
                      "name the files (onboard profiles validate FILE...), run inside the team's "
                      "repository, or set ONBOARD_PROFILES_DIR")
            return 1
    results = []
    seen: set[tuple] = set()
    n_err = n_warn = 0
    for target in targets:
        profile, problems = check_profile(target, dirs)
        fresh = []
        for p in problems:
            key = (p.file, p.line, p.col, p.message, p.level)
            if key not in seen:
                seen.add(key)
                fresh.append(p)
        errors = [p for p in problems if p.level == "error"]
        warnings = [p for p in problems if p.level == "warning"]
        ok = not errors and not (args.strict and warnings)
        n_err += len([p for p in fresh if p.level == "error"])
        n_warn += len([p for p in fresh if p.level == "warning"])
        results.append({"target": target, "ok": ok, "profile": profile.name if profile else None,
                        "problems": [p.to_dict() for p in problems],
                        "notes": profile.warnings if profile else []})
        if not out.json:
            for p in fresh:
                out.line(str(p))
            if profile is not None:
                for note in profile.warnings:
                    out.line(f"{profile.path}: note: {note}")
    failed = [r for r in results if not r["ok"]]
    if out.json:
        out.emit_json(ok=not failed, files=results)
    else:
        summary = f"{len(results)} profile{'s' if len(results) != 1 else ''} checked: " \
                  f"{len(results) - len(failed)} ok, {len(failed)} with problems"
        if n_err or n_warn:
            summary += f" ({n_err} error{'s' if n_err != 1 else ''}, {n_warn} warning{'s' if n_warn != 1 else ''})"
        out.info(summary)
    return 1 if failed else 0


# -- show ---------------------------------------------------------------------------------

def _load(name: str, out: Output, args: argparse.Namespace) -> Optional[Profile]:
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    try:
        return load_profile(name, _dirs(args))
    except SchemaError as exc:
        if out.json:
            out.emit_json(ok=False, problems=[p.to_dict() for p in exc.problems])
        elif len(exc.problems) == 1 and not exc.problems[0].file:
            out.error(exc.problems[0].message,
                      "`onboard profiles` lists the profiles; ONBOARD_PROFILES_DIR adds directories")
        else:
            for p in exc.problems:
                out.info(str(p))
            out.error(f"profile `{name}` has problems (listed above)",
                      "fix them, then check with `onboard profiles validate`")
        return None


def _show(args: argparse.Namespace, out: Output) -> int:
    p = _load(args.name, out, args)
    if p is None:
        return 1
    if out.json:
        out.emit_json(ok=True, profile=dataclasses.asdict(p), watched_files=p.watched_files())
        return 0
    out.line(f"profile:      {p.name}" + (f"  (extends {p.extends})" if p.extends else ""))
    if p.description:
        out.line(f"description:  {p.description.splitlines()[0]}")
    out.line(f"files:        {p.sources[0]}")
    for s in p.sources[1:]:
        out.line(f"              {s}")
    out.line(f"package set:  {p.nixpkgs.describe()}")
    out.line(f"packages:     {', '.join(p.packages) if p.packages else '(none)'}")
    unfree = {"none": "none allowed", "listed": "allowed one by one: " + ", ".join(p.unfree),
              "all": "ALL allowed (allowUnfree: true, no list)"}[p.unfree_policy()]
    out.line(f"unfree:       {unfree}")
    if p.python:
        req = f", requirements {p.python.requirements}" if p.python.requirements else ""
        out.line(f"python:       {p.python.version} in a virtualenv at {p.python.venv_dir}{req}")
    for k in sorted(p.env):
        out.line(f"env:          {k}={p.env[k]}")
    for k in sorted(p.scripts):
        body = p.scripts[k].rstrip("\n").split("\n")
        if len(body) == 1:
            out.line(f"script:       {k}: {body[0]}")
        else:
            out.line(f"script:       {k}:")
            for line in body:
                out.line(f"  | {line}")
    if p.shell_hook.strip():
        out.line("shellHook:")
        for line in p.shell_hook.rstrip("\n").split("\n"):
            out.line(f"  | {line}")
    for k in sorted(p.editors):
        out.line(f"editor:       {k}")
    for k in sorted(p.services):
        out.line(f"service:      {k} (declared; onboard does not start services)")
    for w in p.warnings:
        out.info(f"note: {w}")
    return 0


# -- render -------------------------------------------------------------------------------

def _render(args: argparse.Namespace, out: Output) -> int:
    from pathlib import Path

    from onboard.core.profiles.render import render_profile, write_rendered

    p = _load(args.name, out, args)
    if p is None:
        return 1
    dest = Path(args.out).absolute()
    if dest.exists() and not dest.is_dir():
        out.error(f"{dest} exists and is not a directory", "give --out a directory")
        return 1
    for w in p.warnings:
        out.info(f"note: {w}")
    try:
        if out.dry_run:
            files = [dest / rel for rel in render_profile(p)]
        else:
            files = write_rendered(p, dest)
    except OSError as exc:
        where = exc.filename or dest
        out.error(f"cannot render into {dest}: {where}: {exc.strerror or exc}",
                  "check that the profile's files are readable and --out is a directory you can write to")
        return 1
    if out.json:
        out.emit_json(ok=True, profile=p.name, out=str(dest), dry_run=out.dry_run,
                      files=[str(f) for f in files])
        return 0
    verb = "would write" if out.dry_run else "wrote"
    out.info(f"{verb} the shell of profile `{p.name}` into {dest}:")
    for f in files:
        out.line(str(f))
    return 0
