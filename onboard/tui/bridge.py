"""From the core's events (emitted in a worker thread) to a screen (on the event loop).

The core calls the bridge as its `emit` from a worker thread. The bridge
- writes every event to the run's log file (still in the worker thread: no I/O on the loop),
- queues it, merging a flood: a newer progress event of an action replaces the queued one,
- wakes the screen with one `EventsPending` message while anything is queued (never one
  message per event),
and on the loop side hands the queue over at most `rate` times a second, so a flood of
progress costs at most ~30 renders a second whatever its size.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol, TextIO, cast

from onboard.tui.messages import EventsPending

if TYPE_CHECKING:
    from textual.message import Message
    from textual.timer import Timer

    from onboard.core.events import (ActionFailed, ActionFinished, ActionProgress, ActionStarted, Event,
                                     LogLine, Notice, PlanFinished, PlanStarted)

RATE = 30.0  # deliveries (and so renders) per second at most
#: in a flood, the emitting thread lets the UI thread run every this many events
YIELD_EVERY = 64
#: events of which only the newest per action matters: a queued one is replaced, not added
MERGEABLE = ("action-progress", "nix-progress")


class Target(Protocol):
    """What the bridge needs of a screen (tests pass a stand-in)."""

    def post_message(self, message: Message) -> bool: ...
    def set_timer(self, delay: float, callback: Callable[[], None]) -> Timer: ...


def action_id_of(event: Event) -> str:
    # Plan, check and other capabilities' events belong to no action: they have no action_id.
    return str(getattr(event, "action_id", ""))


def format_event(event: Event) -> str:
    """One readable log-file line per event (each kind is one event class)."""
    kind = event.kind
    stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
    aid = action_id_of(event)
    where = f" [{aid}]" if aid else ""
    if kind == "log":
        return f"{stamp}{where} {cast('LogLine', event).line}"
    if kind == "action-started":
        s = cast("ActionStarted", event)
        return f"{stamp}{where} start {s.index + 1}/{s.total}: {s.description}"
    if kind == "action-finished":
        f = cast("ActionFinished", event)
        return f"{stamp}{where} {f.status}" + (f": {f.message}" if f.message else "")
    if kind == "action-failed":
        x = cast("ActionFailed", event)
        return f"{stamp}{where} FAILED: {x.error}" + (f" (what to do: {x.hint})" if x.hint else "")
    if kind == "action-progress":
        p = cast("ActionProgress", event)
        total = f"/{p.total:.0f}" if p.total else ""
        return f"{stamp}{where} progress {p.done:.0f}{total} {p.unit} {p.text}".rstrip()
    if kind == "plan-started":
        ps = cast("PlanStarted", event)
        return f"{stamp} {ps.mode} {ps.plan}: {ps.total} actions"
    if kind == "plan-finished":
        pf = cast("PlanFinished", event)
        errs = "; ".join(pf.errors)
        return f"{stamp} {pf.plan}: {pf.status}" + (f" ({errs})" if errs else "")
    if kind == "notice":
        return f"{stamp}{where} note: {cast('Notice', event).message}"
    data = event.to_dict()
    data.pop("at", None)
    data.pop("kind", None)
    return f"{stamp} {kind} " + " ".join(f"{k}={v}" for k, v in data.items())


class EventBridge:
    def __init__(self, target: Target, deliver: Callable[[list[Event]], None], rate: float = RATE) -> None:
        self.target = target  # a Textual message pump (the screen); post_message is thread-safe
        self.deliver = deliver  # called on the loop with a list of events
        self.interval = 1.0 / rate
        self._lock = threading.Lock()
        self._queue: list[Event] = []
        self._progress_at: dict[tuple[str, str], int] = {}  # (kind, action_id) -> queued index
        self._signalled = False
        self._last = 0.0
        self._timer: Optional[Timer] = None
        self._log: Optional[TextIO] = None
        self.log_path: Optional[Path] = None
        self.received = 0
        self.merged = 0

    # -- worker side -------------------------------------------------------------------------
    def open_log(self, directory: Path, name: str) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"tui-{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        self._log = open(path, "a", encoding="utf-8")
        self.log_path = path
        return path

    def close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __call__(self, event: Event) -> None:
        if self._log is not None:
            try:
                self._log.write(format_event(event) + "\n")
                self._log.flush()
            except (OSError, ValueError):
                pass
        if self.received % YIELD_EVERY == YIELD_EVERY - 1:
            time.sleep(0)  # a flood must not starve the UI thread of the GIL
        with self._lock:
            self.received += 1
            kind = event.kind
            if kind in MERGEABLE:
                key = (kind, action_id_of(event))
                at = self._progress_at.get(key)
                if at is not None:
                    self._queue[at] = event
                    self.merged += 1
                    return
                self._progress_at[key] = len(self._queue)
            elif kind in ("action-finished", "action-failed", "action-started"):
                aid = action_id_of(event)
                for k in MERGEABLE:
                    self._progress_at.pop((k, aid), None)
            self._queue.append(event)
            if self._signalled:
                return
            self._signalled = True
        self.target.post_message(EventsPending(self))

    # -- loop side ---------------------------------------------------------------------------
    def take(self) -> list[Event]:
        with self._lock:
            events, self._queue = self._queue, []
            self._progress_at.clear()
            self._signalled = False
        return events

    def pending(self) -> None:
        """On EventsPending: deliver now, or once the rate allows."""
        if self._timer is not None:
            return
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            self._timer = self.target.set_timer(wait, self._timed)
            return
        self.flush()

    def _timed(self) -> None:
        self._timer = None
        self.flush()

    def flush(self) -> None:
        """Deliver everything queued now (also called when the run ends)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._last = time.monotonic()
        events = self.take()
        if events:
            self.deliver(events)
