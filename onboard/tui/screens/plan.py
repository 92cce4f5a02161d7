"""Plan review: every change to the machine, with its path. Nothing runs before the user confirms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.messages import PlanFailed, PlanReady
from onboard.tui.progress import status_word
from onboard.tui.screens.base import StepScreen
from onboard.tui.theme import badge
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.engine.plan import Plan
    from onboard.tui.state import Row


def plan_text(rows: list[Row]) -> Text:
    t = Text()
    for i, r in enumerate(rows, 1):
        if i > 1:
            t.append("\n")
        t.append_text(badge(status_word(r.get("status", "would-do"))))
        t.append(f" {i:>2}. ")
        t.append(str(r.get("description", "")))
        if r.get("needs_root"):
            t.append("  [needs root]", style="bold")
        if r.get("status") == "already":
            t.append("  (already so: left as it is)", style="dim")
        for p in r.get("paths") or []:
            t.append("\n            path: ", style="dim")
            t.append(str(p))
    return t


def counts(rows: list[Row]) -> tuple[int, int]:
    todo = sum(1 for r in rows if r.get("status") == "would-do")
    already = sum(1 for r in rows if r.get("status") == "already")
    return todo, already


class PlanScreen(StepScreen):
    STEP = "4/6 Plan"
    HELP = ("Every change onboard would make, in order, with the files and folders it touches. TODO "
            "rows will change the machine; SKIP rows are already so and stay as they are; NOTE rows only "
            "inform. Nothing has "
            "changed yet: press a to apply (you are asked once more), or Esc to go back and change "
            "your choices. Everything applied can be undone with `onboard uninstall`.")
    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, choices: Choices) -> None:
        super().__init__()
        self.choices = choices
        self.plan: Optional[Plan] = None
        self.rows: list[Row] = []
        self.blocked = ""

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Working out the plan (nothing changes)...", id="plan-status", classes="lead")
        with VerticalScroll(id="plan-scroll", classes="box"):
            yield Static("", id="plan-rows")
        with Horizontal(classes="buttons"):
            yield Button("Apply these changes", id="apply", variant="primary", compact=True, disabled=True)
            yield Button("Back to choices", id="back", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()
        self.run_worker(self._build, thread=True, exclusive=True, group="plan", exit_on_error=False)

    def _build(self) -> None:
        svc = self.app.services
        try:
            plan = svc.build_plan(self.choices)
            rows = svc.preview(plan)
        except Exception as exc:
            # only some of onboard's errors (PlanningError, ActionError) carry a hint
            self.post_message(PlanFailed(str(exc), getattr(exc, "hint", "")))
            return
        self.post_message(PlanReady(plan, rows))

    def on_plan_ready(self, message: PlanReady) -> None:
        plan = self.plan = message.plan
        self.rows = message.rows
        todo, already = counts(self.rows)
        title = plan.title or plan.name
        head = Text()
        head.append(f"{todo} change(s) to make, {already} already so. Nothing has changed yet.", style="bold")
        head.append(f"\nPlan: {title}.")
        if plan.needs_root and not self.app.services.is_root():
            self.blocked = ("This plan changes system files (/nix, /etc, users) and needs root: quit and "
                            "run `sudo onboard`, or choose single-user mode.")
            head.append("\n" + self.blocked, style="bold")
        if not self.rows:
            head.append("\nThere is nothing to do: the machine already has everything.")
        self.query_one("#plan-status", Static).update(head)
        self.query_one("#plan-rows", Static).update(plan_text(self.rows))
        apply = self.query_one("#apply", Button)
        apply.disabled = bool(self.blocked) or not self.rows
        if not apply.disabled:
            apply.focus()
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
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        elif event.button.id == "back":
            self.action_back()

    def action_apply(self) -> None:
        if self.plan is None or self.blocked or not self.rows:
            return
        from onboard.tui.screens.dialogs import ConfirmDialog

        todo, already = counts(self.rows)
        body = ("onboard records each change in a receipt before making it, with a backup of every "
                "file it edits. Cancel stops between steps; `onboard uninstall` undoes it all.")
        self.app.push_screen(ConfirmDialog(f"Apply {todo} change(s) to this machine now?", body,
                                           yes="Apply", no="Not yet"), self._confirmed)

    def _confirmed(self, yes: Optional[bool]) -> None:
        if yes and self.plan is not None:
            self.app.start_apply(self.plan, self.rows)
