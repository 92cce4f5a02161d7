"""Messages that worker threads post to screens. Dataclasses; floods merge (`can_replace`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from textual.message import Message

if TYPE_CHECKING:
    from onboard.core.engine.plan import Outcome, Plan
    from onboard.core.profiles.loader import ProfileInfo
    from onboard.core.teamconfig import TeamConfig
    from onboard.core.uninstall import UninstallPlan
    from onboard.tui.bridge import EventBridge
    from onboard.tui.generations import ProjectState
    from onboard.tui.state import CheckView, PlanPrep, Row


@dataclass
class EventsPending(Message, bubble=False):
    """Core events are waiting in a bridge; the screen takes them all at once."""

    bridge: EventBridge

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending) and message.bridge is self.bridge


@dataclass
class ChecksFinished(Message, bubble=False):
    results: list[CheckView]
    mode: str = ""
    reason: str = ""
    error: str = ""  # the checks could not run at all


@dataclass
class TeamLoaded(Message, bubble=False):
    team: Optional[TeamConfig]
    error: str = ""


@dataclass
class ProfilesLoaded(Message, bubble=False):
    profiles: list[ProfileInfo]
    error: str = ""


@dataclass
class PlanReady(Message, bubble=False):
    plan: Plan
    rows: list[Row]


@dataclass
class PlanFailed(Message, bubble=False):
    error: str
    hint: str = ""


@dataclass
class PlanMade(Message, bubble=False):
    """The app's background plan maker finished one `PlanPrep`: "ready" or "failed"."""

    prep: PlanPrep
    status: str


@dataclass
class RunFinished(Message, bubble=False):
    """A run (apply, revert, uninstall) ended: status ok | failed | cancelled."""

    status: str
    errors: list[str] = field(default_factory=list)
    outcome: Optional[Outcome] = None
    log_path: str = ""
    answers_path: str = ""


@dataclass
class UninstallPlanned(Message, bubble=False):
    plan: Optional[UninstallPlan]
    rows: list[Row]
    error: str = ""


@dataclass
class GenerationsLoaded(Message, bubble=False):
    state: Optional[ProjectState]
    error: str = ""


@dataclass
class SwitchPreview(Message, bubble=False):
    """What a switch or rollback would change, ready to confirm."""

    action: str  # "switch" | "rollback"
    target: str
    changes: list[str]
    error: str = ""


@dataclass
class SwitchDone(Message, bubble=False):
    action: str
    target: str
    ok: bool
    message: str = ""
    log: list[str] = field(default_factory=list)
    extra: Optional[dict[str, object]] = None
