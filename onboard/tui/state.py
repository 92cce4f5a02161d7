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
    project: str = ""  # the project folder of the answers
    hook: str = ""  # direnv | lorri | ""
    built: bool = False  # the profile's environment was built (or already fresh) in this run


@dataclass
class PlanPrep:
    """A plan being made (or made) in the background for one set of answers (`key`): started as
    soon as the answers are known and again after each change, so the Plan screen has it at
    once. Only a whole plan with its preview is ever `ready`."""

    key: str  # the answers it is for (Choices as sorted JSON)
    choices: Optional[Choices] = None  # a copy of those answers, planned from
    status: str = "waiting"  # waiting (for the one before it) | making | ready | failed
    plan: Optional[Plan] = None
    rows: list[Row] = field(default_factory=list)
    error: str = ""
    hint: str = ""
    made_at: float = 0.0  # time.monotonic() when it became ready or failed


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
    team_loaded: bool = False  # the search for a team config is over (found or not)
    interrupted: bool = False  # Ctrl+C during a run: leave (exit 130) once it has stopped
    prep: Optional[PlanPrep] = None  # the plan for the latest answers, made in the background

    def check(self, check_id: str) -> Optional[CheckView]:
        return next((c for c in self.checks if c.id == check_id), None)

    def unreachable(self, check_id: str) -> str:
        """The doctor's summary when `check_id` (net-releases, net-cache) is not OK, else ""."""
        c = self.check(check_id)
        return c.summary or "not reachable" if c is not None and c.status != "ok" else ""

    def network_warning(self, rows: list[Row]) -> str:
        """What the plan must say before it starts a step that needs a host the checks could
        not reach ("" when nothing does)."""
        todo = {str(r.get("id", "")).split(":", 1)[0] for r in rows if r.get("status") == "would-do"}
        out = []
        releases = self.unreachable("net-releases")
        if "nix-download" in todo and releases:
            out.append(f"Warning: the download step needs the Nix release host, which the checks could not "
                       f"reach ({releases}). Esc goes back: in Choices pick the team mirror or a local "
                       "tarball, or set HTTPS_PROXY and start again.")
        cache = self.unreachable("net-cache")
        if "profile-env" in todo and cache:
            out.append(f"Note: the binary cache is not reachable ({cache}): the environment's packages are "
                       "built from source on this machine, which can take from minutes to hours.")
        return "\n".join(out)
