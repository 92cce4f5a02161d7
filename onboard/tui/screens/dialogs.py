"""Small modal screens with typed results: confirm, pick one, pick several, type a value,
read details; plus help and the too-small-terminal notice."""

from __future__ import annotations

from typing import Callable, Iterable, Optional, TypeVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option

from onboard.tui.screens.base import FLOW_CSS
from onboard.tui.widgets.bars import KeyBar


#: what a dialog gives back when dismissed (None when closed with Esc, unless it says otherwise)
ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    CSS_PATH = FLOW_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    HELP = "Esc closes this dialog without changing anything."

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog[bool]):
    """Yes or no; the result is a bool (Esc = no)."""

    BINDINGS = [Binding("escape,n", "cancel", "No"), Binding("y", "yes", "Yes")]

    def __init__(self, question: str, body: str | Text = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question, self.body, self.yes, self.no = question, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="title")
            if self.body:
                with VerticalScroll(classes="body"):
                    yield Static(self.body)
            with Horizontal(classes="buttons"):
                yield Button(self.yes, id="yes", variant="primary", compact=True)
                yield Button(self.no, id="no", compact=True)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#no" if self.no else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class PickDialog(Dialog[str]):
    """Pick one of several options (Enter); the result is the option's id, or None (Esc)."""

    def __init__(self, title: str, options: Iterable[tuple[str, str]], current: str = "",
                 note: str = "") -> None:
        super().__init__()
        self.heading, self.options, self.current, self.note = title, list(options), current, note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading, classes="title")
            if self.note:
                yield Static(self.note, classes="muted")
            yield OptionList(*[Option(label, id=key) for key, label in self.options], id="pick")
            yield Static("Enter chooses, Esc keeps the current value", classes="muted")
        yield KeyBar()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.focus()
        for i, (key, _) in enumerate(self.options):
            if key == self.current:
                ol.highlighted = i

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class _DoneSelectionList(SelectionList[str]):
    BINDINGS = [Binding("enter", "done", "Done"), Binding("space", "select", "Toggle")]

    def action_done(self) -> None:
        self.screen.dismiss(list(self.selected))


class MultiDialog(Dialog[list[str]]):
    """Pick any number of options (Space toggles, Enter done); the result is a list, or None."""

    def __init__(self, title: str, options: Iterable[tuple[str, str]], selected: Iterable[str] = (),
                 note: str = "") -> None:
        super().__init__()
        self.heading, self.options, self.selected, self.note = title, list(options), set(selected), note

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading, classes="title")
            if self.note:
                yield Static(self.note, classes="muted")
            yield _DoneSelectionList(*[(label, key, key in self.selected) for key, label in self.options],
                                     id="multi")
            yield Static("Space toggles, Enter done, Esc keeps the current value", classes="muted")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()


class TextDialog(Dialog[str]):
    """Type a value; `check` returns an error message or "" for a good value."""

    def __init__(self, title: str, value: str = "", note: str = "", placeholder: str = "",
                 check: Optional[Callable[[str], str]] = None) -> None:
        super().__init__()
        self.heading, self.value, self.note, self.placeholder = title, value, note, placeholder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading, classes="title")
            if self.note:
                yield Static(self.note, classes="muted")
            yield Input(value=self.value, placeholder=self.placeholder, id="value")
            yield Static("", id="problem", classes="muted")
            yield Static("Enter keeps it, Esc keeps the current value", classes="muted")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self.check(event.value) if self.check else ""
        if problem:
            self.query_one("#problem", Static).update(Text("not accepted: " + problem, style="bold"))
            return
        self.dismiss(event.value.strip())


class TextScreen(Dialog[None]):
    """Read-only text (details of a check, what a switch changes)."""

    BINDINGS = [Binding("escape,enter,q", "cancel", "Close")]

    def __init__(self, title: str, body: str | Text) -> None:
        super().__init__()
        self.heading, self.body = title, body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.heading, classes="title")
            with VerticalScroll(classes="body"):
                yield Static(self.body)
            yield Static("Esc or Enter closes", classes="muted")
        yield KeyBar()


def own_bindings(obj: object) -> list[Binding]:
    """The key bindings onboard's own classes declare (not Textual's: no Tab focus, no copy)."""
    out: list[Binding] = []
    for cls in type(obj).__mro__:
        if not cls.__module__.startswith("onboard."):
            continue
        for b in cls.__dict__.get("BINDINGS", []):
            if isinstance(b, Binding):
                out.append(b)
    return out


class HelpScreen(TextScreen):
    @classmethod
    def for_screen(cls, screen: Screen[object]) -> "HelpScreen":
        from onboard.tui.explain import GLOSSARY

        text = Text()
        # Whatever screen is on top (Textual's own too) is helped: only onboard's have HELP and STEP.
        help_text = getattr(screen, "HELP", "") or ""
        if help_text:
            text.append(help_text + "\n\n")
        text.append("Keys on this screen:\n", style="bold")
        seen = set()
        active = screen.active_bindings
        for b in own_bindings(screen) + own_bindings(screen.app):
            if not b.description or b.action in seen:
                continue
            seen.add(b.action)
            keys = [k.strip() for k in b.key.split(",")]
            enabled = any(k in active and active[k].enabled for k in keys)
            shown = b.key_display or ", ".join(screen.app.get_key_display(Binding(k, b.action)) for k in keys)
            text.append(f"  {shown:<14}", style="bold" if enabled else "dim")
            text.append(b.description + ("\n" if enabled else " (not available now)\n"))
        text.append("  Ctrl+C        leave onboard (a running change stops between steps first)\n")
        text.append("\nStatus is always written as a word: OK, WARN, FAIL, DONE, SKIP, RUN, WAIT, NOTE.\n"
                    "Everything onboard changes can be undone with `onboard uninstall`.\n")
        text.append("\nWords you may meet:\n", style="bold")
        for word, meaning in GLOSSARY.items():
            text.append(f"  {word}: {meaning}\n")
        return cls("Help: " + (getattr(screen, "STEP", "") or "onboard").split(" ", 1)[-1], text)


__all__ = ["ConfirmDialog", "PickDialog", "MultiDialog", "TextDialog", "TextScreen", "HelpScreen"]
