"""What the app remembers between screens (no textual, no core imports at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

CHECK_WORDS = {"ok": "OK", "warn": "WARN", "fail": "FAIL", "running": "...."}


@dataclass
class CheckView:
    id: str
    title: str
    status: str  # ok | warn | fail | running
    summary: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def word(self) -> str:
        return CHECK_WORDS.get(self.status, self.status.upper())


def check_view(obj: Any) -> CheckView:
    """A CheckResult, a CheckFinished event or a dict, as a CheckView."""
    if hasattr(obj, "result") and not callable(getattr(obj, "result")):
        obj = obj.result
    if isinstance(obj, dict):
        get = obj.get
    else:
        def get(k: str, d: Any = None) -> Any:
            return getattr(obj, k, d)
    return CheckView(id=str(get("id", "")), title=str(get("title", "") or get("id", "")),
                     status=str(get("status", "warn")), summary=str(get("summary", "") or ""),
                     fix=str(get("fix", "") or ""), details=dict(get("details", {}) or {}))


@dataclass
class RunSummary:
    """How a run ended, for the Done and failure screens."""

    kind: str  # apply | revert | uninstall
    title: str
    status: str  # ok | failed | cancelled
    changed: list[tuple[str, str]] = field(default_factory=list)  # (status word, description)
    total: int = 0
    failure: Any = None  # progress.Failure
    errors: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    log_path: str = ""
    answers_path: str = ""
    receipt_path: str = ""
    can_revert: bool = False
    profile: str = ""
    outcome: Any = None


@dataclass
class AppState:
    demo_dir: str = ""
    choices: Any = None  # onboard.core.choices.Choices, made when first needed
    mode_chosen: bool = False  # the user picked the install mode (else the recommendation is used)
    checks: list[CheckView] = field(default_factory=list)
    checks_error: str = ""
    recommendation: Optional[tuple[str, str]] = None
    profiles: Optional[list] = None
    profiles_error: str = ""
    plan: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    last_run: Optional[RunSummary] = None
    team: Any = None  # the team config (onboard.core.teamconfig.TeamConfig), once loaded
    team_error: str = ""
    team_seeded: bool = False  # the team config has filled in the choices (choices.team_applied)
