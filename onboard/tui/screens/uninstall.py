"""Uninstall: preview everything onboard would undo, confirm, then watch it go."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Static

from onboard.tui.messages import UninstallPlanned
from onboard.tui.screens.base import StepScreen
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.uninstall import UninstallPlan
    from onboard.tui.state import Row


def uninstall_text(rows: list[Row], kept: Optional[list[Row]] = None) -> Text:
    t = Text()
    for i, r in enumerate(rows, 1):
        if i > 1:
            t.append("\n")
        t.append(f"{i:>3}. ", style="bold")
        t.append(str(r.get("description", "")))
        for p in r.get("paths") or []:
            t.append("\n       path: ", style="dim")
            t.append(str(p))
    if kept:
        t.append("\n\nKept (the services' data; `onboard uninstall --delete-data` removes it):", style="bold")
        for r in kept:
            t.append(f"\n  {r.get('service')} of {r.get('project')}: ")
            t.append(f"{r.get('path')} ({_size(int(r.get('bytes') or 0))})", style="dim")
    return t


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


class UninstallScreen(StepScreen):
    STEP = "Uninstall"
    HELP = ("Everything onboard recorded in its receipts, undone newest first: files are restored byte "
            "for byte (or, where you edited them since, only onboard's own block is removed), and "
            "what onboard created is removed. Nothing happens until you press u and confirm.")
    BINDINGS = [
        Binding("u", "uninstall", "Uninstall"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: Optional[UninstallPlan] = None
        self.rows: list[Row] = []

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Finding what onboard changed on this machine (nothing changes)...",
                     id="un-status", classes="lead")
        with VerticalScroll(id="un-scroll", classes="box"):
            yield Static("", id="un-rows")
        with Horizontal(classes="buttons"):
            yield Button("Uninstall all of it", id="uninstall", variant="error", compact=True, disabled=True)
            yield Button("Back", id="back", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()
        self.run_worker(self._plan, thread=True, exclusive=True, group="uninstall", exit_on_error=False)

    def _plan(self) -> None:
        try:
            plan = self.app.services.plan_uninstall()
            rows = plan.rows()
        except Exception as exc:
            self.post_message(UninstallPlanned(None, [], error=str(exc)))
            return
        self.post_message(UninstallPlanned(plan, rows))

    def on_uninstall_planned(self, message: UninstallPlanned) -> None:
        status = self.query_one("#un-status", Static)
        if message.error:
            status.update(Text("Could not work out what to undo: " + message.error, style="bold"))
            return
        self.plan, self.rows = message.plan, message.rows
        if not self.rows:
            status.update(Text("Nothing to uninstall: onboard has no recorded changes on this machine.",
                               style="bold"))
            return
        status.update(Text(f"{len(self.rows)} step(s) to undo, newest first. Nothing has changed yet.",
                           style="bold"))
        kept = message.plan.kept_rows() if message.plan is not None else []
        self.query_one("#un-rows", Static).update(uninstall_text(self.rows, kept))
        button = self.query_one("#uninstall", Button)
        button.disabled = False
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "uninstall" and not self.rows:
            return None
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "uninstall":
            self.action_uninstall()
        else:
            self.action_back()

    def action_uninstall(self) -> None:
        if not self.rows:
            return
        from onboard.tui.screens.dialogs import ConfirmDialog

        self.app.push_screen(ConfirmDialog(f"Undo all {len(self.rows)} step(s) now?",
                                           "This puts back what onboard changed. It cannot be cancelled "
                                           "half-way; a step that cannot be undone is reported and the "
                                           "rest still go.", yes="Uninstall", no="Keep"),
                             self._confirmed)

    def _confirmed(self, yes: Optional[bool]) -> None:
        if yes and self.plan is not None:
            self.app.start_uninstall(self.plan, self.rows)
