"""Download the Nix release tarball into onboard's cache, checked against its SHA-256."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboard.core.actions.files import make_parents, missing_parents, remove_created_dirs
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.nixinstall.source import download, file_sha256, human, part_path


@register
@dataclass
class FetchTarball(Action):
    """Download the release tarball into onboard's cache (kept for offline repair until uninstall)."""

    kind = "nix-download"
    url: str = ""
    sha256: str = ""
    dest: str = ""
    size: int = 0
    summary: str = ""

    def target(self) -> str:
        return self.dest

    def describe(self) -> str:
        size = f", {human(self.size)}" if self.size else ""
        return self.summary or f"download {self.url}{size} (checked against its SHA-256)"

    def paths(self) -> list[str]:
        return [self.dest, self.url]

    def check(self, ctx: Context) -> bool:
        p = Path(self.dest)
        return p.is_file() and file_sha256(p) == self.sha256

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.exists(self.dest), "created_dirs": missing_parents(self.dest)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        dest = Path(self.dest)
        make_parents(dest)
        try:
            download(self.url, dest, self.sha256, emit=ctx.emit, action_id=ctx.action_id,
                     expected_size=self.size)
        except ActionError:
            if not part_path(dest).exists() and not dest.exists():
                remove_created_dirs(record.get("created_dirs", []))
            raise

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        for p in (Path(self.dest), part_path(Path(self.dest))):
            if p == Path(self.dest) and record.get("existed"):
                continue
            try:
                p.unlink()
            except FileNotFoundError:
                pass
        remove_created_dirs(record.get("created_dirs", []))
