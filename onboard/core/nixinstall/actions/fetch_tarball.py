"""Download the Nix release tarball into onboard's cache, checked against its SHA-256."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onboard.core.actions.files import make_parents, missing_parents, remove_created_dirs
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import atomic_write
from onboard.core.nixinstall.source import DownloadError, download, file_sha256, human, part_path


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
        # dirs that an earlier, failed run made and kept for its partial download are onboard's too
        created = missing_parents(self.dest) or kept_dirs(Path(self.dest))
        return {"existed": os.path.exists(self.dest), "created_dirs": created}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        dest = Path(self.dest)
        make_parents(dest)
        try:
            download(self.url, dest, self.sha256, emit=ctx.emit, action_id=ctx.action_id,
                     expected_size=self.size)
        except DownloadError as exc:
            record["resumable"] = exc.resumable and part_path(dest).exists()
            if record["resumable"]:  # the message promises a resume: keep the part (uninstall removes it)
                _write_kept(dest, record.get("created_dirs", []))
            elif not part_path(dest).exists() and not dest.exists():
                remove_created_dirs(record.get("created_dirs", []))
            raise
        except ActionError:
            if not part_path(dest).exists() and not dest.exists():
                remove_created_dirs(record.get("created_dirs", []))
            raise
        record["resumable"] = False
        _drop_kept(dest)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        dest = Path(self.dest)
        if not record.get("existed"):
            _unlink(dest)
        if record.get("resumable") and part_path(dest).exists():
            # undoing a run whose download broke off keeps what it got, as its message said;
            # `onboard uninstall` removes it (cleanup_items)
            _write_kept(dest, record.get("created_dirs", []))
            return
        _unlink(part_path(dest))
        _drop_kept(dest)
        remove_created_dirs(record.get("created_dirs", []))


def _kept_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part.dirs")


def _write_kept(dest: Path, dirs: list[str]) -> None:
    """Next to a kept DEST.part: the folders onboard made for it, for the run that resumes it or
    the uninstall that removes it."""
    atomic_write(_kept_path(dest), json.dumps({"created_dirs": dirs}).encode(), mode=0o600)


def kept_dirs(dest: Path) -> list[str]:
    try:
        return list(json.loads(_kept_path(dest).read_text()).get("created_dirs", []))
    except (OSError, ValueError, AttributeError):
        return []


def _drop_kept(dest: Path) -> None:
    _unlink(_kept_path(dest))


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


def cleanup_items() -> list:
    """For `onboard uninstall`: partial downloads that undoing a failed run kept to resume."""
    from onboard.core import paths
    from onboard.core.uninstall import CleanupItem

    folder = paths.cache_dir() / "downloads"
    try:
        parts = sorted(folder / n for n in os.listdir(folder) if n.endswith(".part"))
    except OSError:
        return []
    if not parts:
        return []

    def remove() -> None:
        for part in parts:
            dest = part.with_name(part.name[: -len(".part")])
            dirs = kept_dirs(dest)
            _unlink(part)
            _drop_kept(dest)
            remove_created_dirs(dirs)

    return [CleanupItem(description=f"remove the partial download{'s' if len(parts) > 1 else ''} kept to "
                                    f"resume ({', '.join(p.name for p in parts)} in {folder})",
                        paths=[str(p) for p in parts], remove=remove)]
