"""Rendering the core's events on the terminal: one line per step (plain, for pipes, CI and
NO_COLOR; --json sends these to stderr) or a live rich progress view. `Output.reporter()`
chooses one."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TextIO

from onboard.core import paths
from onboard.core.events import (ActionFailed, ActionFinished, ActionProgress, ActionStarted, Event,
                                 LogLine, Notice, PlanFinished, PlanStarted)

if TYPE_CHECKING:
    from rich.progress import TaskID

    from onboard.cli.output import Output


class Reporter:
    """Renders core events. Keeps the last 20 log lines to show when something fails."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.descriptions: dict[str, str] = {}
        self.failures: list[ActionFailed] = []
        self.notices: list[str] = []
        self.modes: dict[str, str] = {}  # plan -> "apply" | "preview" | "revert", from PlanStarted
        self._log: Optional[TextIO] = None

    def open_log(self, name: str) -> Path:
        path = paths.log_dir() / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        paths.make_owned_dir(paths.state_dir())
        path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(path, "a", encoding="utf-8")
        self.out.log_path = path
        return path

    def close(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def _write_log(self, event: Event) -> None:
        if self._log:
            self._log.write(json.dumps(event.to_dict(), default=str) + "\n")
            self._log.flush()

    def __call__(self, event: Event) -> None:
        self._write_log(event)
        if isinstance(event, PlanStarted):
            self.modes[event.plan] = event.mode
        elif isinstance(event, ActionStarted):
            self.descriptions[event.action_id] = event.description
        elif isinstance(event, LogLine):
            self.out.tail.append(event.line)
        elif isinstance(event, ActionFailed):
            self.failures.append(event)
        elif isinstance(event, Notice):
            self.notices.append(event.message)
        self.render(event)

    def render(self, event: Event) -> None:
        raise NotImplementedError

    def failure_report(self) -> None:
        for f in self.failures:
            what = self.descriptions.get(f.action_id, f.action_id)
            self.out.info(f"failed: {what}\n  why: {f.error}")
            if f.hint:
                self.out.info(f"  what to do: {f.hint}")
        if self.failures and self.out.tail:
            self.out.info("  last log lines:")
            for line in list(self.out.tail)[-20:]:
                self.out.info("    " + line)
        if self.out.log_path:
            self.out.info(f"  full log: {self.out.log_path}")


class PlainReporter(Reporter):
    """One line per step, no escape codes: for pipes, CI and NO_COLOR."""

    def __init__(self, out: Output) -> None:
        super().__init__(out)
        self._stall_said: dict[str, float] = {}

    def render(self, event: Event) -> None:
        o = self.out
        if isinstance(event, ActionStarted):
            o.info(f"[{event.index + 1}/{event.total}] {event.description}")
        elif isinstance(event, ActionFinished):
            if event.status not in ("done",):
                o.info(f"      {event.status}" + (f": {event.message}" if event.message else ""))
        elif isinstance(event, ActionFailed):
            o.info(f"      FAILED: {event.error}")
        elif isinstance(event, ActionProgress):
            if event.stalled and not o.verbose:
                # a log without live updates: say it at once, then every 10 seconds
                last = self._stall_said.get(event.action_id, -10.0)
                now = time.monotonic()
                if now - last >= 10:
                    self._stall_said[event.action_id] = now
                    o.info(f"      {event.text}")
            elif o.verbose and event.text:
                o.info(f"      {event.text}")
        elif isinstance(event, LogLine):
            if o.verbose or event.level in ("warn", "error"):
                o.info(f"      | {event.line}")
        elif isinstance(event, Notice):
            o.info(f"  note: {event.message}")
        elif isinstance(event, PlanFinished):
            if self.modes.get(event.plan) == "revert":
                o.info(f"{event.plan}: " + ("undone" if event.status == "ok" else f"undo {event.status}"))
            else:
                o.info(f"{event.plan}: {event.status}")


class JsonReporter(PlainReporter):
    """With --json, stdout holds only the final document; progress goes to stderr as plain lines."""


class RichReporter(Reporter):
    def __init__(self, out: Output) -> None:
        super().__init__(out)
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn, \
            TimeElapsedColumn

        self.console = Console(stderr=True, no_color=not out.color)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                                 console=self.console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.overall: Optional[TaskID] = None
        self._DownloadColumn = DownloadColumn

    def render(self, event: Event) -> None:
        p = self.progress
        if isinstance(event, PlanStarted):
            p.start()
            self.overall = p.add_task(f"[bold]{event.plan}[/]", total=max(event.total, 1), detail="")
        elif isinstance(event, ActionStarted):
            self.tasks[event.action_id] = p.add_task(f"  {event.description}", total=None, detail="")
        elif isinstance(event, ActionProgress):
            t = self.tasks.get(event.action_id)
            if t is not None:
                detail = event.text or (f"{event.done:.0f}/{event.total:.0f} {event.unit}"
                                        if event.total else "")
                p.update(t, completed=event.done, total=event.total, detail=detail)
        elif isinstance(event, LogLine):
            if self.out.verbose:
                self.console.print(f"    | {event.line}", markup=False, highlight=False)
        elif isinstance(event, ActionFinished):
            t = self.tasks.get(event.action_id)
            if t is not None:
                p.update(t, total=1, completed=1, detail=event.status)
            if self.overall is not None:
                p.advance(self.overall)
        elif isinstance(event, ActionFailed):
            t = self.tasks.get(event.action_id)
            if t is not None:
                p.update(t, detail="FAILED")
        elif isinstance(event, Notice):
            self.console.print(f"  note: {event.message}", markup=False)
        elif isinstance(event, PlanFinished):
            p.stop()

    def close(self) -> None:
        try:
            self.progress.stop()
        finally:
            super().close()
