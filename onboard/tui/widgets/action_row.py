"""One action of a run on one line: status word, what it does, a bar and the detail.

A single Static that draws its own bar (plans have dozens of actions: one cheap widget
each keeps opening the Apply screen and redrawing it fast). The bar is characters, not
colour: "[#######-------]".
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from onboard.tui.progress import RUNNING, WAITING, ActionView, status_word
from onboard.tui.theme import badge

BAR = 14


def bar_text(fraction: float | None, running: bool, width: int = BAR) -> str:
    if fraction is None:
        return "[" + ("working".center(width, ".") if running else " " * width) + "]"
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def detail_text(v: ActionView) -> str:
    if v.text:
        return v.text
    if v.total and v.unit == "bytes":
        return f"{v.done / 1e6:.1f} of {v.total / 1e6:.1f} MB"
    if v.total:
        return f"{v.done:.0f} of {v.total:.0f} {v.unit}".rstrip()
    return ""


class ActionRow(Static):
    """Status word and bar in their own columns; a long description wraps under itself
    (a hanging indent), never cut."""

    DEFAULT_CSS = """
    ActionRow {
        height: auto;
        padding: 0 1;
    }
    """

    def __init__(self, view: ActionView) -> None:
        super().__init__(id=f"act-{view.index}")
        self.view = view
        self.update(self.line())

    def line(self) -> Table:
        v = self.view
        g = Table.grid(padding=(0, 1))
        g.add_column(width=6, no_wrap=True)
        g.add_column(width=BAR + 2, no_wrap=True)
        g.add_column(ratio=1)
        bar = Text(bar_text(v.fraction, v.status == RUNNING),
                   style="bold" if v.status == RUNNING else "dim" if v.status == WAITING else "")
        t = Text(v.description, overflow="fold")
        detail = detail_text(v)
        if detail:
            t.append(f"  {detail}", style="dim")
        g.add_row(badge(status_word(v.status)), bar, t)
        return g

    def refresh_view(self) -> None:
        self.update(self.line())
