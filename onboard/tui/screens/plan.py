"""Plan review: every change to the machine, with its path. Nothing runs before the user confirms.

The rows are one list that has the focus from the start: arrows, PageUp/PageDown and
Home/End move through it, `e` explains the highlighted row, Enter applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from onboard.tui.explain import counts, explain_row, numbered, short_path
from onboard.tui.messages import PlanFailed, PlanReady
from onboard.tui.progress import status_word
from onboard.tui.screens.base import StepScreen
from onboard.tui.theme import badge
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.engine.plan import Plan
    from onboard.tui.state import PlanPrep, Row


def row_prompt(number: int, r: Row) -> Table:
    """One plan row: status word, step number, then what it does with its paths below it,
    wrapped with a hanging indent."""
    g = Table.grid(padding=(0, 1))
    g.add_column(width=6, no_wrap=True)
    g.add_column(width=3, justify="right", no_wrap=True)
    g.add_column(ratio=1)
    status = str(r.get("status", "would-do"))
    desc = str(r.get("description", ""))
    t = Text(overflow="fold")
    t.append(desc.removeprefix("note: ") if status == "note" else desc)
    if r.get("needs_root"):
        t.append("  [needs root]", style="bold")
    if status == "already":
        t.append("  (already so: left as it is)", style="dim")
    for p in r.get("paths") or []:
        if p and str(p) not in desc:
            t.append("\npath: ", style="dim")
            t.append(short_path(str(p)))
    g.add_row(badge(status_word(status)), Text(f"{number}." if number else ""), t)
    return g


def plan_text(rows: list[Row]) -> Text:
    """The rows as plain text (as the list shows them), for logs and tests."""
    t = Text()
    for n, r in numbered(rows):
        t.append(f"{status_word(str(r.get('status', '')))} {str(n) + '.' if n else '  '} "
                 f"{r.get('description', '')}\n")
    return t


class PlanScreen(StepScreen):
    STEP = "4/6 Plan"
    HELP = ("Every change onboard would make, in order, with the files and folders it touches. TODO "
            "rows will change the machine; SKIP rows are already so and stay as they are; NOTE rows only "
            "inform and are not counted as steps. Nothing has changed yet: press Enter or a to apply "
            "(you are asked once more), e to have the highlighted row explained, or Esc to go back and "
            "change your choices. Everything applied can be undone with `onboard uninstall`.")
    BINDINGS = [
        Binding("enter", "apply", "Apply", key_display="Enter"),
        Binding("a", "apply", "Apply", show=False),
        Binding("e", "explain", "Explain row"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, choices: Choices) -> None:
        super().__init__()
        self.choices = choices
        self.plan: Optional[Plan] = None
        self.rows: list[Row] = []
        self.blocked = ""
        self.prep: Optional[PlanPrep] = None

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Working out the plan (nothing changes)...", id="plan-status", classes="lead")
        yield _PlanList(id="plan-rows", classes="box")
        with Horizontal(classes="buttons"):
            yield Button("Apply these changes", id="apply", variant="primary", compact=True, disabled=True)
            yield Button("Back to choices", id="back", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#plan-rows", OptionList).focus()
        # made ahead in the background for the same answers, or started now: shown when whole
        self.prep = self.app.plan_for(self.choices)
        self.plan_made(self.prep)

    def plan_made(self, prep: PlanPrep) -> None:
        """The app made a plan: shown when it is the one for this screen's answers and complete."""
        if prep is not self.prep or self.plan is not None:
            return
        if prep.status == "ready" and prep.plan is not None:
            self.on_plan_ready(PlanReady(prep.plan, prep.rows))
        elif prep.status == "failed":
            self.on_plan_failed(PlanFailed(prep.error, prep.hint))

    def on_plan_ready(self, message: PlanReady) -> None:
        plan = self.plan = message.plan
        self.rows = message.rows
        todo, already, notes = counts(self.rows)
        title = plan.title or plan.name
        head = Text()
        head.append(f"{todo} change(s) to make, {already} already so"
                    + (f", {notes} note(s)" if notes else "") + ". Nothing has changed yet.", style="bold")
        head.append(f"\nPlan: {title}.")
        warn = self.app.state.network_warning(self.rows)
        if warn:
            head.append("\n" + warn, style="bold")
        if plan.needs_root and not self.app.services.is_root():
            self.blocked = ("This plan changes system files (/nix, /etc, users) and needs root: quit and "
                            "run `sudo onboard`, or choose single-user mode.")
            head.append("\n" + self.blocked, style="bold")
        if not self.rows:
            head.append("\nThere is nothing to do: the machine already has everything.")
        self.query_one("#plan-status", Static).update(head)
        ol = self.query_one("#plan-rows", OptionList)
        ol.clear_options()
        ol.add_options([Option(row_prompt(n, r), id=str(i)) for i, (n, r) in enumerate(numbered(self.rows))])
        if self.rows:
            ol.highlighted = 0
        self.query_one("#apply", Button).disabled = bool(self.blocked) or not self.rows
        self.refresh_bindings()

    def on_plan_failed(self, message: PlanFailed) -> None:
        t = Text("The plan could not be made: ", style="bold")
        t.append(message.error)
        if message.hint:
            t.append("\nWhat to do: " + message.hint)
        t.append("\nNothing has changed. Press Esc to change your choices.")
        self.query_one("#plan-status", Static).update(t)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "apply" and (self.plan is None or self.blocked or not self.rows):
            return None
        if action == "explain" and not self.rows:
            return None
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "back":
            self.action_back()

    def action_explain(self) -> None:
        ol = self.query_one("#plan-rows", OptionList)
        if ol.highlighted is None or not self.rows:
            return
        n, row = numbered(self.rows)[ol.highlighted]
        from onboard.tui.screens.dialogs import TextScreen

        head = (f"Step {n}: " if n else "Note: ") + str(row.get("description", "")).removeprefix("note: ")
        self.app.push_screen(TextScreen(head, explain_row(row)))

    def action_apply(self) -> None:
        if self.plan is None or self.blocked or not self.rows:
            return
        from onboard.tui.screens.dialogs import ConfirmDialog

        todo, already, _notes = counts(self.rows)
        body = ("onboard records each change in a receipt (its record of what it changed, with a backup of "
                "every file it edits) before making it. Cancel stops between steps; `onboard uninstall` "
                "undoes it all.")
        self.app.push_screen(ConfirmDialog(f"Apply {todo} change(s) to this machine now?", body,
                                           yes="Apply", no="Not yet"), self._confirmed)

    def _confirmed(self, yes: Optional[bool]) -> None:
        if yes and self.plan is not None:
            self.app.start_apply(self.plan, self.rows)


class _PlanList(OptionList):
    """The rows: Enter on a row is the screen's Apply (not "select this row")."""

    BINDINGS = [Binding("enter", "screen.apply", "Apply", key_display="Enter")]
