"""Move the unpacked release's store paths into /nix/store, read-only."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from typing import Any

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.events import ActionProgress
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions.common import need_release, unpacked_release
from onboard.core.nixinstall.unpack import UnpackError, check_store_path, remove_tree


@register
@dataclass
class StorePaths(Action):
    """Move the release's store paths into /nix/store, read-only (a rename: no copy)."""

    kind = "nix-store-paths"
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    summary: str = ""

    def target(self) -> str:
        return self.store_dir

    def describe(self) -> str:
        return self.summary or f"put the release's store paths into {self.store_dir}"

    def paths(self) -> list[str]:
        return [f"{self.store_dir}/* (the release's store paths)"]

    def check(self, ctx: Context) -> bool:
        info = unpacked_release(self.staging, self.store_dir)
        return info is not None and all(os.path.lexists(p) for p in info.paths)

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        info = unpacked_release(self.staging, self.store_dir)
        there = [p for p in info.paths if os.path.lexists(p)] if info else []
        return {"already_in_store": there}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = need_release(self.staging, self.store_dir)
        src_store = info.top / "store"
        if src_store.is_symlink() or not src_store.is_dir():
            raise UnpackError(f"{src_store} is not a directory: the unpacked release is damaged",
                              hint="run the install again: it unpacks the release first")
        for p in info.paths:  # all of them before the first is moved
            check_store_path(p, self.store_dir, where=".reginfo")
            if (src_store / os.path.basename(p)).is_symlink():
                raise UnpackError(f"unsafe archive entry {info.top.name}/store/{os.path.basename(p)!r}: "
                                  "the store path is a symlink; nothing was moved into the store",
                                  hint="the tarball is not an official Nix release; use the official one")
        total = len(info.paths)
        for i, p in enumerate(info.paths, 1):
            name = os.path.basename(p)
            src = src_store / name
            if os.path.lexists(p):
                if os.path.lexists(src):
                    remove_tree(src)
                continue
            if not os.path.lexists(src):
                raise ActionError(f"the release lists {p} in .reginfo but has no store/{name}",
                                  hint="the tarball is incomplete; use the official one")
            if src.is_dir() and not src.is_symlink():
                _make_read_only(str(src))
                os.chmod(src, 0o755)
            try:
                os.rename(src, p)
            except OSError as exc:
                if exc.errno != 18:  # EXDEV: another file system
                    raise
                remove_tree(p + ".onboard-tmp")  # a copy cut short by an earlier run
                shutil.copytree(src, p + ".onboard-tmp", symlinks=True)
                os.rename(p + ".onboard-tmp", p)
                remove_tree(src)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, 0o555)
            ctx.emit(ActionProgress(action_id=ctx.action_id, done=i, total=total, unit="paths",
                                    text=name))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        keep = set(record.get("already_in_store", []))
        info = unpacked_release(self.staging, self.store_dir)
        for p in (info.paths if info else []):
            if p not in keep and os.path.lexists(check_store_path(p, self.store_dir, where=".reginfo")):
                remove_tree(p)


def _make_read_only(path: str) -> None:
    for base, dnames, fnames in os.walk(path):
        for name in fnames:
            full = os.path.join(base, name)
            if not os.path.islink(full):
                os.chmod(full, stat.S_IMODE(os.lstat(full).st_mode) & ~0o222)
        for name in dnames:
            full = os.path.join(base, name)
            if not os.path.islink(full):
                os.chmod(full, 0o555)
