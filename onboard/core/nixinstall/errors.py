"""Errors found while planning a Nix install: nothing has changed when one is raised."""

from __future__ import annotations

from onboard.core.choices import ChoicesError


class PlanningError(ChoicesError):
    """The install cannot be planned as asked; `hint` says what to do. Nothing was changed.

    A ChoicesError, so every command that builds a plan reports it as a clear message.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
