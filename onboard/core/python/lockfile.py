"""Reading the lock a profile names: `python.lock` (uv.lock) or `python.requirements` (a
hashed requirements file). Any other format (poetry.lock, Pipfile.lock, pdm.lock, pylock.toml,
an unhashed requirements.in) is refused with the command that makes a lock onboard reads.
"""

from __future__ import annotations

import os
from typing import Optional

from onboard.core.python.model import FIX_EXPORT, FIX_UV_LOCK, Lock
from onboard.core.python.requirements import read_requirements
from onboard.core.python.uvlock import read_uv_lock
from onboard.core.schema import Problem

__all__ = ["read_lock", "sniff_format"]

_OTHER = {
    "poetry.lock": ("a Poetry lock", "`poetry export --format requirements.txt --output requirements.txt` "
                    "and name it as `python.requirements`, or move the dependencies to [project] in "
                    f"pyproject.toml and run `{FIX_UV_LOCK}`"),
    "pipfile.lock": ("a Pipenv lock", "`pipenv requirements --hash > requirements.txt` and name it as "
                     "`python.requirements`"),
    "pdm.lock": ("a PDM lock", "`pdm export --format requirements --output requirements.txt` and name it as "
                 f"`python.requirements`, or run `{FIX_UV_LOCK}`"),
    "pylock": ("a PEP 751 lock (pylock.toml)", f"run `{FIX_UV_LOCK}` and name uv.lock as `python.lock`"),
    "conda": ("a conda environment", "list the packages in pyproject.toml and run "
              f"`{FIX_UV_LOCK}`, or put native tools under `packages:`"),
}


def sniff_format(path: str) -> str:
    """"uv.lock", "requirements" or one of the refused formats' keys (poetry.lock, ...)."""
    base = os.path.basename(path).lower()
    if base in ("poetry.lock", "pipfile.lock", "pdm.lock"):
        return base
    if base.startswith("pylock.") and base.endswith(".toml"):
        return "pylock"
    if base.endswith((".yml", ".yaml")) or base == "conda-lock.yml":
        return "conda"
    if base.endswith(".lock") or base.endswith(".toml"):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                head = f.read(4096)
        except OSError:
            return "uv.lock" if base == "uv.lock" else "requirements"
        if "[metadata]" in head and "content-hash" in head:
            return "poetry.lock"
        if '"_meta"' in head:
            return "pipfile.lock"
        if "lock-version" in head:
            return "pylock"
        return "uv.lock"
    return "requirements"


def read_lock(path: str, kind: str = "lock", pyproject: Optional[str] = None) -> tuple[Optional[Lock], list[Problem]]:
    """Read the lock at `path`. `kind` is the profile key that named it: "lock" (uv.lock,
    with `pyproject` beside it by default) or "requirements"."""
    fmt = sniff_format(path)
    if not os.path.exists(path):
        fix = FIX_UV_LOCK if kind == "lock" else FIX_EXPORT
        return None, [Problem(path, 0, 0, f"no such file: make it with `{fix}` (in the project's directory)")]
    if fmt in _OTHER:
        what, fix = _OTHER[fmt]
        return None, [Problem(path, 1, 0, f"this is {what}, which onboard does not read: {fix}")]
    if kind == "lock" and fmt == "requirements":
        return None, [Problem(path, 1, 0, "this looks like a requirements file: name it as `python.requirements` "
                                          f"(hashed: `{FIX_EXPORT}`), or lock with `{FIX_UV_LOCK}` and name "
                                          "uv.lock as `python.lock`")]
    if kind == "requirements" and fmt == "uv.lock":
        return None, [Problem(path, 1, 0, "this is a uv.lock: name it as `python.lock`, not `python.requirements`")]
    if fmt == "uv.lock":
        return read_uv_lock(path, pyproject)
    return read_requirements(path)
