"""Checks: the doctor's rows fill in live; each shows its status word, and its fix when not OK."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Label, ListItem, ListView, Static

from onboard.core.modes import MODES
from onboard.tui.bridge import EventBridge
from onboard.tui.messages import ChecksFinished, EventsPending
from onboard.tui.screens.base import StepScreen
from onboard.tui.state import CheckView, check_view
from onboard.tui.theme import badge
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.doctor import CheckFinished, CheckStarted
    from onboard.core.events import Event

MODE_NAMES = {m.id: m.label for m in MODES}


def check_body(c: CheckView) -> Text:
    t = Text()
    t.append(c.title, style="bold")
    if c.summary:
        t.append(": " + c.summary)
    if c.fix and c.status != "ok":
        t.append("\nfix: ", style="bold")
        t.append(c.fix)
    return t


def check_text(c: CheckView) -> Text:
    t = Text()
    t.append_text(badge(c.word))
    t.append(" ")
    t.append_text(check_body(c))
    return t


class CheckRow(ListItem):
    """Status word in its own column, so wrapped text stays clear of it."""

    def __init__(self, view: CheckView) -> None:
        self.word = Label(badge(view.word), classes="word")
        self.text = Static(check_body(view), classes="desc")
        super().__init__(Horizontal(self.word, self.text, classes="check-row"))
        self.view = view

    def update_view(self, view: CheckView) -> None:
        self.view = view
        self.word.update(badge(view.word))
        self.text.update(check_body(view))


def summary_line(results: list[CheckView]) -> str:
    counts = {s: sum(1 for r in results if r.status == s) for s in ("ok", "warn", "fail")}
    return (f"{len(results)} checks: {counts['ok']} OK, {counts['warn']} WARN, {counts['fail']} FAIL")


class ChecksScreen(StepScreen):
    STEP = "2/6 Checks"
    HELP = ("onboard checks this machine before changing anything: system, init, privileges, disk, "
            "an existing Nix, shells, direnv, editors, network. Each row says OK, WARN or FAIL; a row "
            "that is not OK says how to fix it. Fix what you can and press r to check again, or "
            "continue: the choices and the plan take the results into account.")
    BINDINGS = [
        # Enter continues wherever the focus is (a focused button or row does not change it)
        Binding("enter", "continue", "Continue", key_display="Enter", priority=True),
        Binding("r", "rerun", "Re-run checks"),
        Binding("e", "details", "Explain"),
        Binding("d", "details", "Details", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, CheckRow] = {}
        self.done = False
        self.bridge = EventBridge(self, self._deliver)

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static("Checking this machine (reading only, nothing changes)...", id="checks-status",
                     classes="lead")
        yield ListView(id="checks", classes="box")
        yield Static("", id="advice", classes="lead")
        with Horizontal(classes="buttons"):
            yield Button("Continue", id="continue", variant="primary", compact=True, disabled=True)
            yield Button("Re-run checks", id="rerun", compact=True, disabled=True)
        yield KeyBar()

    def on_mount(self) -> None:
        if self.app.state.checks:
            self._show_results(self.app.state.checks)
            self._finish(self.app.state.recommendation, self.app.state.checks_error)
        else:
            self.start_checks()

    # -- work ----------------------------------------------------------------------------------
    def start_checks(self) -> None:
        self.done = False
        self.rows.clear()
        self.query_one("#checks", ListView).clear()
        self.query_one("#checks-status", Static).update("Checking this machine (reading only, nothing changes)...")
        self.query_one("#advice", Static).update("")
        for b in self.query(Button):
            b.disabled = True
        self.run_worker(self._run, thread=True, exclusive=True, group="checks", exit_on_error=False)

    def _run(self) -> None:
        svc = self.app.services
        try:
            results = svc.run_checks(self.bridge)
        except Exception as exc:  # Unavailable or a broken check: say it, do not crash
            self.post_message(ChecksFinished([], error=str(exc)))
            return
        mode, reason = "", ""
        try:
            mode, reason = svc.recommend_mode(results)
        except Exception as exc:
            reason = f"no recommendation: {exc}"
        self.post_message(ChecksFinished([check_view(r) for r in results], mode, reason))

    # -- events --------------------------------------------------------------------------------
    def on_events_pending(self, message: EventsPending) -> None:
        message.bridge.pending()

    def _deliver(self, events: list[Event]) -> None:
        if self.done:
            return
        lv = self.query_one("#checks", ListView)
        for e in events:
            if e.kind == "check-started":
                started = cast("CheckStarted", e)
                view = CheckView(id=started.id, title=started.title or started.id, status="running",
                                 summary="checking...")
            elif e.kind == "check-finished":
                view = check_view(cast("CheckFinished", e))
            else:
                continue
            row = self.rows.get(view.id)
            if row is None:
                row = self.rows[view.id] = CheckRow(view)
                lv.append(row)
            else:
                row.update_view(view)
        n = sum(1 for r in self.rows.values() if r.view.status != "running")
        self.query_one("#checks-status", Static).update(f"Checking this machine... {n} done")

    def on_checks_finished(self, message: ChecksFinished) -> None:
        self.bridge.flush()
        st = self.app.state
        st.checks, st.checks_error = message.results, message.error
        st.recommendation = (message.mode, message.reason) if message.mode else None
        self.app.apply_recommendation()
        self.app.prepare_plan()  # made while the user reads the checks and the choices
        self._show_results(message.results)
        self._finish(st.recommendation, message.error)

    def _show_results(self, results: list[CheckView]) -> None:
        lv = self.query_one("#checks", ListView)
        lv.clear()
        self.rows = {}
        for view in results:
            self.rows[view.id] = CheckRow(view)
        lv.extend(self.rows.values())

    def _finish(self, recommendation: Optional[tuple[str, str]], error: str) -> None:
        self.done = True
        results = self.app.state.checks
        status = self.query_one("#checks-status", Static)
        advice = []
        if error:
            status.update(Text("The checks could not run: " + error, style="bold"))
            advice.append("You can continue, but nothing was checked: read the plan carefully.")
        else:
            status.update(Text(summary_line(results), style="bold"))
            fails = [r for r in results if r.status == "fail"]
            if fails:
                advice.append(f"{len(fails)} check(s) FAIL: fix them (see 'fix:' above) and press r, "
                              "or continue and read the plan.")
            st = self.app.state
            if st.unreachable("net-releases"):
                advice.append("The Nix release host is not reachable: Choices offers the team mirror, a "
                              "local tarball or a proxy.")
            if st.unreachable("net-cache"):
                advice.append("The binary cache is not reachable: Choices offers the team's cache if it names one, "
                              "else says how long building from source takes.")
        if recommendation:
            mode, reason = recommendation
            advice.append(f"Recommended install mode: {MODE_NAMES.get(mode, mode)}" + (f" ({reason})" if reason else ""))
        self.query_one("#advice", Static).update("\n".join(advice))
        cont = self.query_one("#continue", Button)
        cont.label = "Continue anyway" if (error or any(r.status == "fail" for r in results)) else "Continue"
        for b in self.query(Button):
            b.disabled = False
        cont.focus()
        if results:
            self.query_one("#checks", ListView).index = 0

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("continue", "rerun") and not self.done:
            return None  # shown dimmed until the checks are done
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "continue":
            self.action_continue()
        elif event.button.id == "rerun":
            self.action_rerun()

    def action_continue(self) -> None:
        if self.done:
            self.app.show_choices()

    def action_rerun(self) -> None:
        if self.done:
            self.start_checks()

    def action_details(self) -> None:
        lv = self.query_one("#checks", ListView)
        item = lv.highlighted_child
        if not isinstance(item, CheckRow):
            return
        from onboard.tui.screens.dialogs import TextScreen

        v = item.view
        body = check_text(v)
        if v.details:
            body.append("\n\n")
            for k, val in v.details.items():
                body.append(f"{k}: ", style="bold")
                body.append(f"{val}\n")
        self.app.push_screen(TextScreen(f"{v.title} ({v.word})", body))
