"""Profiles: the team's profiles and this project's generations; switch (after seeing what it
changes) and roll back."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional, Union

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from onboard.tui.bridge import EventBridge
from onboard.tui.messages import (EventsPending, GenerationsLoaded, ProfilesLoaded, SwitchDone,
                                  SwitchPreview)
from onboard.tui.progress import RunModel
from onboard.tui.screens.base import StepScreen
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.events import Event
    from onboard.tui.generations import ProjectState


def generations_text(state: Optional[ProjectState]) -> Text:
    t = Text()
    if state is None or not state.generations:
        t.append("No generations yet: the first switch makes generation 1.")
        return t
    for i, g in enumerate(state.generations):
        if i:
            t.append("\n")
        t.append(f"{'>' if g.current else ' '} #{g.number:<4}", style="bold" if g.current else "")
        t.append(f" {g.profile}")
        if g.current:
            t.append("  (current)", style="bold")
        if g.note:
            t.append(f"  {g.note}", style="dim")
    return t


class ProfilesScreen(StepScreen):
    STEP = "Profiles"
    HELP = ("The team's profiles (top) and this project's generations (bottom). Every switch makes a "
            "new generation; rollback returns to the previous one. Before either, onboard shows what "
            "it changes and asks. Switching may build with Nix: progress shows at the bottom.")
    BINDINGS = [
        Binding("s", "switch", "Switch to it"),
        Binding("b", "rollback", "Rollback"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, project: str = "") -> None:
        super().__init__()
        self.project = project
        self.gen_state: Optional[ProjectState] = None
        self.busy = ""
        self.model = RunModel()
        self.bridge = EventBridge(self, self._deliver)

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("", id="prof-head", classes="lead")
        yield OptionList(id="prof-list", classes="box")
        yield Static("Generations", classes="title")
        with VerticalScroll(id="gen-scroll", classes="box"):
            yield Static("Loading...", id="gen-list")
        yield Static("", id="prof-status", classes="lead")
        yield KeyBar()

    def on_mount(self) -> None:
        if not self.project:
            c = self.app.state.choices
            self.project = (c.project_dir if c is not None else "") or os.getcwd()
        self._head()
        self.query_one("#prof-list", OptionList).focus()
        self.run_worker(self._load_profiles, thread=True, group="prof-load", exit_on_error=False)
        self.reload()

    def _head(self) -> None:
        active = (self.gen_state.active if self.gen_state is not None else "") or "none"
        t = Text()
        t.append("Project: ", style="bold")
        t.append(self.project)
        t.append("   Active profile: ", style="bold")
        t.append(active)
        self.query_one("#prof-head", Static).update(t)

    # -- loading -------------------------------------------------------------------------------
    def _load_profiles(self) -> None:
        try:
            self.post_message(ProfilesLoaded(list(self.app.services.list_profiles())))
        except Exception as exc:
            self.post_message(ProfilesLoaded([], error=str(exc)))

    def reload(self) -> None:
        self.run_worker(self._load_state, thread=True, exclusive=True, group="prof-state", exit_on_error=False)

    def _load_state(self) -> None:
        try:
            state = self.app.services.generations_backend().state(self.project)
        except Exception as exc:
            self.post_message(GenerationsLoaded(None, error=str(exc)))
            return
        self.post_message(GenerationsLoaded(state))

    def on_profiles_loaded(self, message: ProfilesLoaded) -> None:
        ol = self.query_one("#prof-list", OptionList)
        ol.clear_options()
        if message.error:
            ol.add_option(Option(Text("No profiles: " + message.error), id="", disabled=True))
            return
        if not message.profiles:
            ol.add_option(Option("No team profiles were found.", id="", disabled=True))
            return
        active = self.gen_state.active if self.gen_state is not None else ""
        for p in message.profiles:
            name = p.name
            t = Text()
            t.append(f"{name:<18}", style="bold")
            t.append(p.description or "")
            if name == active:
                t.append("  (active)", style="bold")
            ol.add_option(Option(t, id=name))
        ol.highlighted = 0

    def on_generations_loaded(self, message: GenerationsLoaded) -> None:
        gl = self.query_one("#gen-list", Static)
        if message.error:
            gl.update(Text("Generations are not available: " + message.error))
            self.gen_state = None
        else:
            self.gen_state = message.state
            gl.update(generations_text(message.state))
        self._head()
        self.refresh_bindings()

    # -- switch and rollback -------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("switch", "rollback") and (self.busy or self.gen_state is None):
            return None
        if action == "back" and self.busy:  # a switch is writing a generation: stay until done
            return False
        if action == "rollback" and not self.can_rollback:
            return None
        return super().check_action(action, parameters)

    @property
    def can_rollback(self) -> bool:
        return self.gen_state is not None and self.gen_state.can_rollback

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_switch()

    def _selected(self) -> str:
        ol = self.query_one("#prof-list", OptionList)
        if ol.highlighted is None:
            return ""
        return ol.get_option_at_index(ol.highlighted).id or ""

    def action_switch(self) -> None:
        target = self._selected()
        if not target or self.busy or self.gen_state is None:
            return
        if target == self.gen_state.active:
            self.notify(f"{target} is already the active profile.", timeout=4)
            return
        self._status(f"Working out what switching to {target} changes...")
        self.run_worker(lambda: self._preview("switch", target), thread=True, group="prof-prev",
                        exit_on_error=False)

    def action_rollback(self) -> None:
        if self.busy or not self.can_rollback:
            return
        self._status("Working out what a rollback changes...")
        self.run_worker(lambda: self._preview("rollback", ""), thread=True, group="prof-prev",
                        exit_on_error=False)

    def _preview(self, action: str, target: str) -> None:
        backend = self.app.services.generations_backend()
        try:
            if action == "switch":
                changes = backend.preview_switch(self.project, target)
            else:
                target, changes = backend.preview_rollback(self.project)
        except Exception as exc:
            self.post_message(SwitchPreview(action, target, [], error=str(exc)))
            return
        self.post_message(SwitchPreview(action, target, list(changes)))

    def on_switch_preview(self, message: SwitchPreview) -> None:
        if message.error:
            self._status(Text(f"Cannot {message.action}: {message.error}", style="bold"))
            return
        from onboard.tui.screens.dialogs import ConfirmDialog

        self._status("")
        body = Text()
        body.append("What changes:\n", style="bold")
        body.append("\n".join(f"  {c}" for c in message.changes) if message.changes
                    else "  (no differences in packages or variables)")
        question = (f"Switch this project to {message.target}?" if message.action == "switch"
                    else f"Roll back to the previous generation ({message.target or 'unknown'})?")
        self.app.push_screen(ConfirmDialog(question, body, yes="Switch" if message.action == "switch"
                                           else "Roll back", no="Cancel"),
                             lambda yes: self._go(message.action, message.target) if yes else None)

    def _go(self, action: str, target: str) -> None:
        self.busy = action
        self.app.running = True  # quitting now could stop a generation half written
        self.model = RunModel()
        self.refresh_bindings()
        self._status(("Switching to " + target if action == "switch" else "Rolling back") + "...")
        self.run_worker(lambda: self._run(action, target), thread=True, exclusive=True, group="prof-run",
                        exit_on_error=False)

    def _run(self, action: str, target: str) -> None:
        backend = self.app.services.generations_backend()
        try:
            if action == "switch":
                msg = backend.switch(self.project, target, self.bridge)
            else:
                msg = backend.rollback(self.project, self.bridge)
        except Exception as exc:
            # only some of onboard's errors (GenerationError, EnvError) carry a hint
            hint = getattr(exc, "hint", "")
            self.post_message(SwitchDone(action, target, False, str(exc) + (f"\nWhat to do: {hint}" if hint else "")))
            return
        self.post_message(SwitchDone(action, target, True, msg))

    def on_events_pending(self, message: EventsPending) -> None:
        message.bridge.pending()

    def _deliver(self, events: list[Event]) -> None:
        self.model.feed_all(events)
        parts = [self.model.nix_summary()] + self.model.tail(1)
        self._status(("Switching" if self.busy == "switch" else "Rolling back") + "... " +
                     " | ".join(p for p in parts if p))

    def on_switch_done(self, message: SwitchDone) -> None:
        self.bridge.flush()
        self.busy = ""
        self.app.running = False
        self.refresh_bindings()
        if message.ok:
            self._status(Text(message.message or "Done.", style="bold"))
        else:
            t = Text(f"{message.action} failed: {message.message}", style="bold")
            tail = self.model.tail(5)
            if tail:
                t.append("\n" + "\n".join(tail))
            self._status(t)
        self.reload()
        self.run_worker(self._load_profiles, thread=True, group="prof-load", exit_on_error=False)

    def _status(self, text: Union[str, Text]) -> None:
        self.query_one("#prof-status", Static).update(text)
