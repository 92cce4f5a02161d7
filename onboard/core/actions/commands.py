"""Commands with an explicit undo, for changes that are not files (e.g. `direnv allow`)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

from onboard.core.engine.action import Action, Context, register


@register
@dataclass
class RunCommand(Action):
    kind = "command"
    argv: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    #: a command whose success means "already done" (empty: never already done)
    probe: list[str] = field(default_factory=list)
    summary: str = ""
    cwd: str = ""
    ident: str = ""

    def id(self) -> str:
        return f"{self.kind}:{self.ident or ' '.join(self.argv)}"

    def describe(self) -> str:
        return self.summary or "run " + " ".join(self.argv)

    def paths(self) -> list[str]:
        return [" ".join(self.argv)]

    def check(self, ctx: Context) -> bool:
        if not self.probe:
            return False
        try:
            return subprocess.run(self.probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=self.cwd or None, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        ctx.run(self.argv, cwd=self.cwd or None)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if self.undo:
            ctx.run(self.undo, cwd=self.cwd or None)
