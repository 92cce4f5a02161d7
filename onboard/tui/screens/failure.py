"""A failed or cancelled run: which action, why, the last 20 log lines, the log file, and only
the ways on that are valid (retry or resume, revert, quit)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.screens.base import StepScreen
from onboard.tui.state import RunSummary
from onboard.tui.widgets.bars import KeyBar, TitleBar


class FailureScreen(StepScreen):
    STEP = "Failed"
    CAN_GO_BACK = False
    HELP = ("The run stopped. Above: the step that failed, why, and the last log lines; the full log "
            "is in the file named below. What was done before is recorded in the receipt. r tries "
            "again (finished steps are checked, not redone), v undoes what this run changed, q quits "
            "(the receipt stays: `onboard apply` finishes later, `onboard uninstall` undoes).")
    BINDINGS = [
        Binding("r", "retry", "Retry"),
        Binding("v", "revert", "Revert"),
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
        why = f.error if f else ("; ".join(s.errors) or "unknown")
        t.append("Why: ", style="bold")
        t.append(why)
        t.append("\nWhat to do: ", style="bold")
        if f and f.hint:
            t.append(f.hint)
        else:
            t.append("the log lines below show what went wrong; fix the cause and retry"
                     + (", or revert what this run changed" if self.can_revert else "") + ".")
        for e in s.errors:
            if not f or e != f.error:
                t.append(f"\nAlso: {e}")
        return t

    def compose(self) -> ComposeResult:
        s = self.summary
        yield TitleBar()
        yield Static(self.headline(), id="fail-title", classes="title")
        yield Static(self.cause(), id="fail-cause", classes="lead")
        yield Static(f"Last {min(len(s.tail), 20)} log lines:" if s.tail else "No log lines.", classes="lead")
        with VerticalScroll(id="fail-log", classes="box"):
            yield Static(Text("\n".join(s.tail[-20:])))
        info = Text()
        info.append(f"Full log: {s.log_path or '(none written)'}")
        if s.receipt_path:
            info.append(f"\nReceipt: {s.receipt_path}")
        yield Static(info, id="fail-info", classes="lead")
        with Horizontal(classes="buttons"):
            if self.can_retry:
                yield Button("Resume" if s.status == "cancelled" else "Retry", id="retry",
                             variant="primary", compact=True)
            if self.can_revert:
                yield Button("Revert what was done", id="revert", compact=True)
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
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"retry": self.action_retry, "revert": self.action_revert}.get(event.button.id or "", self.action_quit)()

    def action_retry(self) -> None:
        if self.can_retry:
            self.app.retry(self.summary)

    def action_revert(self) -> None:
        if self.can_revert:
            self.app.start_revert(self.summary)

    def action_quit(self) -> None:
        self.app.action_quit_app()
