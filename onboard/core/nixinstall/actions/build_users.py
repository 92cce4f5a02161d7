"""Nix's build users nixbld1..N. Names and uids are checked with getent before anything
changes; a collision is a clear error. Revert removes only the users onboard created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onboard.core.actions.system import getent, nologin_shell, restore_shadow_backups, snapshot_shadow_backups
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.events import ActionProgress


@register
@dataclass
class BuildUsers(Action):
    """Nix's build users nixbld1..N: no password, no login shell, home /var/empty."""

    kind = "build-users"
    needs_root = True
    prefix: str = "nixbld"
    count: int = 32
    first_uid: int = 30001
    group: str = "nixbld"
    gid: int = 30000
    home: str = "/var/empty"
    shell: str = ""
    etc: str = "/etc"
    summary: str = ""

    def names(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(1, self.count + 1)]

    def target(self) -> str:
        return f"users {self.prefix}1..{self.prefix}{self.count}"

    def describe(self) -> str:
        return self.summary or (f"create {self.count} build users {self.prefix}1..{self.prefix}{self.count} "
                                f"(uid {self.first_uid}..{self.first_uid + self.count - 1}, group {self.group})")

    def paths(self) -> list[str]:
        return [f"user {n}" for n in self.names()]

    def _gid(self) -> int:
        entry = getent("group", self.group)
        return int(entry[2]) if entry else self.gid

    def check(self, ctx: Context) -> bool:
        gid = self._gid()
        for n in self.names():
            e = getent("passwd", n)
            if e is None or int(e[3]) != gid:
                return False
        return True

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        existing, problems = user_plan_problems(self.prefix, self.count, self.first_uid, self._gid())
        if problems:
            raise ActionError("; ".join(problems[:5]),
                              hint="free those ids or names, or pick another id range for the build users")
        # useradd rewrites passwd-, group-, shadow-, gshadow- too (also when the group was there before)
        return {"existing_users": existing,
                "shadow_backups": snapshot_shadow_backups(ctx, self.etc, tag="users")}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        shell = self.shell or nologin_shell()
        gid = self._gid()
        for i, n in enumerate(self.names(), 1):
            if getent("passwd", n) is None:
                ctx.run(["useradd", "--system", "--no-create-home", "--no-log-init", "--no-user-group",
                         "--home-dir", self.home, "--shell", shell, "--uid", str(self.first_uid + i - 1),
                         "--gid", str(gid), "--groups", self.group, "--comment", f"Nix build user {i}",
                         "--password", "!", n])
            ctx.emit(ActionProgress(action_id=ctx.action_id, done=i, total=self.count, unit="users", text=n))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "existing_users" not in record:
            return
        keep = set(record["existing_users"])
        for i, n in enumerate(self.names(), 1):
            if n in keep:
                continue
            e = getent("passwd", n)
            if e is not None and int(e[2]) == self.first_uid + i - 1:
                ctx.run(["userdel", n])
        restore_shadow_backups(record.get("shadow_backups", {}), self.etc)


def user_plan_problems(prefix: str, count: int, first_uid: int, gid: int) -> tuple[list[str], list[str]]:
    """Which build users already exist (and fit), and every id or name collision."""
    existing, problems = [], []
    for i in range(1, count + 1):
        name, uid = f"{prefix}{i}", first_uid + i - 1
        e = getent("passwd", name)
        if e is not None:
            if int(e[3]) != gid:
                problems.append(f"the user {name} exists but its group is not the build group (gid {gid})")
            else:
                existing.append(name)
            continue
        other = getent("passwd", uid)
        if other is not None:
            problems.append(f"uid {uid} (for {name}) is already used by the user {other[0]!r}")
    return existing, problems
