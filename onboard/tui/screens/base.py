"""What every onboard screen has: a header naming the step, help on `?`, key bindings in the
footer, and Esc going back (before Apply)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar, Optional

from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

if TYPE_CHECKING:
    from textual import getters

    from onboard.tui.app import OnboardApp

#: the flow's styles, loaded when the first flow screen or dialog opens (not for the Welcome)
FLOW_CSS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flow.tcss")

#: below this size a screen shows a notice instead of its content
MIN_WIDTH, MIN_HEIGHT = 60, 18


class TooSmallNotice(Static):
    def show_size(self, width: int, height: int) -> None:
        self.update(f"This terminal is {width}x{height}; onboard needs at least {MIN_WIDTH}x{MIN_HEIGHT}.\n"
                    "Make the window bigger (nothing is lost), or press Ctrl+C to quit and use "
                    "`onboard install` instead.")


class StepScreen(Screen[None]):
    CSS_PATH: ClassVar[Optional[str]] = FLOW_CSS
    #: shown by `?` together with the screen's key bindings
    HELP: ClassVar[str] = ""
    #: header text, e.g. "2/6 Checks" (a screen may set its own when made)
    STEP: str = ""
    #: False on screens where going back would be a lie (Apply and after)
    CAN_GO_BACK: ClassVar[bool] = True

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("q", "app.quit_app", "Quit"),
    ]

    if TYPE_CHECKING:
        # Every onboard screen runs in OnboardApp (Textual's way to say so). For the type
        # checker only: at run time Textual's own `app` property is used, unchanged.
        app = getters.app(OnboardApp)

    def on_mount(self) -> None:
        demo = self.app.state.demo_dir
        self.title = "onboard" + (f" {self.STEP}" if self.STEP else "")
        self.sub_title = "DEMO: harmless changes in a demo folder only" if demo else ""
        from onboard.tui.widgets.bars import TitleBar

        for bar in self.query(TitleBar):
            bar.show(self.title, self.sub_title)
        self.check_size()

    def on_resize(self, event: events.Resize) -> None:
        self.check_size()

    def on_screen_resume(self) -> None:
        self.check_size()

    def check_size(self) -> None:
        """Too small: hide everything but a notice (no crash, no lost state); big enough: undo that."""
        w, h = self.app.size
        small = w < MIN_WIDTH or h < MIN_HEIGHT
        if small:
            notices = self.query(TooSmallNotice)
            if notices:
                notice = notices.first()
            else:  # made only when needed: the normal start-up stays lean
                notice = TooSmallNotice(id="too-small")
                self.mount(notice)
            notice.show_size(w, h)
        self.set_class(small, "-too-small")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back" and not self.CAN_GO_BACK:
            return False
        return True

    def action_back(self) -> None:
        if self.CAN_GO_BACK and len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        elif self.CAN_GO_BACK:
            self.app.action_quit_app()
