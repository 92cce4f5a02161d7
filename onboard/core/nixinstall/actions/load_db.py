"""Register the release's store paths in Nix's database (`nix-store --load-db`)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

from onboard.core.engine.action import Action, Context, register
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.actions.common import need_release, nix_env, run_nix, unpacked_release


@register
@dataclass
class LoadDb(Action):
    """Register the store paths in Nix's database: `nix-store --load-db < .reginfo`."""

    kind = "nix-load-db"
    staging: str = layout.STAGING
    store_dir: str = layout.STORE
    db: str = layout.STATE + "/db"
    home: str = ""
    summary: str = ""

    def target(self) -> str:
        return self.db

    def describe(self) -> str:
        return self.summary or "register the store paths in Nix's database (nix-store --load-db)"

    def check(self, ctx: Context) -> bool:
        info = unpacked_release(self.staging, self.store_dir)
        if info is None or not os.path.exists(os.path.join(self.db, "db.sqlite")):
            return False
        try:
            proc = subprocess.run([info.tool("nix-store"), "--check-validity", *info.paths],
                                  env=nix_env(self.home), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        info = need_release(self.staging, self.store_dir)
        run_nix(ctx, [info.tool("nix-store"), "--load-db"], nix_env(self.home),
                stdin_file=str(info.reginfo))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        """The database goes with /nix (the tree's revert); nothing else to undo."""
