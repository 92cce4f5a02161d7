"""Done: what to do next, what changed, where the log and answers are, and "enter the
environment now" (it is already built: the plan's last step built it)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.explain import short_path
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


def next_steps(s: RunSummary) -> Text:
    """In plain words: a new terminal, the project, what the hook does there, the shell now."""
    t = Text()
    if s.kind != "apply":
        return t
    t.append("What to do next:\n", style="bold")
    t.append("  1. Open a new terminal (or run `exec $SHELL -l` in this one) so your shell finds Nix"
             + (f" and {s.hook}" if s.hook else "") + ".\n")
    if s.project:
        where = short_path(s.project, 60)
        if s.hook and s.profile:
            t.append(f"  2. cd {where}: {s.hook} loads the {s.profile} environment there by itself, "
                     "and unloads it when you leave.\n")
        else:
            t.append(f"  2. cd {where}, then `onboard shell {s.profile}`" if s.profile else f"  2. cd {where}")
            t.append(" enters the environment.\n" if s.profile else "\n")
    elif s.profile:
        t.append(f"  2. `onboard shell {s.profile}` enters the environment anywhere.\n")
    if s.profile and s.built:
        t.append(f"  Or now: Enter starts the {s.profile} environment in this terminal (already built).\n")
    elif s.profile:
        t.append(f"  The environment was not built in this run: `onboard shell {s.profile}` builds it.\n")
    else:
        t.append("  No profile was chosen, so there is no environment yet (later: onboard switch PROFILE).\n")
    return t


class DoneScreen(StepScreen):
    STEP = "6/6 Done"
    CAN_GO_BACK = False
    HELP = ("The run is over. Above: what to do next. The list shows what was changed (DONE) and what was "
            "already so (SKIP). Everything is recorded in the receipt (onboard's record of every change, "
            "with backups) and can be undone with `onboard uninstall`. Enter (or s) leaves onboard and "
            "starts your profile's environment in this terminal; q quits.")
    BINDINGS = [
        Binding("enter,s", "shell", "Enter the environment", key_display="Enter"),
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
        yield Static(next_steps(s), id="done-next", classes="lead")
        n_done = sum(1 for w, _ in s.changed if w in ("DONE", "UNDONE"))
        yield Static(f"What changed ({n_done} of {s.total or len(s.changed)} steps made a change):",
                     classes="lead")
        with VerticalScroll(id="done-changes", classes="box"):
            yield Static(changes_text(s))
        yield Static(self.info(), id="done-info", classes="lead")
        with Horizontal(classes="buttons"):
            if self.can_shell:
                yield Button(f"Enter the environment now ({s.profile})", id="shell", variant="primary",
                             compact=True)
            yield Button("Quit", id="quit", compact=True)
        yield KeyBar()

    @property
    def can_shell(self) -> bool:
        return self.summary.kind == "apply" and bool(self.summary.profile)

    def info(self) -> Text:
        s = self.summary
        t = Text(overflow="fold")
        if s.log_path:
            t.append("Log: ", style="bold")
            t.append(short_path(s.log_path, 200) + "\n")
        if s.answers_path:
            t.append("Same setup elsewhere: ", style="bold")
            t.append(f"onboard apply --answers {short_path(s.answers_path, 200)} --yes\n")
        if s.kind == "apply":
            t.append("Undo it all: ", style="bold")
            t.append("onboard uninstall")
        for e in s.errors:
            t.append(f"\nNote: {e}", style="bold")
        return t

    def on_mount(self) -> None:
        self.call_after_refresh(self._focus_first)

    def _focus_first(self) -> None:
        """The way on: entering the environment when there is one, else quitting."""
        for selector in (("#shell", "#quit") if self.can_shell else ("#quit",)):
            found = self.query(selector)
            if found:
                found.first().focus()
                return

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
