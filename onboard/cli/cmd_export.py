"""onboard export: an environment as a directory that brings it back with no network."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "write an environment to a directory that restores it offline (onboard export archive)"
DESCRIPTION = """\
  onboard export archive web --out web-archive            the closure, sources, files, record
  onboard export archive web --out web-archive --runtime-only   the runtime closure only

The archive holds the environment `onboard shell` would load: its store paths as a file binary
cache (with the fixed-output sources of its build, unless --runtime-only), the rendered files,
the lock files, the verify record, env.sh and a README saying how to restore it, with onboard
(`onboard import archive DIR`) or with plain Nix. `onboard export container` is not available yet.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="KIND", help="archive (container is not available yet)")
    p.add_argument("name", nargs="?", metavar="PROFILE", help="profile name (default: the active profile)")
    p.add_argument("--out", metavar="DIR", help="the directory to write (new or empty)")
    p.add_argument("--runtime-only", action="store_true", help="only the runtime closure, not the build's sources")
    p.add_argument("--project", metavar="DIR", default=None, help="the project directory")


def run(args: argparse.Namespace, out: Output) -> int:
    if args.kind == "container":
        out.error("onboard export container is not available yet", "use `onboard export archive PROFILE --out DIR`")
        return 2
    if args.kind != "archive":
        out.error(f"onboard export has no kind {args.kind}", "use `onboard export archive PROFILE --out DIR`")
        return 2
    if not args.out:
        out.error("onboard export archive needs --out DIR", "onboard export archive PROFILE --out DIR")
        return 2
    from onboard.core.archive.common import ArchiveError
    from onboard.core.archive.export import export_archive
    from onboard.core.events import Event, Notice

    def emit(event: Event) -> None:
        if isinstance(event, Notice) and not out.json:
            out.info(f"onboard: {event.message}")

    try:
        e = export_archive(args.name, args.out, project=args.project, runtime_only=args.runtime_only, emit=emit)
    except ArchiveError as exc:
        out.error(exc.message, exc.hint)
        return exc.code
    if out.json:
        out.emit_json(directory=e.directory, profile=e.profile, roots=e.roots, paths=len(e.paths),
                      sources=len(e.sources), nar_bytes=e.nar_bytes, bytes=e.bytes, notes=e.notes)
        return 0
    for note in e.notes:
        out.info(f"onboard: {note}")
    out.line(f"profile {e.profile}: {len(e.paths)} store paths of the runtime closure and {len(e.sources)} "
             f"build sources archived in {e.directory}")
    out.line(f"size: {e.nar_bytes} bytes before (NAR sizes), {e.bytes} bytes in {e.directory}")
    out.line(f"restore it with `onboard import archive {e.directory}` (or see its README.md)")
    return 0
