"""The Textual app: holds the services and what the user chose, and moves between screens.

Screens are imported when first shown, so the Welcome screen draws with textual alone.
Everything slow runs in the screens' thread workers, which call `Services`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable, Optional

from textual.app import App
from textual.binding import Binding

from onboard.tui.messages import PlanMade
from onboard.tui.outcome import INTERRUPTED, exit_code, leaving_line
from onboard.tui.services import Services
from onboard.tui.state import AppState, PlanPrep, RunSummary
from onboard.tui.theme import ONBOARD

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.doctor import CheckResult
    from onboard.core.engine.plan import Plan
    from onboard.core.events import Emitter
    from onboard.core.teamconfig import TeamConfig
    from onboard.core.uninstall import UninstallPlan
    from onboard.tui.generations import GenerationsBackend
    from onboard.tui.screens.base import StepScreen
    from onboard.tui.screens.welcome import WelcomeScreen
    from onboard.tui.state import Row

@dataclass
class TuiResult:
    """What the user asked for when leaving: "quit", or "shell" to enter PROFILE's shell now."""

    action: str = "quit"
    profile: str = ""
    code: int = 0
    message: str = ""  # the one line left on the terminal


class OnboardApp(App[TuiResult]):
    TITLE = "onboard"
    CSS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onboard.tcss")
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("ctrl+c", "interrupt", "Quit", show=False, priority=True),
    ]

    def __init__(self, services: Optional[Services] = None, *, demo_dir: str = "",
                 plan_factory: Optional[Callable[[Choices], Plan]] = None,
                 doctor: Optional[Callable[[Emitter], list[CheckResult]]] = None,
                 generations: Optional[GenerationsBackend] = None, choices: Optional[Choices] = None,
                 start: str = "welcome") -> None:
        super().__init__()
        svc = services or Services()
        if plan_factory is not None:
            svc = replace(svc, build_plan=plan_factory)
        if doctor is not None:
            svc = replace(svc, run_checks=doctor)
        if generations is not None:
            svc = replace(svc, generations=generations)
        self.services = svc
        self.state = AppState(demo_dir=demo_dir, choices=choices)
        self.start = start
        self.running = False  # a run (apply, revert, uninstall) is changing the machine
        self._plan_busy = False  # a plan is being made in the background (one at a time)
        self.register_theme(ONBOARD)
        self.theme = "onboard"
        if demo_dir:
            self.sub_title = "DEMO: harmless changes in a demo folder only"

    # -- start ---------------------------------------------------------------------------------
    def get_default_screen(self) -> WelcomeScreen:
        """The Welcome screen is the bottom of the stack (no blank screen is drawn first)."""
        from onboard.tui.screens.welcome import WelcomeScreen

        return WelcomeScreen()

    def on_mount(self) -> None:
        if self.start == "profiles":
            self.show_profiles()
        elif self.start == "uninstall":
            self.show_uninstall()

    # -- help and quit ---------------------------------------------------------------------------
    def action_help(self) -> None:
        from onboard.tui.screens.dialogs import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen.for_screen(self.screen))

    def action_quit_app(self) -> None:
        if self.running:
            self.notify("A change is running: wait for it to finish (on the Apply screen, c "
                        "cancels it between steps), then quit.", severity="warning", timeout=4)
            return
        self.leave(exit_code(self.state))

    def action_interrupt(self) -> None:
        """Ctrl+C: leave with 130. During a run, the run stops between steps first (its
        current step finishes and is recorded); a second Ctrl+C leaves at once."""
        if self.running and not self.state.interrupted:
            self.state.interrupted = True
            from onboard.tui.screens.run import RunScreen

            if isinstance(self.screen, RunScreen):
                self.screen.action_cancel_run()
            self.notify("Stopping after the current step, then leaving (Ctrl+C again: leave now).",
                        severity="warning", timeout=4)
            return
        self.leave(INTERRUPTED)

    def leave(self, code: int) -> None:
        self.exit(TuiResult("quit", code=code, message=leaving_line(self.state, code)))

    # -- the answers ---------------------------------------------------------------------------
    def choices(self) -> Choices:
        """The answers being made (exactly what `onboard apply --answers` replays), created on
        first use with what the team config fills in."""
        st = self.state
        if st.choices is None:
            from onboard.core.choices import Choices

            st.choices = Choices(demo_dir=st.demo_dir)
            self.seed_choices()
        return st.choices

    def seed_choices(self) -> None:
        """Fill the answers from the team config (and the project folder from the checkout):
        the core's one call, as the command line makes it."""
        st = self.state
        if st.choices is None or not st.team_loaded or st.demo_dir or st.team_seeded:
            return
        st.team_seeded = True
        try:
            st.choices.team_applied.update(self.services.seed_choices(st.team, st.choices) or {})
        except Exception as exc:  # a team config the core cannot apply: say so, go on without
            st.team_error = f"could not apply the team config: {exc}"
        if "mode" in st.choices.team_applied:
            st.mode_chosen = True  # the team's mode is the default; the doctor's is shown beside it

    def team_loaded(self, team: Optional[TeamConfig], error: str) -> None:
        self.state.team, self.state.team_error = team, error
        self.state.team_loaded = True
        self.seed_choices()
        if self.state.checks or self.state.checks_error:
            self.prepare_plan()

    def apply_recommendation(self) -> None:
        """The doctor's install mode, unless the user (or the team config) chose one."""
        st = self.state
        c = self.choices()
        if st.recommendation and not st.mode_chosen:
            c.mode = st.recommendation[0]

    # -- the plan, made ahead --------------------------------------------------------------------
    #: a plan made ahead is shown for the same answers this long after it was made; later the
    #: machine may have changed, and it is made again
    PLAN_FRESH_S = 120.0

    @staticmethod
    def plan_key(choices: Choices) -> str:
        import json

        return json.dumps(choices.to_dict(), sort_keys=True, default=str)

    def prepare_plan(self) -> None:
        """Start making the plan for the current answers in the background (nothing changes), so
        the Plan screen shows it at once; called when the answers are known and after each
        change. Answers that are not valid yet, or a run in progress, start nothing."""
        st = self.state
        if self.running or not (st.team_loaded or st.demo_dir):
            return
        c = self.choices()
        try:
            c.validate()
        except ValueError:
            return
        self.plan_for(c)

    def plan_for(self, choices: Choices) -> PlanPrep:
        """The plan for `choices`: the one made (or being made) ahead for the same answers, else
        a new one, started now or as soon as the one being made ends (one plan at a time:
        planning reads the environment, and two at once would only slow each other)."""
        import copy
        import time

        st = self.state
        key = self.plan_key(choices)
        prep = st.prep
        if prep is not None and prep.key == key and (
                prep.status in ("waiting", "making")
                or (prep.status == "ready" and time.monotonic() - prep.made_at < self.PLAN_FRESH_S)):
            return prep
        prep = st.prep = PlanPrep(key=key, choices=copy.deepcopy(choices))
        if not self._plan_busy:
            self._start_plan(prep)
        return prep

    def _start_plan(self, prep: PlanPrep) -> None:
        from functools import partial

        prep.status = "making"
        self._plan_busy = True
        self.run_worker(partial(self._make_plan, prep), thread=True, group="plan-ahead", exit_on_error=False)

    def _make_plan(self, prep: PlanPrep) -> None:
        """In a worker thread: the whole plan and its preview, or why not; then one message."""
        # the screens that show it and apply it, loaded here, off the loop: Apply then starts at once
        import onboard.tui.screens.plan  # noqa: F401
        import onboard.tui.screens.run  # noqa: F401

        svc = self.services
        assert prep.choices is not None
        try:
            plan = svc.build_plan(prep.choices)
            rows = svc.preview(plan)
        except Exception as exc:
            # only some of onboard's errors (PlanningError, ActionError) carry a hint
            prep.error, prep.hint = str(exc), str(getattr(exc, "hint", "") or "")
            self.post_message(PlanMade(prep, "failed"))
            return
        prep.plan, prep.rows = plan, rows
        self.post_message(PlanMade(prep, "ready"))

    def on_plan_made(self, message: PlanMade) -> None:
        import time

        self._plan_busy = False
        prep = message.prep
        prep.status, prep.made_at = message.status, time.monotonic()
        for screen in self.screen_stack:
            shown = getattr(screen, "plan_made", None)
            if shown is not None:
                shown(prep)
        latest = self.state.prep
        if latest is not None and latest is not prep and latest.status == "waiting":
            self._start_plan(latest)  # the answers changed while this one was being made

    # -- the flow ----------------------------------------------------------------------------------
    def show_checks(self) -> None:
        from onboard.tui.screens.checks import ChecksScreen

        self.push_screen(ChecksScreen())

    def show_choices(self) -> None:
        from onboard.tui.screens.choices import ChoicesScreen

        self.push_screen(ChoicesScreen())

    def show_plan(self) -> None:
        from onboard.tui.screens.plan import PlanScreen

        self.push_screen(PlanScreen(self.choices()))

    def _replace_top(self, screen: StepScreen) -> None:
        """Replace the top screen (a run has no way back to the screen that started it); the
        Welcome at the bottom of the stack is never replaced, only covered."""
        if len(self.screen_stack) > 1:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def start_apply(self, plan: Plan, rows: list[Row]) -> None:
        """Confirmed: from here on there is no going back with Esc, only cancel or revert."""
        from onboard.tui.screens.run import ApplyJob, RunScreen

        self.state.plan, self.state.rows = plan, rows
        self._replace_top(RunScreen(ApplyJob(self.services, plan, self.choices()), rows))

    def start_revert(self, summary: RunSummary) -> None:
        from onboard.tui.screens.run import RevertJob, RunScreen

        self._replace_top(RunScreen(RevertJob(self.services, summary.outcome, summary.title), []))

    def start_uninstall(self, plan: UninstallPlan, rows: list[Row]) -> None:
        from onboard.tui.screens.run import RunScreen, UninstallJob

        self._replace_top(RunScreen(UninstallJob(self.services, plan), rows))

    def run_ended(self, summary: RunSummary) -> None:
        self.state.last_run = summary
        self.clear_notifications()  # "a change is running" is over
        if self.state.interrupted:
            self.leave(INTERRUPTED)
            return
        if summary.status == "ok":
            from onboard.tui.screens.done import DoneScreen

            self._replace_top(DoneScreen(summary))
        else:
            from onboard.tui.screens.failure import FailureScreen

            self._replace_top(FailureScreen(summary))

    def retry(self, summary: RunSummary) -> None:
        if summary.kind == "uninstall":
            self.switch_screen_to_uninstall()
        elif self.state.plan is not None:
            self.start_apply(self.state.plan, self.state.rows)

    def choose_source_again(self) -> None:
        """After a download failed: back to Choices (on the Nix release row), then a new plan."""
        from onboard.tui.screens.choices import ChoicesScreen

        self._replace_top(ChoicesScreen(focus="source"))

    def switch_screen_to_uninstall(self) -> None:
        from onboard.tui.screens.uninstall import UninstallScreen

        self._replace_top(UninstallScreen())

    def show_profiles(self) -> None:
        from onboard.tui.screens.profiles import ProfilesScreen

        self.push_screen(ProfilesScreen())

    def show_uninstall(self) -> None:
        from onboard.tui.screens.uninstall import UninstallScreen

        self.push_screen(UninstallScreen())

    def enter_shell(self, profile: str) -> None:
        self.exit(TuiResult("shell", profile=profile,
                            message=f"onboard: setup done; entering the environment of profile {profile} "
                                    "(`exit` leaves it; `onboard shell " + profile + "` enters it again)."))
