"""`direnv allow DIR` with `direnv deny DIR` as undo, leaving no directory of direnv's behind
that did not exist before; and whether direnv allows a project's .envrc.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from onboard.core import paths
from onboard.core.actions.commands import RunCommand
from onboard.core.engine.action import ActionError, Context, register


def direnv_allowed(project: str, direnv: str = "direnv") -> Optional[bool]:
    """Whether direnv allows the .envrc of `project` (None: direnv could not tell)."""
    try:
        r = subprocess.run([direnv, "status"], cwd=project, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in r.stdout.splitlines():
        if line.startswith("Found RC allowed "):
            value = line.rsplit(" ", 1)[-1].strip().lower()
            return value in ("true", "0")  # direnv 2.32 prints true/false, later 0 = allowed
    return False if "No .envrc" in r.stdout else None


def _direnv_data_dir() -> Path:
    return paths.data_home() / "direnv"


def _missing_dirs(path: Path) -> list[str]:
    """`path` and its ancestors that do not exist yet, innermost first."""
    out = []
    p = path
    while not p.exists() and p != p.parent:
        out.append(str(p))
        p = p.parent
    return out


@register
@dataclass
class DirenvAllow(RunCommand):
    """`direnv allow DIR`, undone with `direnv deny DIR`."""

    kind = "direnv-allow"
    project: str = ""

    def __post_init__(self) -> None:
        if self.project:
            if not self.argv:
                self.argv = ["direnv", "allow", self.project]
            if not self.undo:
                self.undo = ["direnv", "deny", self.project]
            if not self.cwd:
                self.cwd = self.project
            if not self.ident:
                self.ident = f"direnv allow {self.project}"

    def describe(self) -> str:
        return self.summary or f"allow {self.project}/.envrc for direnv (direnv allow)"

    def paths(self) -> list[str]:
        return [os.path.join(self.project, ".envrc")]

    def check(self, ctx: Context) -> bool:
        if shutil.which(self.argv[0]) is None:
            return False
        return bool(direnv_allowed(self.project, self.argv[0]))

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        data = _direnv_data_dir()
        missing = set(_missing_dirs(data / "allow")) | set(_missing_dirs(data / "deny"))
        return {"missing_dirs": sorted(missing, key=lambda d: (-d.count(os.sep), d))}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if shutil.which(self.argv[0]) is None:
            raise ActionError("direnv is not installed, so the .envrc cannot be allowed",
                              hint="install direnv (e.g. `apt install direnv` or "
                                   "`nix profile install nixpkgs#direnv`), then run `direnv allow` "
                                   f"in {self.project}")
        ctx.run(self.argv, cwd=self.cwd or None)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "missing_dirs" not in record:
            return  # failed before its snapshot: nothing was changed
        deny_dir = _direnv_data_dir() / "deny"
        before = set(os.listdir(deny_dir)) if deny_dir.is_dir() else set()
        if shutil.which(self.undo[0]) is not None and os.path.isdir(self.project):
            ctx.run(self.undo, cwd=self.cwd or None, check=False)
        # newer direnv records a denial as a file: ours goes with the rest
        if deny_dir.is_dir():
            for name in set(os.listdir(deny_dir)) - before:
                try:
                    (deny_dir / name).unlink()
                except OSError:
                    pass
        for d in record.get("missing_dirs", []):
            try:
                os.rmdir(d)
            except OSError:
                pass
