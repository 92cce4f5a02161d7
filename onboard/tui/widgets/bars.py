"""A one-line title bar and a one-line key bar.

Both are single Static widgets: cheap to draw (the first screen must appear fast) and
readable without colour (keys in reverse video, unavailable keys dimmed and marked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.screen import Screen


class TitleBar(Static):
    DEFAULT_CSS = """
    TitleBar {
        height: 1;
        background: $panel;
        text-style: bold;
        padding: 0 1;
    }
    """

    def on_mount(self) -> None:
        self.show(self.screen.title or self.app.title, self.screen.sub_title or "")

    def show(self, title: str, sub: str = "") -> None:
        t = Text(title or "", style="bold")
        if sub:
            t.append("  |  ")
            t.append(sub, style="bold reverse")
        self.update(t)


class KeyBar(Static):
    """The screen's key bindings, e.g. "⏎ Start  p Profiles  ? Help"; refreshed when they change."""

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        dock: bottom;
        background: $panel;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self._draw()

    def _changed(self, screen: Screen[object]) -> None:
        if screen is self.screen:
            self._draw()

    def _draw(self) -> None:
        t = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for _key, active in self.screen.active_bindings.items():
            b = active.binding
            if not b.show or not b.description or b.action in seen:
                continue
            seen.add(b.action)
            key = b.key_display or self.app.get_key_display(b)
            if active.enabled:
                t.append(f" {key} ", style="bold reverse")
                t.append(f" {b.description} ")
            else:
                t.append(f" {key} ", style="dim")
                t.append(f" {b.description} (not now) ", style="dim")
        self.update(t)
