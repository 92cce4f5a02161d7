"""The group of Nix's build users (nixbld). Its gid is checked with getent (so LDAP/NIS
groups count too) before anything changes; revert removes only the group onboard made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboard.core.actions.system import getent, restore_shadow_backups, snapshot_shadow_backups
from onboard.core.engine.action import Action, ActionError, Context, register


@register
@dataclass
class CreateGroup(Action):
    """A system group (nixbld for Nix's build users)."""

    kind = "group"
    needs_root = True
    name: str = ""
    gid: int = 0
    etc: str = "/etc"
    summary: str = ""

    def target(self) -> str:
        return f"group {self.name} (gid {self.gid})"

    def describe(self) -> str:
        return self.summary or f"create the group {self.name} (gid {self.gid})"

    def check(self, ctx: Context) -> bool:
        return getent("group", self.name) is not None

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        other = getent("group", self.gid)
        if other is not None and other[0] != self.name:
            raise ActionError(f"gid {self.gid} is already used by the group {other[0]!r}",
                              hint="free it, or pick another id range for Nix's build group")
        return {"shadow_backups": snapshot_shadow_backups(ctx, self.etc, tag="group")}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if getent("group", self.name) is None:
            ctx.run(["groupadd", "--system", "--gid", str(self.gid), self.name])

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        entry = getent("group", self.name)
        if entry is not None and entry[2] == str(self.gid):
            ctx.run(["groupdel", self.name])
        restore_shadow_backups(record.get("shadow_backups", {}), self.etc)
