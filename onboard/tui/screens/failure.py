"""A failed or cancelled run: which step, why in plain words, the last 20 log lines, the log
file, and only the ways on that are valid: retry (or resume), try the alternative (the team
mirror, a local tarball) when the step needed the network, undo this run (after a question,
through the core's one "undo this run"), quit."""

from __future__ import annotations

import re
from typing import Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.explain import short_path
from onboard.tui.screens.base import StepScreen
from onboard.tui.state import RunSummary
from onboard.tui.widgets.bars import KeyBar, TitleBar

#: steps whose failure usually means an unreachable host: the alternative is another source
NETWORK_KINDS = ("nix-download",)

_CLASS = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Timeout|Refused)\w*:\s*")
_POOL = re.compile(r"HTTPS?ConnectionPool\(host='([^']+)', port=(\d+)\).*?(?:\[Errno -?\d+\] |: )?"
                   r"([A-Za-z][^')\]]*)", re.S)


def plain_cause(error: str) -> str:
    """The error without exception class names, and a connection pool's noise said plainly."""
    text = error.strip()
    for _ in range(3):
        stripped = _CLASS.sub("", text)
        if stripped == text:
            break
        text = stripped
    m = _POOL.search(text)
    if m:
        host, port, why = m.group(1), m.group(2), m.group(3).strip().rstrip("'\"(").strip()
        text = f"could not connect to {host} (port {port}): {why.lower() or 'no answer'}"
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>:?\s*", "", text)
    return text


class FailureScreen(StepScreen):
    STEP = "Failed"
    CAN_GO_BACK = False
    HELP = ("The run stopped. Above: the step that failed, why, and the last log lines; the full log "
            "is in the file named below. What was done before is recorded in the receipt (onboard's "
            "record of every change, with backups). r tries again (finished steps are checked, not "
            "redone); t tries the alternative (the team mirror or a local tarball) when the step needed "
            "the network; u undoes exactly what this run changed, after asking; q quits with exit code 1 "
            "(what was done stays: `onboard apply` finishes it later, `onboard uninstall` undoes all).")
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("t", "alternative", "Try another source"),
        Binding("u", "revert", "Undo this run"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary
        if summary.status == "cancelled":
            self.STEP = "Cancelled"

    @property
    def can_retry(self) -> bool:
        return self.summary.kind in ("apply", "uninstall")

    @property
    def can_revert(self) -> bool:
        return self.summary.can_revert

    @property
    def can_alternative(self) -> bool:
        f = self.summary.failure
        return (self.summary.kind == "apply" and f is not None
                and f.action_id.split(":", 1)[0] in NETWORK_KINDS)

    def headline(self) -> Text:
        s = self.summary
        if s.status == "cancelled":
            done = sum(1 for w, _ in s.changed if w in ("DONE", "SKIP"))
            return Text(f"Cancelled after {done} of {s.total} steps: nothing was left half-done.", style="bold")
        t = Text("FAILED:", style="bold reverse")
        f = s.failure
        t.append(" " + (f.description if f and f.description else s.title), style="bold")
        return t

    def cause(self) -> Text:
        s = self.summary
        t = Text()
        if s.status == "cancelled":
            t.append("The steps before were finished and recorded; the rest did not start.")
            return t
        f = s.failure
        why = plain_cause(f.error if f else ("; ".join(s.errors) or "no reason was given"))
        t.append("Why: ", style="bold")
        t.append(why)
        done = sum(1 for w, _ in s.changed if w == "DONE")
        if done:
            t.append(f"\nThe {done} step(s) before it are done and stay (recorded in the receipt).")
        t.append("\nWhat to do: ", style="bold")
        if f and f.hint:
            t.append(plain_cause(f.hint))
        else:
            t.append("the log lines below show what went wrong; fix the cause and retry.")
        if self.can_alternative:
            t.append(" Or t: the team mirror or a local tarball instead.")
        for e in s.errors:
            if not f or e != f.error:
                t.append(f"\nAlso: {plain_cause(e)}")
        return t

    def compose(self) -> ComposeResult:
        s = self.summary
        yield TitleBar()
        yield Static(self.headline(), id="fail-title", classes="title")
        yield Static(self.cause(), id="fail-cause", classes="lead")
        tail = s.tail[-20:]
        yield Static(f"The log's last {len(tail)} line(s):" if tail else "No log lines.", classes="lead")
        with VerticalScroll(id="fail-log", classes="box"):
            yield Static(Text("\n".join(tail), overflow="fold"))
        info = Text()
        info.append("Full log: ", style="bold")
        info.append(short_path(s.log_path, 200) if s.log_path else "(none written)")
        yield Static(info, id="fail-info", classes="lead")
        with Horizontal(classes="buttons"):
            if self.can_retry:
                yield Button("Resume" if s.status == "cancelled" else "Retry", id="retry",
                             variant="primary", compact=True)
            if self.can_alternative:
                yield Button("Another source", id="alternative", compact=True)
            if self.can_revert:
                yield Button("Undo this run", id="revert", compact=True)
            yield Button("Quit", id="quit", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#retry" if self.can_retry else "#quit", Button).focus()
        log = self.query_one("#fail-log", VerticalScroll)
        self.call_after_refresh(lambda: log.scroll_end(animate=False))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry" and not self.can_retry:
            return False
        if action == "revert" and not self.can_revert:
            return False
        if action == "alternative" and not self.can_alternative:
            return False
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"retry": self.action_retry, "revert": self.action_revert,
         "alternative": self.action_alternative}.get(event.button.id or "", self.action_quit)()

    def action_retry(self) -> None:
        if self.can_retry:
            self.app.retry(self.summary)

    def action_alternative(self) -> None:
        if self.can_alternative:
            self.app.choose_source_again()

    def action_revert(self) -> None:
        if not self.can_revert:
            return
        from onboard.core.engine.plan import this_run_changes
        from onboard.tui.screens.dialogs import ConfirmDialog

        outcome = self.summary.outcome
        entries = this_run_changes(outcome) if outcome is not None else []
        body = Text("These changes of this run are put back (earlier runs' changes stay):\n")
        for e in reversed(entries):
            body.append(f"  - {e.description}\n")
        self.app.push_screen(ConfirmDialog(f"Undo the {len(entries)} change(s) this run made?", body,
                                           yes="Undo them", no="Keep them"), self._revert_confirmed)

    def _revert_confirmed(self, yes: Optional[bool]) -> None:
        if yes:
            self.app.start_revert(self.summary)

    def action_quit(self) -> None:
        self.app.action_quit_app()
