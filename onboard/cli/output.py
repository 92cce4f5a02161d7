"""How the CLI talks: results on stdout (plain or --json), progress and questions on stderr.

No colour or escape codes when NO_COLOR is set, --no-color is given, or stderr is not
a terminal. rich is imported only when progress is drawn on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from onboard.core import paths

if TYPE_CHECKING:
    from onboard.cli.reporters import Reporter

#: the reporters (onboard/cli/reporters.py) are imported with the first one made: the core's
#: event classes are not needed by a command that only prints its result
_REPORTERS = ("Reporter", "PlainReporter", "JsonReporter", "RichReporter")


def __getattr__(name: str) -> Any:
    if name in _REPORTERS:
        from onboard.cli import reporters

        return getattr(reporters, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

JSON_SCHEMA_VERSION = 1


class Output:
    """How a command speaks. (A plain class: dataclasses costs a short command a quarter of
    its start-up, through the modules it imports.)"""

    def __init__(self, json: bool = False, yes: bool = False, dry_run: bool = False, verbose: bool = False,
                 color: bool = True, command: str = "", log_path: Optional[Path] = None,
                 tail: Optional[deque] = None) -> None:
        self.json, self.yes, self.dry_run, self.verbose, self.color = json, yes, dry_run, verbose, color
        self.command = command
        self.log_path = log_path
        self.tail: deque = tail if tail is not None else deque(maxlen=20)

    @classmethod
    def from_args(cls, args: Any) -> "Output":
        no_color = bool(os.environ.get("NO_COLOR")) or getattr(args, "no_color", False) \
            or not sys.stderr.isatty() or os.environ.get("TERM") == "dumb"
        return cls(json=getattr(args, "json", False), yes=getattr(args, "yes", False),
                   dry_run=getattr(args, "dry_run", False), verbose=getattr(args, "verbose", False),
                   color=not no_color, command=getattr(args, "command", "") or "")

    # -- results ------------------------------------------------------------------------
    def line(self, text: str = "") -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def emit_json(self, **data: Any) -> None:
        from onboard import __version__

        doc = {"schema_version": JSON_SCHEMA_VERSION, "onboard": __version__, "command": self.command}
        doc.update(data)
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def info(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def error(self, message: str, hint: str = "") -> None:
        sys.stderr.write(f"onboard: error: {message}\n")
        if hint:
            sys.stderr.write(f"  what to do: {hint}\n")
        if self.log_path:
            sys.stderr.write(f"  log: {self.log_path}\n")
        sys.stderr.flush()

    def crash(self, exc: BaseException) -> int:
        import traceback

        log = paths.log_dir() / f"crash-{time.strftime('%Y%m%d-%H%M%S')}.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            where = f"; the traceback is in {log}"
        except OSError:
            where = ""
        sys.stderr.write(f"onboard: internal error: {type(exc).__name__}: {exc}{where}\n"
                         "  this is a bug in onboard; please report it with that file\n")
        return 1

    # -- questions ----------------------------------------------------------------------
    def confirm(self, question: str, default: bool = False) -> bool:
        """Ask once. --yes answers yes; without a terminal the answer is no (and we say so)."""
        if self.yes:
            return True
        if not sys.stdin.isatty():
            self.info(f"{question} -> not asked: no terminal (pass --yes to agree)")
            return False
        suffix = " [Y/n] " if default else " [y/N] "
        sys.stderr.write(question + suffix)
        sys.stderr.flush()
        try:
            answer = sys.stdin.readline().strip().lower()
        except KeyboardInterrupt:
            raise
        if not answer:
            return default
        return answer in ("y", "yes")

    # -- progress -----------------------------------------------------------------------
    def reporter(self) -> "Reporter":
        from onboard.cli.reporters import JsonReporter, PlainReporter, RichReporter

        if self.json:
            return JsonReporter(self)
        if self.color and sys.stderr.isatty():
            try:
                return RichReporter(self)
            except ImportError:  # pragma: no cover
                pass
        return PlainReporter(self)

