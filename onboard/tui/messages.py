"""Messages that worker threads post to screens. Dataclasses; floods merge (`can_replace`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from textual.message import Message


@dataclass
class EventsPending(Message, bubble=False):
    """Core events are waiting in a bridge; the screen takes them all at once."""

    bridge: Any

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsPending) and message.bridge is self.bridge


@dataclass
class ChecksFinished(Message, bubble=False):
    results: list  # of CheckView
    mode: str = ""
    reason: str = ""
    error: str = ""  # the checks could not run at all


@dataclass
class TeamLoaded(Message, bubble=False):
    team: Any  # TeamConfig or None
    error: str = ""


@dataclass
class ProfilesLoaded(Message, bubble=False):
    profiles: list  # of ProfileInfo-like objects (name, description)
    error: str = ""


@dataclass
class PlanReady(Message, bubble=False):
    plan: Any
    rows: list[dict[str, Any]]


@dataclass
class PlanFailed(Message, bubble=False):
    error: str
    hint: str = ""


@dataclass
class RunFinished(Message, bubble=False):
    """A run (apply, revert, uninstall) ended: status ok | failed | cancelled."""

    status: str
    errors: list[str] = field(default_factory=list)
    outcome: Any = None
    log_path: str = ""
    answers_path: str = ""


@dataclass
class UninstallPlanned(Message, bubble=False):
    plan: Any
    rows: list[dict[str, Any]]
    error: str = ""


@dataclass
class GenerationsLoaded(Message, bubble=False):
    state: Any  # a generations.ProjectState
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
    extra: Optional[dict] = None
