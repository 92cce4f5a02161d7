"""One action of a run: its status word, what it does, and a progress bar."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from onboard.tui.progress import RUNNING, ActionView, status_word
from onboard.tui.theme import badge


class ActionRow(Widget):
    def __init__(self, view: ActionView) -> None:
        super().__init__(id=f"act-{view.index}")
        self.view = view

    def compose(self) -> ComposeResult:
        yield Label(badge(status_word(self.view.status)), classes="word")
        yield Label(self._desc(), classes="desc")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False)

    def _desc(self) -> Text:
        v = self.view
        t = Text(v.description, overflow="ellipsis", no_wrap=True)
        detail = v.text
        if not detail and v.total and v.unit:
            detail = f"{v.done:.0f} of {v.total:.0f} {v.unit}" if v.unit != "bytes" else \
                f"{v.done / 1e6:.1f} of {v.total / 1e6:.1f} MB"
        if detail:
            t.append(f"  {detail}", style="dim")
        return t

    def refresh_view(self) -> None:
        v = self.view
        labels = self.query(Label)
        labels.first().update(badge(status_word(v.status)))
        labels.last().update(self._desc())
        bar = self.query_one(ProgressBar)
        frac = v.fraction
        if frac is None and v.status == RUNNING:
            bar.update(total=None)
        elif frac is None:
            bar.update(total=1, progress=0)
        else:
            bar.update(total=1, progress=frac)
