"""A line in the plan that says something the user should know (a fallback, a missing tool).
It changes nothing and emits a Notice when checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from onboard.core.engine.action import Action, Context, register


@register
@dataclass
class PlanNote(Action):
    """Something the plan wants the user to read. Never changes the machine."""

    kind = "note"
    changes_machine = False
    message: str = ""
    level: str = "warn"

    def id(self) -> str:
        return f"{self.kind}:{hashlib.sha256(self.message.encode()).hexdigest()[:12]}"

    def describe(self) -> str:
        return "note: " + self.message

    def paths(self) -> list[str]:
        return []

    def check(self, ctx: Context) -> bool:
        ctx.notice(self.message, level=self.level)
        return True

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        return None

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        return None
