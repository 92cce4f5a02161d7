"""Check the release tarball's SHA-256 and unpack it safely next to the store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboard.core.engine.action import Action, Context, register
from onboard.core.engine.fsutil import atomic_write, fsync_dir
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions.common import UNPACKED_MARKER, unpacked_release
from onboard.core.nixinstall.release import release_info
from onboard.core.nixinstall.unpack import UnpackError, remove_tree, safe_extract


@register
@dataclass
class UnpackRelease(Action):
    """Check the tarball's SHA-256, then unpack it safely next to the store."""

    kind = "nix-unpack"
    archive: str = ""
    sha256: str = ""
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    summary: str = ""

    def target(self) -> str:
        return self.staging

    def describe(self) -> str:
        return self.summary or f"check the SHA-256 of {self.archive} and unpack it into {self.staging}"

    def check(self, ctx: Context) -> bool:
        marker = Path(self.staging) / UNPACKED_MARKER
        try:
            sha = marker.read_text().split("\n")[0]
        except FileNotFoundError:
            return False
        return sha == self.sha256 and unpacked_release(self.staging, self.store_dir) is not None

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"existed": os.path.lexists(self.staging)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        # One read of the archive both hashes and unpacks it (a file swapped in by path after a
        # separate check would be unpacked unchecked). It is unpacked beside the staging
        # directory and moved into place only once its hash matched and every store path it
        # names passed: before that, nothing of it is where later actions look.
        staging = Path(self.staging)
        work = _unpacking_dir(self.staging)
        remove_tree(staging)  # a partial unpack from a killed run
        remove_tree(work)
        work.mkdir(parents=True, mode=0o755)
        try:
            top = safe_extract(self.archive, work, sha256=self.sha256, store_dir=self.store_dir,
                               emit=ctx.emit, action_id=ctx.action_id)
            info = release_info(work / top, self.store_dir)
            if not (info.top / "store").is_dir():
                raise UnpackError(f"{self.archive} has no store/ directory: not a Nix release tarball")
            atomic_write(work / UNPACKED_MARKER, f"{self.sha256}\n{top}\n".encode(), mode=0o644)
            os.rename(work, staging)
            fsync_dir(staging.parent)
        except BaseException:
            remove_tree(work)
            raise
        ctx.log(f"unpacked {top}: {len(info.paths)} store paths, Nix at {info.nix}")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if record:
            remove_tree(_unpacking_dir(self.staging))
        if record and not record.get("existed"):
            remove_tree(self.staging)


def _unpacking_dir(staging: str) -> Path:
    """Where the release is unpacked before it is accepted (its hash and store paths checked)."""
    return Path(staging.rstrip("/") + ".unpacking")
