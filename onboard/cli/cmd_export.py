"""onboard export: an environment as a directory that brings it back with no network."""

from __future__ import annotations

import argparse

from onboard.cli.output import Output

HELP = "write an environment as an archive that restores it offline, or as an OCI container image"
DESCRIPTION = """\
  onboard export archive web --out web-archive            the closure, sources, files, record
  onboard export archive web --out web-archive --runtime-only   the runtime closure only

The archive holds the environment `onboard shell` would load: its store paths as a file binary
cache (with the fixed-output sources of its build, unless --runtime-only), the rendered files,
the lock files, the verify record, env.sh and a README saying how to restore it, with onboard
(`onboard import archive DIR`) or with plain Nix.

  onboard export container web --out web.tar              an OCI image archive of the environment
  onboard export container web --out web.tar --cmd 'python -m http.server' --tag web:dev
  onboard export container web --load                     and hand it to podman (or docker)

The image holds the runtime closure of the environment `onboard shell` would load (built
first if it is not), one layer per store path, its variables, a user `dev` (uid 1000), the
working directory /work and the profile's shell as its command (or --cmd). The same profile
gives the same bytes, on any machine with the same store paths (docs/container.md). An
existing --out file is replaced only with --yes.
"""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", metavar="KIND", help="archive or container")
    p.add_argument("name", nargs="?", metavar="PROFILE", help="profile name (default: the active profile)")
    p.add_argument("--out", metavar="PATH", help="archive: the directory to write (new or empty); "
                   "container: the image archive file (default: onboard-PROFILE.tar here)")
    p.add_argument("--runtime-only", action="store_true", help="only the runtime closure, not the build's sources")
    p.add_argument("--project", metavar="DIR", default=None, help="the project directory")
    p.add_argument("--cmd", metavar="COMMAND", default=None,
                   help="container: the image's command, as shell words (default: the profile's shell)")
    p.add_argument("--tag", metavar="NAME", default="", help="container: the image's name (default: onboard-PROFILE)")
    p.add_argument("--load", action="store_true", help="container: load the image into podman or docker")
    p.add_argument("--gzip", action="store_true", help="container: gzip the layers (smaller, slower to write)")


def run(args: argparse.Namespace, out: Output) -> int:
    if args.kind == "container":
        return run_container(args, out)
    if args.kind != "archive":
        from onboard.core.schema.suggest import suffix

        out.error(f"onboard export has no kind {args.kind}{suffix(args.kind, ('archive', 'container'))}",
                  "use `onboard export archive PROFILE --out DIR` or `onboard export container PROFILE`")
        return 2
    for flag, given in (("--cmd", args.cmd is not None), ("--tag", bool(args.tag)), ("--load", args.load),
                        ("--gzip", args.gzip)):
        if given:
            out.error(f"{flag} is for `onboard export container`, not archive", "leave it out")
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


def run_container(args: argparse.Namespace, out: Output) -> int:
    import os

    from onboard.core.container.export import ContainerError, Request, export_container, plan_export
    from onboard.core.events import ActionProgress, Event, Notice

    if args.runtime_only:
        out.error("--runtime-only is for `onboard export archive`: an image holds the runtime closure only",
                  "leave it out")
        return 2
    temp = ""
    target = args.out
    if not target:
        if args.load and not getattr(args, "dry_run", False):
            import tempfile

            temp = tempfile.mkdtemp(prefix="onboard-image-")
            target = os.path.join(temp, "image.tar")
        else:
            target = f"onboard-{args.name}.tar" if args.name else "onboard-image.tar"
    req = Request(name=args.name, out=target, project=args.project, cmd=args.cmd, tag=args.tag, gzip=args.gzip,
                  replace=bool(getattr(args, "yes", False)))
    try:
        if getattr(args, "dry_run", False):
            plan = plan_export(req)
            if out.json:
                out.emit_json(dry_run=True, profile=plan.profile, out=plan.out, tag=plan.tag, built=plan.built,
                              paths=plan.paths, layers=plan.layers, cmd=plan.cmd, env=plan.env,
                              python_env=plan.python_env, steps=plan.lines(), notes=plan.notes,
                              load=bool(args.load))
                return 0
            out.line(f"onboard export container {plan.profile} would:")
            for line in plan.lines():
                out.line(f"  - {line}")
            if args.load:
                out.line("  - load it into podman (or docker)")
            for note in plan.notes:
                out.info(f"onboard: {note}")
            out.line("nothing was built or written (dry run)")
            return 0
        reporter = out.reporter()

        def emit(event: Event) -> None:
            if isinstance(event, Notice):
                if not out.json:
                    out.info(f"onboard: {event.message}")
            elif not isinstance(event, ActionProgress) or not out.json:
                reporter(event)

        try:
            e = export_container(req, emit=emit)
        finally:
            reporter.close()
    except ContainerError as exc:
        if temp:
            import shutil

            shutil.rmtree(temp, ignore_errors=True)
        out.error(exc.message, exc.hint)
        return exc.code
    loaded = None
    load_error = None
    if args.load:
        from onboard.core.container.load import LoadError, load

        try:
            loaded = load(e.out, e.tag)
        except LoadError as exc:
            load_error = exc
        finally:
            if temp:
                import shutil

                shutil.rmtree(temp, ignore_errors=True)
    kept = "" if temp else e.out
    if out.json:
        out.emit_json(profile=e.profile, out=kept, digest=e.digest, image_id=e.config_digest, size=e.size, tag=e.tag,
                      layers=e.layers, paths=len(e.paths), nar_bytes=e.nar_bytes, python_env=e.python_env or None,
                      cmd=e.cmd, env=e.env, notes=e.notes,
                      loaded={"engine": loaded.engine, "image": loaded.image} if loaded else None,
                      load_error=load_error.message if load_error else None)
    else:
        for note in e.notes:
            out.info(f"onboard: {note}")
        where = f" in {kept}" if kept else ""
        out.line(f"profile {e.profile}: image {e.tag}, {e.layers} layers, {len(e.paths)} store paths{where}")
        out.line(f"digest: {e.digest}")
        out.line(f"size: {e.size} bytes ({e.nar_bytes} bytes of store paths as NARs)")
        if loaded is not None:
            out.line(f"loaded into {loaded.engine}: {loaded.image}")
        elif kept:
            out.line(f"load it with `podman load -i {kept}` (or docker load -i), or `onboard export container "
                     f"{e.profile} --load`")
    if load_error is not None:
        out.error(load_error.message, load_error.hint)
        return 1
    return 0
