"""Profiles: the team's profiles and this project's generations; switch (after seeing what it
changes) and roll back. Below them, the active profile's services with their state: start
and stop them, read a service's log (all through the core's services control, in workers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional, Union

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from onboard.tui.bridge import EventBridge
from onboard.tui.messages import (EventsPending, GenerationsLoaded, ProfilesLoaded, SwitchDone,
                                  SwitchPreview)
from onboard.tui.progress import RunModel
from onboard.tui.screens.base import StepScreen
from onboard.tui.screens.dialogs import Dialog
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


@dataclass
class ServicesLoaded(Message, bubble=False):
    """The active profile's services and their state (status rows of the core)."""

    profile: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ServicesLoaded)


@dataclass
class ServicesProgress(Message, bubble=False):
    service: str
    state: str
    seconds: float


@dataclass
class ServicesDone(Message, bubble=False):
    ok: bool
    message: str


@dataclass
class ServiceLog(Message, bubble=False):
    name: str
    path: str
    lines: list[str]


SERVICE_STATES = {"initializing": "creating its data", "waiting": "waiting", "starting": "starting",
                  "ready": "ready", "stopped": "stopped", "failed": "FAILED", "exited": "EXITED"}


def service_text(row: dict[str, Any]) -> Text:
    """One service: its name, its state in words (never colour alone), port, pid, uptime."""
    t = Text()
    t.append(f"{row['name']:<12}", style="bold")
    state = row.get("state") or "stopped"
    t.append(f" {SERVICE_STATES.get(state, state):<10}", style="bold" if state in ("failed", "exited") else "")
    if row.get("port"):
        t.append(f" 127.0.0.1:{row['port']}")
    if row.get("pid") and state not in ("stopped", "failed"):
        t.append(f"  pid {row['pid']}", style="dim")
    if row.get("uptime") is not None:
        up = int(row["uptime"])
        t.append(f"  up {up} s" if up < 120 else f"  up {up // 60} min", style="dim")
    if row.get("ephemeral"):
        t.append("  (ephemeral)", style="dim")
    return t


class LogDialog(Dialog[None]):
    """The last lines of a service's log, and where the whole log is."""

    BINDINGS = [Binding("escape,enter,l", "cancel", "Close")]

    def __init__(self, name: str, path: str, lines: list[str]) -> None:
        super().__init__()
        self.service, self.path, self.lines = name, path, lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"The log of {self.service}", classes="title")
            with VerticalScroll(classes="body"):
                yield Static(Text("\n".join(self.lines) if self.lines else "(nothing logged yet)"))
            yield Static(Text(f"The whole log: {self.path}", style="dim"))
        yield KeyBar()


class ProfilesScreen(StepScreen):
    STEP = "Profiles"
    HELP = ("The team's profiles (top) and this project's generations (bottom). Every switch makes a "
            "new generation; rollback returns to the previous one. Before either, onboard shows what "
            "it changes and asks. Switching may build with Nix: progress shows at the bottom. "
            "The active profile's services are listed below them: u starts them all and returns "
            "once each answers, d stops them (their data is kept), l shows the highlighted "
            "service's log.")
    BINDINGS = [
        Binding("s", "switch", "Switch to it"),
        Binding("b", "rollback", "Rollback"),
        Binding("u", "services_up", "Start services"),
        Binding("d", "services_down", "Stop services"),
        Binding("l", "service_log", "Log"),
        Binding("escape", "back", "Back"),
    ]
    DEFAULT_CSS = """
    #svc-list { height: auto; max-height: 6; }
    """
    REFRESH_SECONDS = 2.0

    def __init__(self, project: str = "") -> None:
        super().__init__()
        self.project = project
        self.gen_state: Optional[ProjectState] = None
        self.busy = ""
        self.model = RunModel()
        self.bridge = EventBridge(self, self._deliver)
        self.svc_rows: list[dict[str, Any]] = []
        self.svc_profile = ""
        self.svc_busy = ""  # "up" or "down" while the core works

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("", id="prof-head", classes="lead")
        yield OptionList(id="prof-list", classes="box")
        yield Static("Generations", classes="title")
        with VerticalScroll(id="gen-scroll", classes="box"):
            yield Static("Loading...", id="gen-list")
        yield Static("Services", classes="title", id="svc-title")
        yield OptionList(id="svc-list", classes="box")
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
        self._show_services(False)
        self.set_interval(self.REFRESH_SECONDS, self.reload_services)

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

    def reload_services(self) -> None:
        if not self.svc_busy:
            self.run_worker(self._load_services, thread=True, exclusive=True, group="svc-state",
                            exit_on_error=False)

    def _load_services(self) -> None:
        from onboard.core.services import control

        try:
            _root, profile, rows = control.project_status(self.project)
        except control.ServicesError as exc:
            self.post_message(ServicesLoaded("", [], error=exc.message))
            return
        except Exception as exc:  # a broken state file: said on the screen, not a crash
            self.post_message(ServicesLoaded("", [], error=str(exc)))
            return
        self.post_message(ServicesLoaded(profile, rows))

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
        if action in ("services_up", "services_down", "service_log"):
            if not self.svc_rows:
                return None
            if action != "service_log" and (self.svc_busy or self.busy):
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
        self.reload_services()
        self.run_worker(self._load_profiles, thread=True, group="prof-load", exit_on_error=False)

    # -- services ------------------------------------------------------------------------------
    def _show_services(self, show: bool) -> None:
        for wid in ("#svc-title", "#svc-list"):
            self.query_one(wid).display = show

    def on_services_loaded(self, message: ServicesLoaded) -> None:
        if self.svc_busy:
            return
        self.svc_profile = message.profile
        self.svc_rows = message.rows
        ol = self.query_one("#svc-list", OptionList)
        title = self.query_one("#svc-title", Static)
        if message.error:
            self._show_services(True)
            title.update("Services")
            ol.clear_options()
            ol.add_option(Option(Text("Services are not available: " + message.error), id="", disabled=True))
            self.refresh_bindings()
            return
        self._show_services(bool(message.rows))
        title.update(f"Services of {message.profile}")
        keep = ol.highlighted
        ol.clear_options()
        for row in message.rows:
            ol.add_option(Option(service_text(row), id=row["name"]))
        if message.rows:
            ol.highlighted = keep if keep is not None and keep < len(message.rows) else 0
        self.refresh_bindings()

    def _svc_selected(self) -> Optional[dict[str, Any]]:
        ol = self.query_one("#svc-list", OptionList)
        if ol.highlighted is None or not self.svc_rows:
            return None
        name = ol.get_option_at_index(ol.highlighted).id
        return next((r for r in self.svc_rows if r["name"] == name), None)

    def action_services_up(self) -> None:
        self._svc_go("up")

    def action_services_down(self) -> None:
        self._svc_go("down")

    def _svc_go(self, what: str) -> None:
        if self.svc_busy or self.busy or not self.svc_rows:
            return
        self.svc_busy = what
        self.refresh_bindings()
        self._status("Starting the services (the environment is built first when needed)..." if what == "up"
                     else "Stopping the services...")
        self.run_worker(lambda: self._svc_run(what), thread=True, exclusive=True, group="svc-run",
                        exit_on_error=False)

    def _svc_run(self, what: str) -> None:
        from onboard.core.services import control

        try:
            root, name, _rows = control.project_status(self.project)
            profile, dirs = control.project_profile(root, name)
            if what == "up":
                def emit(ev: Any) -> None:
                    if isinstance(ev, control.Progress) and ev.service != "*":
                        self.post_message(ServicesProgress(ev.service, ev.state, ev.seconds))

                res = control.up(root, profile, emit=emit, dirs=dirs)
                msg = (f"The services are up ({res.seconds:.1f} s)." if res.started
                       else "The services were up already.")
            else:
                left = control.down(root)
                if left:
                    raise control.ServicesError(f"could not stop pids {', '.join(left)}",
                                                "stop them by hand (kill -9 PID)")
                msg = "The services are stopped (their data is kept)."
        except control.ServicesError as exc:
            self.post_message(ServicesDone(False, exc.message + (f"\nWhat to do: {exc.hint}" if exc.hint else "")
                                           + "".join(f"\n  | {line}" for line in exc.log[-5:])))
            return
        except Exception as exc:
            self.post_message(ServicesDone(False, str(exc)))
            return
        self.post_message(ServicesDone(True, msg))

    def on_services_progress(self, message: ServicesProgress) -> None:
        self._status(f"Starting the services... {message.service}: "
                     f"{SERVICE_STATES.get(message.state, message.state)} ({message.seconds:.1f} s)")

    def on_services_done(self, message: ServicesDone) -> None:
        what = self.svc_busy
        self.svc_busy = ""
        self.refresh_bindings()
        if message.ok:
            self._status(Text(message.message, style="bold"))
        else:
            self._status(Text(f"{'Starting' if what == 'up' else 'Stopping'} the services failed: "
                              f"{message.message}", style="bold"))
        self.reload_services()

    def action_service_log(self) -> None:
        row = self._svc_selected()
        if row is None:
            return
        name, path = row["name"], row.get("log") or ""
        self.run_worker(lambda: self._read_log(name, path), thread=True, group="svc-log", exit_on_error=False)

    def _read_log(self, name: str, path: str) -> None:
        from onboard.core.services import control

        self.post_message(ServiceLog(name, path, control.tail(path, 40)))

    def on_service_log(self, message: ServiceLog) -> None:
        self.app.push_screen(LogDialog(message.name, message.path, message.lines))

    def _status(self, text: Union[str, Text]) -> None:
        self.query_one("#prof-status", Static).update(text)
