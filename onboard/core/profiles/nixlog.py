"""Nix's `--log-format internal-json` turned into onboard's progress events.

Every line Nix writes on stderr with that option is `@nix ` followed by one JSON
object (see the activity and result types below); anything else is a plain line and
passes through as a log line. The parser keeps the state of Nix's activities and
reports, after every line, what changed:

- builds done / expected / running / failed, from the progress result of the single
  "builds" activity (what Nix's own progress bar shows as "N/M built");
- store paths copied (substituted) / expected and their bytes, from "copyPaths" and
  the per-path "copyPath" activities;
- downloads and their bytes, from "fileTransfer" activities;
- the current build's log lines and phases;
- errors (msg level 0), kept verbatim without Nix's colour codes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from onboard.core.events import ActionProgress, Event, LogLine

PREFIX = "@nix "

# activity types
ACT_UNKNOWN = 0
ACT_COPY_PATH = 100
ACT_FILE_TRANSFER = 101
ACT_REALISE = 102
ACT_COPY_PATHS = 103
ACT_BUILDS = 104
ACT_BUILD = 105
ACT_OPTIMISE_STORE = 106
ACT_VERIFY_PATHS = 107
ACT_SUBSTITUTE = 108
ACT_QUERY_PATH_INFO = 109
ACT_POST_BUILD_HOOK = 110
ACT_BUILD_WAITING = 111

# result types
RES_FILE_LINKED = 100
RES_BUILD_LOG_LINE = 101
RES_UNTRUSTED_PATH = 102
RES_CORRUPTED_PATH = 103
RES_SET_PHASE = 104
RES_PROGRESS = 105
RES_SET_EXPECTED = 106
RES_POST_BUILD_LOG_LINE = 107

# verbosity levels of msg / start
LVL_ERROR = 0
LVL_WARN = 1
LVL_NOTICE = 2
LVL_INFO = 3
LVL_TALKATIVE = 4

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def store_name(path: str) -> str:
    """'/nix/store/<hash>-hello-2.12.drv' -> 'hello-2.12'."""
    base = path.rsplit("/", 1)[-1]
    if base.endswith(".drv"):
        base = base[:-4]
    if len(base) > 33 and base[32] == "-":
        base = base[33:]
    return base


@dataclass
class NixProgress(Event):
    """The whole picture of a Nix run after a change: what a front end draws as
    "N of M built | N of M downloaded"."""

    kind = "nix-progress"
    action_id: str = ""
    builds_done: int = 0
    builds_expected: int = 0
    builds_running: int = 0
    builds_failed: int = 0
    paths_done: int = 0
    paths_expected: int = 0
    bytes_done: int = 0
    bytes_expected: int = 0
    downloads_done: int = 0
    downloads_expected: int = 0
    download_bytes_done: int = 0
    download_bytes_expected: int = 0
    running: list[str] = field(default_factory=list)  # names of the builds running now
    phase: str = ""  # the phase of the most recent build that reported one

    def summary(self) -> str:
        parts = []
        if self.builds_expected or self.builds_done:
            parts.append(f"{self.builds_done} of {self.builds_expected} built")
        if self.paths_expected or self.downloads_expected:
            n, m = (self.paths_done, self.paths_expected) if self.paths_expected \
                else (self.downloads_done, self.downloads_expected)
            text = f"{n} of {m} downloaded"
            if self.bytes_expected or self.download_bytes_expected:
                done = self.bytes_done or self.download_bytes_done
                total = self.bytes_expected or self.download_bytes_expected
                text += f" ({human_bytes(done)} of {human_bytes(total)})"
            parts.append(text)
        if self.running:
            parts.append("building " + ", ".join(self.running[:3])
                         + (f" +{len(self.running) - 3}" if len(self.running) > 3 else ""))
        return " | ".join(parts)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


@dataclass
class Activity:
    id: int
    type: int
    text: str = ""
    parent: int = 0
    fields: list[Any] = field(default_factory=list)
    done: int = 0
    expected: int = 0
    running: int = 0
    failed: int = 0
    phase: str = ""


class NixLogParser:
    """Feed it Nix's stderr line by line; it returns the events each line causes."""

    def __init__(self, action_id: str = "") -> None:
        self.action_id = action_id
        self.activities: dict[int, Activity] = {}
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.build_logs: dict[str, list[str]] = {}  # build name -> its log lines
        self.builds_done = self.builds_expected = self.builds_running = self.builds_failed = 0
        self.paths_done = self.paths_expected = 0
        self.expected_bytes: dict[int, int] = {}  # per activity type: setExpected totals
        self.copy_bytes: dict[int, tuple[int, int]] = {}  # copyPath id -> (done, expected)
        self.transfer_bytes: dict[int, tuple[int, int]] = {}  # fileTransfer id -> (done, expected)
        self.downloads_started = self.downloads_finished = 0
        self.finished_builds: list[str] = []
        self.last_phase = ""
        self._last_snapshot: Optional[tuple] = self._snapshot(self.progress())

    # -- input -------------------------------------------------------------------------
    def feed(self, line: str) -> list[Event]:
        line = line.rstrip("\n")
        if not line.startswith(PREFIX):
            text = strip_ansi(line).rstrip()
            if not text:
                return []
            return [LogLine(action_id=self.action_id, line=text, level="info")]
        try:
            msg = json.loads(line[len(PREFIX):])
        except ValueError:
            return [LogLine(action_id=self.action_id, line=strip_ansi(line), level="info")]
        if not isinstance(msg, dict):
            return []
        handler = {"start": self._start, "stop": self._stop, "result": self._result,
                   "msg": self._msg}.get(msg.get("action", ""))
        events = handler(msg) if handler else []
        snap = self._progress_if_changed()
        if snap is not None:
            events.extend(snap)
        return events

    def feed_text(self, text: str) -> list[Event]:
        out: list[Event] = []
        for line in text.splitlines():
            out.extend(self.feed(line))
        return out

    # -- handlers ------------------------------------------------------------------------
    def _start(self, msg: dict) -> list[Event]:
        act = Activity(id=int(msg.get("id", 0)), type=int(msg.get("type", 0)),
                       text=strip_ansi(str(msg.get("text", ""))), parent=int(msg.get("parent", 0) or 0),
                       fields=list(msg.get("fields") or []))
        self.activities[act.id] = act
        if act.type == ACT_BUILD:
            drv = str(act.fields[0]) if act.fields else act.text
            name = store_name(drv)
            self.build_logs.setdefault(name, [])
            return [LogLine(action_id=self.action_id, line=f"building {name}", level="info")]
        if act.type == ACT_FILE_TRANSFER:
            self.downloads_started += 1
        if act.type == ACT_COPY_PATH and act.fields:
            return [LogLine(action_id=self.action_id, line=f"copying {store_name(str(act.fields[0]))}",
                            level="debug")]
        return []

    def _stop(self, msg: dict) -> list[Event]:
        act = self.activities.pop(int(msg.get("id", 0)), None)
        if act is None:
            return []
        if act.type == ACT_FILE_TRANSFER:
            self.downloads_finished += 1
            done, expected = self.transfer_bytes.get(act.id, (0, 0))
            self.transfer_bytes[act.id] = (max(done, expected), max(done, expected))
        elif act.type == ACT_COPY_PATH:
            done, expected = self.copy_bytes.get(act.id, (0, 0))
            self.copy_bytes[act.id] = (max(done, expected), max(done, expected))
        elif act.type == ACT_BUILD and act.fields:
            self.finished_builds.append(store_name(str(act.fields[0])))
        return []

    def _result(self, msg: dict) -> list[Event]:
        aid = int(msg.get("id", 0))
        rtype = int(msg.get("type", 0))
        fields = list(msg.get("fields") or [])
        act = self.activities.get(aid)
        if rtype in (RES_BUILD_LOG_LINE, RES_POST_BUILD_LOG_LINE) and fields:
            text = strip_ansi(str(fields[0])).rstrip()
            name = self._build_name(act)
            self.build_logs.setdefault(name, []).append(text)
            return [LogLine(action_id=self.action_id, line=f"{name}> {text}" if name else text,
                            level="info")]
        if rtype == RES_SET_PHASE and fields:
            phase = str(fields[0])
            if act is not None:
                act.phase = phase
            self.last_phase = phase
            name = self._build_name(act)
            return [LogLine(action_id=self.action_id, line=f"{name}: {phase}", level="debug")]
        if rtype == RES_PROGRESS and len(fields) >= 2 and act is not None:
            done, expected = int(fields[0]), int(fields[1])
            running = int(fields[2]) if len(fields) > 2 else 0
            failed = int(fields[3]) if len(fields) > 3 else 0
            act.done, act.expected, act.running, act.failed = done, expected, running, failed
            if act.type == ACT_BUILDS:
                self.builds_done, self.builds_expected = done, expected
                self.builds_running, self.builds_failed = running, failed
            elif act.type == ACT_COPY_PATHS:
                self.paths_done, self.paths_expected = done, expected
            elif act.type == ACT_COPY_PATH:
                self.copy_bytes[aid] = (done, expected)
            elif act.type == ACT_FILE_TRANSFER:
                self.transfer_bytes[aid] = (done, expected)
            return []
        if rtype == RES_SET_EXPECTED and len(fields) >= 2:
            self.expected_bytes[int(fields[0])] = int(fields[1])
            return []
        return []

    def _msg(self, msg: dict) -> list[Event]:
        level = int(msg.get("level", LVL_INFO))
        text = strip_ansi(str(msg.get("msg", ""))).rstrip()
        if not text:
            return []
        if level == LVL_ERROR:
            self.errors.append(text)
            return [LogLine(action_id=self.action_id, line=text, level="error")]
        if level == LVL_WARN:
            self.warnings.append(text)
            return [LogLine(action_id=self.action_id, line=text, level="warn")]
        return [LogLine(action_id=self.action_id, line=text,
                        level="info" if level <= LVL_INFO else "debug")]

    # -- state ---------------------------------------------------------------------------
    def _build_name(self, act: Optional[Activity]) -> str:
        while act is not None and act.type != ACT_BUILD:
            act = self.activities.get(act.parent)
        if act is None:
            return ""
        return store_name(str(act.fields[0])) if act.fields else act.text

    def progress(self) -> NixProgress:
        copy_done = sum(d for d, _ in self.copy_bytes.values())
        copy_expected = max(sum(e for _, e in self.copy_bytes.values()),
                            self.expected_bytes.get(ACT_COPY_PATH, 0))
        dl_done = sum(d for d, _ in self.transfer_bytes.values())
        dl_expected = max(sum(e for _, e in self.transfer_bytes.values()),
                          self.expected_bytes.get(ACT_FILE_TRANSFER, 0))
        running = [store_name(str(a.fields[0])) for a in self.activities.values()
                   if a.type == ACT_BUILD and a.fields]
        return NixProgress(
            action_id=self.action_id,
            builds_done=self.builds_done, builds_expected=self.builds_expected,
            builds_running=self.builds_running, builds_failed=self.builds_failed,
            paths_done=self.paths_done, paths_expected=self.paths_expected,
            bytes_done=copy_done, bytes_expected=copy_expected,
            downloads_done=self.downloads_finished, downloads_expected=self.downloads_started,
            download_bytes_done=dl_done, download_bytes_expected=dl_expected,
            running=running, phase=self.last_phase)

    @staticmethod
    def _snapshot(p: NixProgress) -> tuple:
        return (p.builds_done, p.builds_expected, p.builds_running, p.builds_failed, p.paths_done,
                p.paths_expected, p.bytes_done, p.bytes_expected, p.downloads_done, p.downloads_expected,
                p.download_bytes_done, p.download_bytes_expected, tuple(p.running))

    def _progress_if_changed(self) -> Optional[list[Event]]:
        p = self.progress()
        snap = self._snapshot(p)
        if snap == self._last_snapshot:
            return None
        self._last_snapshot = snap
        events: list[Event] = [p]
        if p.bytes_expected or p.download_bytes_expected:
            done = p.bytes_done or p.download_bytes_done
            total = p.bytes_expected or p.download_bytes_expected
            events.append(ActionProgress(action_id=self.action_id, done=done, total=total, unit="bytes",
                                         text=p.summary()))
        else:
            events.append(ActionProgress(action_id=self.action_id, done=p.builds_done,
                                         total=p.builds_expected or None, unit="builds", text=p.summary()))
        return events

    def error_text(self) -> str:
        """The errors Nix reported, most specific first line kept, "error: " dropped."""
        out = []
        for e in self.errors:
            out.append(e[len("error: "):] if e.startswith("error: ") else e)
        return "\n".join(out)

    def failed_build_log(self, limit: int = 20) -> list[str]:
        """The last lines of the build that failed (or of the last build with output)."""
        for name in reversed(list(self.build_logs)):
            if self.build_logs[name]:
                return self.build_logs[name][-limit:]
        return []
