"""Events the core emits. Front ends (CLI, TUI) render them; the core never prints.

Every event is a small dataclass with a `kind` string and a `to_dict()` for
`--json` streams and logs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional


@dataclass
class Event:
    kind = "event"
    at: float = field(default_factory=time.time, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind
        return data


@dataclass
class PlanStarted(Event):
    kind = "plan-started"
    plan: str = ""
    total: int = 0
    mode: str = "apply"  # apply | revert


@dataclass
class ActionStarted(Event):
    kind = "action-started"
    index: int = 0
    total: int = 0
    action_id: str = ""
    description: str = ""


@dataclass
class ActionProgress(Event):
    kind = "action-progress"
    action_id: str = ""
    done: float = 0
    total: Optional[float] = None
    unit: str = ""  # "bytes", "builds", "paths", ""
    text: str = ""
    #: nothing is arriving (text says for how long): shown even where progress is not
    stalled: bool = False


@dataclass
class LogLine(Event):
    kind = "log"
    action_id: str = ""
    line: str = ""
    level: str = "info"  # debug | info | warn | error


@dataclass
class ActionFinished(Event):
    kind = "action-finished"
    action_id: str = ""
    status: str = "done"  # done | skipped | reverted | kept
    message: str = ""


@dataclass
class ActionFailed(Event):
    kind = "action-failed"
    action_id: str = ""
    error: str = ""
    hint: str = ""


@dataclass
class PlanFinished(Event):
    kind = "plan-finished"
    plan: str = ""
    status: str = "ok"  # ok | failed | cancelled
    errors: list[str] = field(default_factory=list)


@dataclass
class Notice(Event):
    """Something the user should read: a kept file, a fallback, a warning."""

    kind = "notice"
    message: str = ""
    level: str = "warn"
    action_id: str = ""


Emitter = Callable[[Event], None]


def discard(event: Event) -> None:
    """An emitter that drops everything."""


class Collector:
    """An emitter that keeps every event: handy for tests and headless callers."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cls: type) -> list:
        return [e for e in self.events if isinstance(e, cls)]
