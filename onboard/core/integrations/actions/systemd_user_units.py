"""User unit files, enabled with `systemctl --user`, disabled and removed on revert."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from onboard.core.actions.files import file_snapshot, revert_file, write_with_parents
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import read_bytes, sha256_bytes


def _always(content: bytes) -> Callable[[bytes], bytes]:
    """What revert_file expects the file to hold: this unit's content, whatever is there now."""
    return lambda _old: content


@register
@dataclass
class SystemdUserUnits(Action):
    """Unit files in the user's systemd dir, `enable --now`-ed; disabled and removed on revert."""

    kind = "systemd-user-units"
    unit_dir: str = ""
    units: dict[str, str] = field(default_factory=dict)  # file name -> content
    enable: list[str] = field(default_factory=list)
    summary: str = ""

    def target(self) -> str:
        return self.unit_dir

    def id(self) -> str:
        return f"{self.kind}:{self.unit_dir}#{','.join(sorted(self.units))}"

    def describe(self) -> str:
        return self.summary or f"install and enable {', '.join(self.enable)} (systemd user units)"

    def paths(self) -> list[str]:
        return [os.path.join(self.unit_dir, n) for n in self.units]

    def _systemctl(self, ctx: Context, *args: str, check: bool = True) -> None:
        ctx.run(["systemctl", "--user", *args], check=check)

    def check(self, ctx: Context) -> bool:
        for name, content in self.units.items():
            if read_bytes(os.path.join(self.unit_dir, name)) != content.encode():
                return False
        for unit in self.enable:
            try:
                r = subprocess.run(["systemctl", "--user", "is-enabled", unit], capture_output=True,
                                   timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                return False
            if r.returncode != 0:
                return False
        return True

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"files": {n: file_snapshot(ctx, os.path.join(self.unit_dir, n)) for n in self.units}}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if shutil.which("systemctl") is None:
            raise ActionError("systemctl is not available", hint="start `lorri daemon` yourself instead")
        for name, content in self.units.items():
            rec = record["files"][name]
            write_with_parents(Path(rec["path"]), content.encode(), rec, 0o644)
        self._systemctl(ctx, "daemon-reload")
        if self.enable:
            self._systemctl(ctx, "enable", "--now", *self.enable)

    def settle(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        for rec in record.get("files", {}).values():
            data = read_bytes(rec["path"])
            rec["post"] = sha256_bytes(data) if data is not None else None
        return {}

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "files" not in record:
            return  # failed before its snapshot: nothing was changed
        have = shutil.which("systemctl") is not None
        if have and self.enable:
            self._systemctl(ctx, "disable", "--now", *self.enable, check=False)
        # the file whose write created the directories goes last, so they can go with it
        files = record.get("files", {})
        for name in sorted(files, key=lambda n: len(files[n].get("created_dirs") or [])):
            content = self.units.get(name, "").encode()
            revert_file(ctx, files[name], expected=_always(content))
        if have:
            self._systemctl(ctx, "daemon-reload", check=False)
