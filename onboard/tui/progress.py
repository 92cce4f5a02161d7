"""What a run looks like so far, folded from the core's events (no textual: testable alone).

The Apply, Uninstall and revert screens feed every event batch into a `RunModel` and draw
from it. Nix build progress arrives as ActionProgress events (unit "builds", "bytes",
"paths") and as events of the Nix log parser; both end up as counters shown as
"N of M built | X of Y MB downloaded".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Optional, cast

if TYPE_CHECKING:
    from onboard.core.events import (ActionFailed, ActionFinished, ActionProgress, ActionStarted, Event,
                                     LogLine, Notice, PlanFinished, PlanStarted)
    from onboard.core.profiles.nixlog import NixProgress
    from onboard.tui.state import Row

TAIL = 20  # log lines shown on the failure screen
LOG_KEEP = 5000  # log lines kept in memory for the log pane (the log file has them all)

# status words: never colour alone
WAITING, RUNNING, DONE, SKIPPED, FAILED, REVERTED, CANCELLED = (
    "waiting", "running", "done", "skipped", "failed", "reverted", "cancelled")
WORDS = {
    WAITING: "WAIT", RUNNING: "RUN", DONE: "DONE", SKIPPED: "SKIP", FAILED: "FAIL",
    REVERTED: "UNDONE", CANCELLED: "STOP", "already": "SKIP", "would-do": "TODO",
    "kept": "KEPT", "note": "NOTE",
}


def status_word(status: str) -> str:
    return WORDS.get(status, status.upper()[:6])


@dataclass
class ActionView:
    id: str
    index: int
    description: str
    paths: list[str] = field(default_factory=list)
    status: str = WAITING
    done: float = 0.0
    total: Optional[float] = None
    unit: str = ""
    text: str = ""
    message: str = ""

    @property
    def fraction(self) -> Optional[float]:
        if self.status in (DONE, SKIPPED, REVERTED):
            return 1.0
        if self.total:
            return max(0.0, min(1.0, self.done / self.total))
        return None


@dataclass
class Failure:
    action_id: str
    description: str
    error: str
    hint: str = ""


@dataclass
class Counter:
    done: float = 0.0
    total: float = 0.0


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f}"


class RunModel:
    """Everything the run screens show, updated event by event."""

    def __init__(self, rows: Iterable[Row] = (), mode: str = "apply") -> None:
        self.mode = mode
        self.plan = ""
        self.total = 0
        self.actions: dict[str, ActionView] = {}
        self.order: list[str] = []
        self.status = "idle"  # idle | running | ok | failed | cancelled
        self.failures: list[Failure] = []
        self.errors: list[str] = []
        self.notices: list[str] = []
        self.log: deque[tuple[str, str, str]] = deque(maxlen=LOG_KEEP)  # (action_id, level, line)
        self.log_total = 0
        self.counters: dict[str, Counter] = {}
        self.current = ""
        self.nix: Optional[NixProgress] = None  # the latest Nix progress event
        for i, row in enumerate(rows):
            self._add(str(row.get("id", i)), i, str(row.get("description", "")), list(row.get("paths", [])))
        self.total = len(self.order)

    # -- folding ---------------------------------------------------------------------------
    def _add(self, action_id: str, index: int, description: str, paths: Optional[list[str]] = None
             ) -> ActionView:
        view = self.actions.get(action_id)
        if view is None:
            view = self.actions[action_id] = ActionView(action_id, index, description, paths or [])
            self.order.append(action_id)
        elif description:
            view.description = description
        return view

    def feed_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.feed(event)

    def feed(self, event: Event) -> None:
        # Each kind is one event class (the core's events and the Nix log parser's).
        kind = event.kind
        view: Optional[ActionView]
        if kind == "plan-started":
            started = cast("PlanStarted", event)
            self.plan = started.plan
            self.status = "running"
            if started.mode in ("apply", "revert"):
                self.mode = started.mode
            self.total = max(self.total, started.total)
        elif kind == "action-started":
            action = cast("ActionStarted", event)
            view = self._add(action.action_id, action.index, action.description)
            view.status, view.done, view.total, view.text = RUNNING, 0.0, None, ""
            self.current = action.action_id
        elif kind == "action-progress":
            progress = cast("ActionProgress", event)
            view = self.actions.get(progress.action_id)
            if view is not None:
                view.done, view.total, view.unit, view.text = (progress.done, progress.total, progress.unit,
                                                               progress.text)
            if progress.unit:
                c = self.counters.setdefault(progress.unit, Counter())
                c.done = progress.done
                c.total = progress.total or c.total
        elif kind == "log":
            line = cast("LogLine", event)
            self._log(line.action_id, line.level, line.line)
        elif kind == "action-finished":
            finished = cast("ActionFinished", event)
            view = self.actions.get(finished.action_id) or self._add(finished.action_id, len(self.order), "")
            view.status = {"done": DONE, "skipped": SKIPPED, "already": SKIPPED, "reverted": REVERTED,
                           "kept": DONE}.get(finished.status, finished.status)
            view.message = finished.message
            if self.current == finished.action_id:
                self.current = ""
        elif kind == "action-failed":
            failed = cast("ActionFailed", event)
            view = self.actions.get(failed.action_id) or self._add(failed.action_id, len(self.order), "")
            view.status = FAILED
            view.message = failed.error
            self.failures.append(Failure(failed.action_id, view.description, failed.error, failed.hint))
            self._log(failed.action_id, "error", f"failed: {failed.error}")
        elif kind == "notice":
            notice = cast("Notice", event)
            self.notices.append(notice.message)
            self._log(notice.action_id, notice.level, "note: " + notice.message)
        elif kind == "nix-progress":
            nix = self.nix = cast("NixProgress", event)
            view = self.actions.get(nix.action_id)
            if view is not None:
                view.text = nix.summary()
        elif kind == "plan-finished":
            ended = cast("PlanFinished", event)
            self.status = ended.status
            self.errors.extend(e for e in ended.errors if e not in self.errors)
            if ended.status == "cancelled":
                for view in self.actions.values():
                    if view.status == WAITING:
                        view.status = CANCELLED
        else:
            self._feed_other(event)

    def _feed_other(self, event: Event) -> None:
        """Events of other capabilities (Nix log parser and the like): counters if they carry
        done/expected numbers, otherwise a log line, so nothing is silently lost."""
        data = event.to_dict()
        unit = data.get("unit") or data.get("activity") or ""
        done = data.get("done")
        total = data.get("expected", data.get("total"))
        if unit and isinstance(done, (int, float)):
            c = self.counters.setdefault(str(unit), Counter())
            c.done = float(done)
            if isinstance(total, (int, float)):
                c.total = float(total)
            return
        text = data.get("line") or data.get("text") or data.get("msg") or data.get("message")
        if text:
            self._log(str(data.get("action_id", "")), str(data.get("level", "info")), str(text))

    def _log(self, action_id: str, level: str, line: str) -> None:
        self.log.append((action_id, level, line))
        self.log_total += 1

    # -- reading -----------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        return sum(1 for v in self.actions.values() if v.status in (DONE, SKIPPED, REVERTED, FAILED))

    @property
    def failure(self) -> Optional[Failure]:
        return self.failures[0] if self.failures else None

    def tail(self, n: int = TAIL) -> list[str]:
        return [line for _, _, line in list(self.log)[-n:]]

    def views(self) -> list[ActionView]:
        return [self.actions[i] for i in self.order]

    def changed(self) -> list[ActionView]:
        return [v for v in self.views() if v.status in (DONE, REVERTED)]

    def nix_summary(self) -> str:
        """devenv-style: "3 of 10 built | 1.2 of 40.0 MB downloaded"."""
        parts = []
        if self.nix is not None:
            text = self.nix.summary()
            if text:
                parts.append(text)
        for unit, c in sorted(self.counters.items()):
            if unit == "bytes":
                parts.append(f"{_mb(c.done)} of {_mb(c.total)} MB downloaded" if c.total
                             else f"{_mb(c.done)} MB downloaded")
            else:
                verb = {"builds": "built", "paths": "copied", "downloads": "downloaded",
                        "files": "unpacked"}.get(unit, unit)
                parts.append(f"{c.done:.0f} of {c.total:.0f} {verb}" if c.total else f"{c.done:.0f} {verb}")
        return " | ".join(parts)
