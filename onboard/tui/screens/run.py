"""Apply (and revert, and uninstall): a progress bar per action, Nix build and download
progress, a log pane that can be opened, elapsed time, and a cancel that stops between actions."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, ProgressBar, RichLog, Static

from onboard.tui.bridge import EventBridge, action_id_of
from onboard.tui.jobs import ApplyJob, Job, RevertJob, UninstallJob, receipt_has_changes
from onboard.tui.messages import EventsPending, RunFinished
from onboard.tui.progress import RunModel, status_word
from onboard.tui.screens.base import StepScreen
from onboard.tui.state import RunSummary
from onboard.tui.widgets.action_row import ActionRow
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.events import Event
    from onboard.tui.state import Row

__all__ = ["RunScreen", "ApplyJob", "RevertJob", "UninstallJob"]


def elapsed_text(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"elapsed {m}:{s:02d}"


class RunScreen(StepScreen):
    STEP = "5/6 Apply"
    CAN_GO_BACK = False
    HELP = ("onboard is changing the machine now, one step at a time; each step is written to the "
            "receipt before and after it runs. c cancels: the current step finishes, nothing after "
            "it starts, and you can then resume or undo. l opens the log. There is no going back "
            "with Esc here: use cancel, then undo.")
    BINDINGS = [
        Binding("c", "cancel_run", "Cancel"),
        Binding("l", "toggle_log", "Log"),
        Binding("q", "app.quit_app", "Quit"),
    ]

    def __init__(self, job: Job, rows: list[Row]) -> None:
        super().__init__()
        from onboard.core.engine.plan import CancelToken

        self.job = job
        # notes are said as they come; they are not steps (the engine does not count them either)
        self.model = RunModel([r for r in rows if r.get("status") != "note"],
                              mode="revert" if job.kind != "apply" else "apply")
        self.cancel = CancelToken()
        self.bridge = EventBridge(self, self._deliver)
        self.rows: dict[str, ActionRow] = {}
        self.started = 0.0
        self.finished = False
        self.log_written = 0
        if job.kind != "apply":
            self.STEP = {"revert": "Undo", "uninstall": "Uninstall"}.get(job.kind, job.kind)

    def compose(self) -> ComposeResult:
        yield TitleBar()
        yield Static(Text(f"{self.job.verb}: {self.job.title}", style="bold"), id="run-title", classes="lead")
        with Horizontal(id="overall"):
            yield Label("", id="overall-label", classes="label")
            yield ProgressBar(total=max(self.model.total, 1), show_eta=False, id="overall-bar")
            yield Label(elapsed_text(0), id="elapsed")
        yield Static("", id="nix", classes="muted hidden")
        with VerticalScroll(id="actions", classes="box"):
            for view in self.model.views():
                row = self.rows[view.id] = ActionRow(view)
                yield row
        yield RichLog(id="log-pane", classes="hidden", max_lines=2000, wrap=False, markup=False)
        yield Static("", id="run-status", classes="lead")
        yield KeyBar()

    def on_mount(self) -> None:
        self.app.running = True
        self.started = time.monotonic()
        self._update_overall()
        self._set_status()
        self.set_interval(1.0, self._tick)
        # A plain daemon thread, not a Textual worker: leaving with a second Ctrl+C must not wait
        # for a step that hangs (each step is journaled before it runs). It only posts messages.
        import threading

        threading.Thread(target=self._work, name="onboard-run", daemon=True).start()

    # -- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        log_path = ""
        try:
            try:
                log_path = str(self.bridge.open_log(self.app.services.log_dir(), self.job.log_name))
            except OSError:
                log_path = ""
            result = self.job.run(self.bridge, self.cancel)
        except Exception as exc:  # a bug in a job: still end on the failure screen
            from onboard.tui.jobs import JobResult

            result = JobResult("failed", [f"{type(exc).__name__}: {exc}"])
        finally:
            self.bridge.close_log()
        self.post_message(RunFinished(result.status, result.errors, result.outcome, log_path,
                                      result.answers_path))

    # -- events ------------------------------------------------------------------------------
    def on_events_pending(self, message: EventsPending) -> None:
        message.bridge.pending()

    def _deliver(self, events: list[Event]) -> None:
        touched: set[str] = set()
        for e in events:
            self.model.feed(e)
            aid = action_id_of(e)
            if aid:
                touched.add(aid)
        container = self.query_one("#actions", VerticalScroll)
        for aid in touched:
            view = self.model.actions.get(aid)
            if view is None:
                continue
            row = self.rows.get(aid)
            if row is None:
                row = self.rows[aid] = ActionRow(view)
                container.mount(row)
            else:
                row.refresh_view()
        current = self.rows.get(self.model.current)
        if current is not None and current.is_mounted:
            container.scroll_to_widget(current, animate=False)
        self._update_overall()
        self._write_log()
        self._set_status()

    def _update_overall(self) -> None:
        m = self.model
        total = max(m.total, len(m.order), 1)
        self.query_one("#overall-label", Label).update(f"{m.finished} of {total} steps")
        self.query_one("#overall-bar", ProgressBar).update(total=total, progress=m.finished)
        nix = m.nix_summary()
        w = self.query_one("#nix", Static)
        text = Text("Nix: " + nix if nix else "")
        cur = m.actions.get(m.current)
        if cur is not None and cur.id.startswith("profile-env:"):
            # the build's own last lines, live (the log pane, l, has all of them)
            lines = [line for aid, _, line in list(m.log)[-40:] if aid == cur.id][-3:]
            for line in lines:
                text.append(("\n" if text.plain else "") + "  | " + line, style="dim")
        w.update(text)
        w.set_class(not text.plain, "hidden")

    def _write_log(self) -> None:
        m = self.model
        new = m.log_total - self.log_written
        if new <= 0:
            return
        lines = list(m.log)[-min(new, len(m.log)):]
        pane = self.query_one("#log-pane", RichLog)
        for _, level, line in lines:
            pane.write(Text(line, style="bold" if level in ("warn", "error") else ""))
        self.log_written = m.log_total

    def _set_status(self) -> None:
        if self.finished:
            return
        st = self.query_one("#run-status", Static)
        if self.cancel.cancelled:
            st.update(Text("Cancelling: the current step finishes, nothing after it starts...", style="bold"))
            return
        cur = self.model.actions.get(self.model.current)
        what = f"Now: {cur.description}. " if cur else ""
        tail = "c cancels (stops between steps), l shows the log." if self.job.cancellable else "l shows the log."
        st.update(what + tail)

    def _tick(self) -> None:
        if not self.finished:
            self.query_one("#elapsed", Label).update(elapsed_text(time.monotonic() - self.started))

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run" and (not self.job.cancellable or self.finished):
            return None
        return super().check_action(action, parameters)

    def action_cancel_run(self) -> None:
        if self.job.cancellable and not self.finished:
            self.cancel.cancel()
            self._set_status()
            self.refresh_bindings()

    def action_toggle_log(self) -> None:
        self.query_one("#log-pane", RichLog).toggle_class("hidden")

    # -- the end -------------------------------------------------------------------------------
    def on_run_finished(self, message: RunFinished) -> None:
        self.bridge.flush()
        self.finished = True
        self.app.running = False
        m = self.model
        status = message.status
        if status == "ok" and m.status == "cancelled":
            status = "cancelled"
        outcome = message.outcome
        receipt = outcome.receipt if outcome is not None else None
        job = self.job
        choices = job.choices if isinstance(job, ApplyJob) else None  # only an apply has choices
        summary = RunSummary(
            kind=self.job.kind, title=self.job.title, status=status,
            changed=[(status_word(v.status), v.description) for v in m.views() if v.status != "waiting"],
            total=max(m.total, len(m.order)), failure=m.failure,
            errors=list(message.errors) or list(m.errors), tail=m.tail(), log_path=message.log_path,
            answers_path=message.answers_path,
            receipt_path=str((receipt.path if receipt is not None else None) or ""),
            can_revert=self.job.kind == "apply" and receipt_has_changes(outcome),
            profile=(choices.profile if choices is not None else "") or "",
            outcome=outcome,
            project=(choices.project_dir if choices is not None else "") or "",
            hook=next((h for h in ("direnv", "lorri") if choices is not None and h in choices.components), ""),
            built=any(v.id.startswith("profile-env:") and v.status in ("done", "skipped") for v in m.views()),
        )
        self.app.run_ended(summary)
