"""Welcome: who this is for, what will happen, and how to undo it. Drawn with textual alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from onboard.tui.messages import TeamLoaded
from onboard.tui.screens.base import StepScreen
from onboard.tui.widgets.bars import KeyBar, TitleBar

if TYPE_CHECKING:
    from onboard.core.teamconfig import TeamConfig

STEPS = """\
What will happen:
  1. Check this machine (reads only, changes nothing)
  2. Pick your setup: Nix install mode, profile, shell hook, editors
  3. Review every change with its path; nothing runs until you confirm
  4. Apply it with live progress; cancel stops safely between steps
  5. Enter your team's dev shell"""

UNDO = ("How to undo it: every change is recorded in a receipt with a backup of each file "
        "it touches. `onboard uninstall` (or u here) puts everything back.")


def welcome_title(team: str) -> str:
    return f"Welcome to onboard for the {team} team" if team else "Welcome to onboard"


class WelcomeScreen(StepScreen):
    CSS_PATH = None  # the shared styles are enough: it draws before anything else loads
    STEP = "1/6 Welcome"
    HELP = ("onboard takes this machine to your team's pinned Nix dev shell. Press Enter to start: "
            "it first checks the machine without changing anything. You can leave at any point "
            "before the Apply step and nothing will have changed.")
    BINDINGS = [
        Binding("enter", "start", "Start", key_display="Enter"),
        Binding("p", "profiles", "Profiles"),
        Binding("u", "uninstall", "Uninstall"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "quit", "Quit", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield TitleBar()
        with VerticalScroll(id="welcome-body"):
            yield Static(welcome_title(""), id="welcome-title", classes="title")
            yield Static("", id="welcome-team", classes="lead")
            yield Static(self.body(), classes="lead")
            demo = self.app.state.demo_dir
            if demo:
                yield Static(f"DEMO MODE: the plan only makes harmless changes inside {demo}.",
                             classes="notice")
        yield KeyBar()

    @staticmethod
    def body() -> Text:
        t = Text()
        t.append("onboard sets this machine up for your team: Nix, the team's pinned development "
                 "shell, and the hooks that load it in your shell and editor.\n\n")
        t.append(STEPS + "\n\n")
        t.append(UNDO + "\n\n")
        t.append("Press Enter to start", style="bold reverse")
        t.append("  (p profiles, u uninstall, q quit, ? help)")
        return t

    def on_mount(self) -> None:
        st = self.app.state
        if st.team is not None or st.team_error:
            self._show_team(st.team, st.team_error)
        else:
            # The team config is read off the loop, once the screen has drawn (a thread
            # started earlier would compete with the first frame).
            self.call_after_refresh(self.run_worker, self._load_team, thread=True, exit_on_error=False,
                                    group="team")

    def _load_team(self) -> None:
        try:
            team = self.app.services.load_team()
        except Exception as exc:  # an invalid team config: every problem, said once
            self.post_message(TeamLoaded(None, str(exc)))
            return
        self.post_message(TeamLoaded(team))  # found or not: the answers can be completed now

    def on_team_loaded(self, message: TeamLoaded) -> None:
        self.app.team_loaded(message.team, message.error)
        self._show_team(message.team, message.error)

    def _show_team(self, team: Optional[TeamConfig], error: str) -> None:
        name = (team.team if team is not None else "") or ""
        self.query_one("#welcome-title", Static).update(welcome_title(name))
        line = self.query_one("#welcome-team", Static)
        if error:
            lines = error.splitlines()
            more = f"\n(+{len(lines) - 3} more)" if len(lines) > 3 else ""
            line.update(Text("The team config has problems, so its defaults are not used:\n"
                             + "\n".join(lines[:3]) + more, style="bold"))
        elif team is not None:
            t = Text()
            profile = team.default_profile
            path = team.path
            if path:
                t.append(f"Team config: {path}")
            if profile:
                t.append(("; " if path else "") + f"your default profile: {profile}")
            line.update(t)
        line.display = bool(error or team is not None)

    def action_start(self) -> None:
        self.app.show_checks()

    def action_profiles(self) -> None:
        self.app.show_profiles()

    def action_uninstall(self) -> None:
        self.app.show_uninstall()

    def action_quit(self) -> None:
        self.app.action_quit_app()
