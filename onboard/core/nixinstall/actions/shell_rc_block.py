"""A marked block in a shell startup file that puts Nix on PATH."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import missing_parents
from onboard.core.engine.action import Context, register
from onboard.core.nixinstall.actions.common import Preflight


@register
@dataclass
class ShellRcBlock(Preflight, MarkedBlock):
    """A marked block in a shell startup file that puts Nix on PATH."""

    kind = "nix-rc-block"

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        self._preflight()
        record = super().snapshot(ctx)
        record["created_dirs"] = missing_parents(record["path"])
        return record

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        super().revert(ctx, record)
