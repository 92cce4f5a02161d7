"""Done: what changed, where the receipt, log and answers are, and "enter the shell now"."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.screens.base import StepScreen
from onboard.tui.state import RunSummary
from onboard.tui.theme import badge
from onboard.tui.widgets.bars import KeyBar, TitleBar

HEADLINES = {
    "apply": "Done: {title}.",
    "revert": "Undone: every change of this run was put back.",
    "uninstall": "Uninstalled: everything onboard changed on this machine is gone.",
}


def changes_text(summary: RunSummary) -> Text:
    t = Text()
    for i, (word, desc) in enumerate(summary.changed):
        if i:
            t.append("\n")
        t.append_text(badge(word))
        t.append(" " + desc)
        if word == "SKIP":
            t.append("  (already so)", style="dim")
    if not summary.changed:
        t.append("Nothing needed changing.")
    return t


class DoneScreen(StepScreen):
    STEP = "6/6 Done"
    CAN_GO_BACK = False
    HELP = ("The run is over. The list shows what was changed (DONE), what was already so (SKIP). "
            "Everything is recorded in the receipt and can be undone with `onboard uninstall`. "
            "s leaves onboard and starts your profile's shell in this terminal; q quits.")
    BINDINGS = [
        Binding("s", "shell", "Enter the shell"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary
        if summary.kind != "apply":
            self.STEP = {"revert": "Undo: done", "uninstall": "Uninstall: done"}.get(summary.kind, "Done")

    def compose(self) -> ComposeResult:
        s = self.summary
        yield TitleBar()
        yield Static(Text(HEADLINES.get(s.kind, "Done.").format(title=s.title), style="bold"),
                     id="done-title", classes="title")
        n_done = sum(1 for w, _ in s.changed if w in ("DONE", "UNDONE"))
        yield Static(f"What changed ({n_done} of {s.total or len(s.changed)} steps made a change):",
                     classes="lead")
        with VerticalScroll(id="done-changes", classes="box"):
            yield Static(changes_text(s))
        yield Static(self.info(), id="done-info", classes="lead")
        with Horizontal(classes="buttons"):
            if self.can_shell:
                yield Button(f"Enter the shell now ({s.profile})", id="shell", variant="primary", compact=True)
            yield Button("Quit", id="quit", compact=True)
        yield KeyBar()

    @property
    def can_shell(self) -> bool:
        return self.summary.kind == "apply" and bool(self.summary.profile)

    def info(self) -> Text:
        s = self.summary
        t = Text()
        if s.kind == "apply":
            t.append("Undo it all any time: ", style="bold")
            t.append("onboard uninstall\n")
        if s.receipt_path and s.kind == "apply":
            t.append(f"Receipt: {s.receipt_path}\n")
        if s.log_path:
            t.append(f"Log: {s.log_path}\n")
        if s.answers_path:
            t.append("Your answers are saved; replay them with:\n")
            t.append(f"  onboard apply --answers {s.answers_path}\n")
        for e in s.errors:
            t.append(f"Note: {e}\n", style="bold")
        if s.kind == "apply" and not s.profile:
            t.append("No profile was chosen, so there is no shell to enter yet "
                     "(later: onboard switch PROFILE).")
        return t

    def on_mount(self) -> None:
        self.query_one("#shell" if self.can_shell else "#quit", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "shell" and not self.can_shell:
            return False
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "shell":
            self.action_shell()
        else:
            self.action_quit()

    def action_shell(self) -> None:
        if self.can_shell:
            self.app.enter_shell(self.summary.profile)

    def action_quit(self) -> None:
        self.app.action_quit_app()
