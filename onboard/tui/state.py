"""What the app remembers between screens (no textual, no core imports at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union, cast

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.doctor import CheckFinished, CheckResult
    from onboard.core.engine.plan import Outcome, Plan
    from onboard.core.profiles.loader import ProfileInfo
    from onboard.core.teamconfig import TeamConfig
    from onboard.tui.progress import Failure

    #: one row of a plan's or an uninstall's preview, as the core gives it (id, description,
    #: paths, status, ...)
    Row = dict[str, Any]

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


def check_view(obj: Union[CheckResult, CheckFinished, dict[str, Any]]) -> CheckView:
    """A CheckResult, a CheckFinished event or a dict, as a CheckView."""
    data: dict[str, Any]
    if isinstance(obj, dict):
        data = obj
    elif hasattr(obj, "result"):  # a CheckFinished event: its result is the CheckResult as a dict
        data = cast("CheckFinished", obj).result
    else:  # a CheckResult
        data = {"id": obj.id, "title": obj.title, "status": obj.status, "summary": obj.summary,
                "fix": obj.fix, "details": obj.details}
    get = data.get
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
    failure: Optional[Failure] = None
    errors: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    log_path: str = ""
    answers_path: str = ""
    receipt_path: str = ""
    can_revert: bool = False
    profile: str = ""
    outcome: Optional[Outcome] = None


@dataclass
class AppState:
    demo_dir: str = ""
    choices: Optional[Choices] = None  # made when first needed
    mode_chosen: bool = False  # the user picked the install mode (else the recommendation is used)
    checks: list[CheckView] = field(default_factory=list)
    checks_error: str = ""
    recommendation: Optional[tuple[str, str]] = None
    profiles: Optional[list[ProfileInfo]] = None
    profiles_error: str = ""
    plan: Optional[Plan] = None
    rows: list[Row] = field(default_factory=list)
    last_run: Optional[RunSummary] = None
    team: Optional[TeamConfig] = None  # the team config, once loaded
    team_error: str = ""
    team_seeded: bool = False  # the team config has filled in the choices (choices.team_applied)
