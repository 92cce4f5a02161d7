"""What both directions share: the archive's layout, its manifest, its errors."""

from __future__ import annotations

import json
import os
import subprocess

MAGIC = "onboard-archive"
ARCHIVE_VERSION = 1
MANIFEST = "archive.json"
CACHE = "cache"
ENV = "env"  # env.sh, manifest, inputs.sh, bashrc, python-venv as built
RENDERED = "flake"  # the rendered files
LOCKS = "locks"  # the profile's lock files, by their path in the project
RECORD = "record.json"
ENV_SH = "env.sh"


class ArchiveError(Exception):
    """`message`, `hint`, `code` (2: bad input, 1: it failed)."""

    def __init__(self, message: str, hint: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


def nix(argv: list[str], what: str) -> str:
    try:
        r = subprocess.run(argv, capture_output=True, text=True)
    except OSError as exc:
        raise ArchiveError(f"cannot run {argv[0]}: {exc.strerror}", "check that Nix works: onboard doctor") from None
    if r.returncode != 0:
        tail = (r.stderr.strip().splitlines() or ["no message"])[-1]
        raise ArchiveError(f"{what} failed: {tail}", "check that Nix works: onboard doctor")
    return r.stdout


def dir_bytes(directory: str) -> int:
    from onboard.core.engine.fsutil import tree_size

    return tree_size(directory)


def read_manifest(directory: str) -> dict:
    """The archive's manifest, checked. Raises ArchiveError (code 2) for anything else."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
        raise ArchiveError(f"{directory} is not a directory", "name the directory `onboard export archive` wrote",
                           code=2)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError:
        raise ArchiveError(f"{directory} is not an archive of onboard (no {MANIFEST})",
                           "make one with `onboard export archive PROFILE --out DIR`", code=2) from None
    except ValueError:
        raise ArchiveError(f"{path} is not JSON, so {directory} is not an archive of onboard",
                           "make one with `onboard export archive PROFILE --out DIR`", code=2) from None
    if not isinstance(doc, dict) or doc.get("format") != MAGIC:
        raise ArchiveError(f"{directory} is not an archive of onboard",
                           "make one with `onboard export archive PROFILE --out DIR`", code=2)
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise ArchiveError(f"{path} has no archive version onboard knows", "export it again", code=2)
    if version > ARCHIVE_VERSION:
        raise ArchiveError(f"{directory} is an archive of version {version}, newer than this onboard reads "
                           f"({ARCHIVE_VERSION})", "upgrade onboard to import it", code=2)
    for key, kind in (("profile", str), ("roots", list), ("paths", list), ("files", list)):
        if not isinstance(doc.get(key), kind) or not doc.get(key):
            raise ArchiveError(f"{path} is not a complete archive manifest (no {key})", "export it again", code=2)
    for rel in doc["files"]:
        if not isinstance(rel, str) or rel.startswith("/") or ".." in rel.split("/"):
            raise ArchiveError(f"{path} names a file outside the archive: {rel}", "export it again", code=2)
        if not os.path.isfile(os.path.join(directory, rel)):
            raise ArchiveError(f"the archive {directory} is missing {rel}", "copy the whole archive directory",
                               code=2)
    if not os.path.isfile(os.path.join(directory, CACHE, "nix-cache-info")):
        raise ArchiveError(f"the archive {directory} is missing its binary cache ({CACHE}/nix-cache-info)",
                           "copy the whole archive directory", code=2)
    for p in doc["paths"] + doc["roots"]:
        if not isinstance(p, str) or not p.startswith("/nix/store/"):
            raise ArchiveError(f"{path} names something that is not a store path: {p}", "export it again", code=2)
        info = os.path.join(directory, CACHE, os.path.basename(p).split("-", 1)[0] + ".narinfo")
        if not os.path.isfile(info):
            raise ArchiveError(f"the archive {directory} is missing store path {p} ({info})",
                               "copy the whole archive directory", code=2)
    return doc
