"""onboard import: bring an exported environment into this machine's store and the project."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "restore an environment from `onboard export archive`, offline (onboard import archive DIR)"
DESCRIPTION = """\
  onboard import archive web-archive              into the project here
  onboard import archive web-archive --project P  into project P

Copies the archive's store paths into this machine's store (no network), records the
environment as a new generation of the project and holds the project there, so `onboard shell`
loads it without evaluating or building (until `onboard switch`), then checks it against the
archive's record. Exit 0: imported and the same; 1: imported but different, or it failed;
2: bad input (not an archive, a missing file, a newer archive), nothing changed.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="KIND", help="archive")
    p.add_argument("directory", metavar="DIR", help="the directory `onboard export archive` wrote")
    p.add_argument("--project", metavar="DIR", default=None, help="the project directory")


def run(args: argparse.Namespace, out: Output) -> int:
    if args.kind != "archive":
        out.error(f"onboard import has no kind {args.kind}", "use `onboard import archive DIR`")
        return 2
    from onboard.core.archive.common import ArchiveError
    from onboard.core.archive.restore import import_archive
    from onboard.core.events import Event, Notice

    def emit(event: Event) -> None:
        if isinstance(event, Notice) and not out.json:
            out.info(f"onboard: {event.message}")

    try:
        r = import_archive(args.directory, project=args.project, emit=emit)
    except ArchiveError as exc:
        out.error(exc.message, exc.hint)
        return exc.code
    if out.json:
        out.emit_json(profile=r.profile, project=r.project, generation=r.generation, paths=r.paths, same=r.same,
                      differences=r.differences, notes=r.notes)
        return 0 if r.same else 1
    out.line(f"imported {r.paths} store paths; profile {r.profile} is generation {r.generation} of {r.project}")
    for note in r.notes:
        out.info(f"onboard: {note}")
    if r.same:
        out.line("the environment is the same as the archive's record")
        return 0
    out.line("the environment differs from the archive's record:")
    for d in r.differences:
        out.line(f"  {d}")
    return 1
