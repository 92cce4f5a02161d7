"""`onboard export archive`: the environment `onboard shell` would load, as a directory that
brings it back with no network: its runtime closure (and, unless runtime only, the fixed-output
sources its build used that the store still has) as a file binary cache, the rendered files,
the lock files, the verify record, the env.sh the shell loads and a README."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import Optional

from onboard.core.archive.common import (ARCHIVE_VERSION, CACHE, ENV, LOCKS, MAGIC, MANIFEST, RECORD, RENDERED,
                                         ArchiveError, dir_bytes, nix)
from onboard.core.events import Emitter, Notice, discard

ENV_FILES = ("env.sh", "manifest", "inputs.sh", "facts.json", "bashrc", "python-venv")


@dataclass
class Exported:
    directory: str
    profile: str
    roots: list[str]
    paths: list[str]  # the runtime closure
    sources: list[str]  # fixed-output sources of the build
    nar_bytes: int
    bytes: int
    notes: list[str]


def _sources(drvs: list[str], closure: set[str]) -> list[str]:
    """Outputs of the fixed-output derivations in the build's input closure still in the store."""
    drvs = [d for d in drvs if d and os.path.exists(d)]
    if not drvs:
        return []
    doc = json.loads(nix(["nix", "show-derivation", "-r", *drvs], "asking Nix for the build's derivations") or "{}")
    out: set[str] = set()
    for drv in doc.values() if isinstance(doc, dict) else []:
        for o in (drv.get("outputs") or {}).values():
            path = o.get("path", "")
            if o.get("hash") and path and os.path.exists(path) and path not in closure:
                out.add(path)
    return sorted(out)


def _nar_sizes(paths: list[str]) -> int:
    doc = json.loads(nix(["nix", "path-info", "--json", *paths], "asking Nix for the NAR sizes") or "[]")
    items = doc.values() if isinstance(doc, dict) else doc
    return sum(int(i.get("narSize") or 0) for i in items if isinstance(i, dict))


def _write(directory: str, rel: str, data: bytes, files: list[str], mode: int = 0o644) -> None:
    path = os.path.join(directory, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    os.chmod(path, mode)
    files.append(rel)


def _lock_files(profile: object, root: Optional[str]) -> dict[str, str]:
    """rel path (to the project) -> absolute path of the profile's lock files."""
    py = getattr(profile, "python", None)
    out: dict[str, str] = {}
    for key in ("lock", "requirements"):
        path = getattr(py, key, "") if py is not None else ""
        if not path or not os.path.isfile(path):
            continue
        paths = [path]
        if key == "lock":
            paths.append(os.path.join(os.path.dirname(path), "pyproject.toml"))
        for p in paths:
            if os.path.isfile(p):
                rel = os.path.relpath(p, root) if root else os.path.basename(p)
                out[rel if not rel.startswith("..") else os.path.basename(p)] = p
    return out


def export_archive(name: Optional[str], out_dir: str, project: Optional[str] = None, runtime_only: bool = False,
                   emit: Emitter = discard) -> Exported:
    """Write the archive of profile `name` into `out_dir` (new or empty). Raises ArchiveError."""
    from onboard.core.profiles.render import render_profile
    from onboard.core.verify import record as rec
    from onboard.core.verify.nixstore import NixError

    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise ArchiveError(f"{out_dir} exists and is not an empty directory", "name a new directory: --out DIR", code=2)
    try:
        loc = rec.locate(name, project, check=False, need_profile=True)
        result = rec.make_record(loc, check=False)
    except rec.VerifyError as exc:
        raise ArchiveError(exc.message, exc.hint, exc.code) from None
    except NixError as exc:
        raise ArchiveError(exc.message, exc.hint) from None
    record = result.record
    roots = list(record["shell"]["outputs"])
    closure = sorted(record["closure"])
    sources: list[str] = []
    notes = list(result.notes)
    if not runtime_only:
        drvs = [d for d in record["shell"].get("drv") or [] if d]
        if not drvs:
            notes.append("the build's derivation is gone from the store: only the runtime closure is archived")
        sources = _sources(drvs, set(closure))
    every = closure + sources
    nar_bytes = _nar_sizes(every)
    emit(Notice(level="info", message=f"copying {len(every)} store paths ({nar_bytes} bytes as NARs) "
                                      f"to {out_dir}/{CACHE}"))
    os.makedirs(out_dir, exist_ok=True)
    try:
        nix(["nix", "copy", "--to", f"file://{out_dir}/{CACHE}", *every], "copying the store paths into the archive")
        files: list[str] = []
        for f in ENV_FILES:
            src = os.path.join(loc.directory, f)
            if os.path.isfile(src):
                with open(src, "rb") as fh:
                    _write(out_dir, f"{ENV}/{f}", fh.read(), files)
        if loc.profile is not None:
            for rel, text in sorted(render_profile(loc.profile).items()):
                _write(out_dir, f"{RENDERED}/{rel}", text.encode("utf-8", "surrogateescape"), files)
            for rel, path in sorted(_lock_files(loc.profile, loc.root).items()):
                with open(path, "rb") as fh:
                    _write(out_dir, f"{LOCKS}/{rel}", fh.read(), files)
        _write(out_dir, RECORD, rec.dumps(record).encode("utf-8"), files)
        _write(out_dir, "README.md", readme(loc.name, roots, every, loc.profile is not None).encode("utf-8"), files)
        doc = {"format": MAGIC, "version": ARCHIVE_VERSION, "profile": loc.name, "roots": roots, "paths": closure,
               "sources": sources, "files": sorted(files), "nar_bytes": nar_bytes,
               "system": record.get("system", ""), "generation": loc.generation or None,
               "fallback": bool(loc.fallback), "origin": {"project": loc.root or "", "directory": loc.directory}}
        with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    return Exported(out_dir, loc.name, roots, closure, sources, nar_bytes, dir_bytes(out_dir), notes)


def readme(name: str, roots: list[str], paths: list[str], rendered: bool) -> str:
    env_root = roots[0] if roots else ""
    develop = ("\n## With plain Nix, building the shell from the rendered flake\n\n"
               "    nix develop path:$PWD/flake --option substituters file://$PWD/cache \\\n"
               "        --option require-sigs false --offline\n\n"
               "Nix builds only what the cache does not have; the fixed-output sources the build used are in\n"
               "the cache too unless the archive was made with --runtime-only.\n") if rendered else ""
    return f"""# An archive of the onboard environment of profile {name}

Everything needed to enter this environment again with no network: the store paths of its
runtime closure in `cache/` (a Nix file binary cache, unsigned), the environment as onboard
loads it in `env/` (env.sh), the rendered files in `flake/`, the lock files in `locks/`, and
`record.json`, the record `onboard verify` made of it. `archive.json` lists the store paths.

## With onboard

In the project (a checkout of the same code):

    onboard import archive /path/to/this/directory
    onboard shell {name}
    onboard verify {name} --against /path/to/this/directory/record.json

The import copies the store paths into this machine's store, records the environment as a new
generation of the project and holds the project there: `onboard shell {name}` loads it without
evaluating or building, until `onboard switch`.

## With plain Nix

    nix copy --from file://$PWD/cache --no-check-sigs {" ".join(paths[:3])}{" ..." if len(paths) > 3 else ""}
    # every path: nix copy --from file://$PWD/cache --no-check-sigs $(python3 -c 'import json; d=json.load(open("archive.json")); print(" ".join(d["paths"] + d["sources"]))')
    nix-store --realise --add-root ./env-root {env_root}
    bash --norc -c 'source env/env.sh; exec bash'
{develop}"""
