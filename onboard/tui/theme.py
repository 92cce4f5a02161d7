"""onboard's look: one calm theme whose every state also reads in monochrome.

Status is always a word (OK, WARN, FAIL, DONE, ...); colour only repeats it. With NO_COLOR
set Textual draws in monochrome, and the words, bold and reverse video carry the meaning.
"""

from __future__ import annotations

from textual.theme import Theme

ONBOARD = Theme(
    name="onboard",
    primary="#5f87d7",
    secondary="#5f5f87",
    accent="#d7af5f",
    warning="#d7af00",
    error="#d75f5f",
    success="#5faf5f",
    foreground="#e4e4e4",
    background="#1c1c1c",
    surface="#262626",
    panel="#303030",
    dark=True,
)

#: rich styles for status words (the word is always shown; this only repeats it)
STATUS_STYLE = {
    "OK": "bold green", "DONE": "bold green", "UNDONE": "bold green",
    "WARN": "bold yellow", "SKIP": "dim", "KEPT": "yellow",
    "FAIL": "bold reverse red", "STOP": "bold yellow",
    "RUN": "bold cyan", "....": "dim", "WAIT": "dim", "TODO": "bold",
}


def status_style(word: str) -> str:
    return STATUS_STYLE.get(word, "bold")


def badge(word: str, width: int = 6):  # -> rich.text.Text
    """A fixed-width status word, e.g. "[FAIL]"."""
    from rich.text import Text

    return Text(f"{word:^{width}}", style=status_style(word))
