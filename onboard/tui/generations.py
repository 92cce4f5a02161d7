"""The Profiles screen's view of profile generations, over onboard.core.profiles.generations.

`GenerationsBackend` is what the screen needs; `RealGenerations` adapts the core module
(and raises `Unavailable` while this build has none). Tests pass their own backend.
No textual here: these calls run in worker threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Protocol

from onboard.tui.services import Unavailable, _import


@dataclass
class GenerationView:
    number: int
    profile: str
    note: str = ""  # when / why, as the backend words it
    current: bool = False


@dataclass
class ProjectState:
    project: str
    active: str = ""  # the active profile's name, "" when none
    generations: list[GenerationView] = field(default_factory=list)

    @property
    def can_rollback(self) -> bool:
        return any(not g.current for g in self.generations) and len(self.generations) > 1


class GenerationsBackend(Protocol):
    def state(self, project: str) -> ProjectState: ...
    def preview_switch(self, project: str, profile: str) -> list[str]: ...
    def switch(self, project: str, profile: str, emit: Callable) -> str: ...
    def preview_rollback(self, project: str) -> tuple[str, list[str]]: ...
    def rollback(self, project: str, emit: Callable) -> str: ...


def _get(obj: Any, *names: str, default: Any = "") -> Any:
    for n in names:
        if isinstance(obj, dict) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


class RealGenerations:
    """onboard.core.profiles.generations, as the screen needs it."""

    MODULE = "onboard.core.profiles.generations"
    WHAT = "profile generations (switch and rollback)"

    def _mod(self) -> Any:
        return _import(self.MODULE, self.WHAT)

    def _fn(self, *names: str) -> Callable:
        mod = self._mod()
        for n in names:
            fn = getattr(mod, n, None)
            if fn is not None:
                return fn
        raise Unavailable(self.WHAT, f"{self.MODULE}.{names[0]}")

    def state(self, project: str) -> ProjectState:
        gens = self._fn("list_generations")(project)
        views = []
        active = ""
        for g in gens:
            number = int(_get(g, "number", "generation", "id", default=0) or 0)
            profile = str(_get(g, "profile", "name"))
            current = bool(_get(g, "current", "active", default=False))
            note = str(_get(g, "note", "reason", "created_text", default=""))
            views.append(GenerationView(number, profile, note, current))
            if current:
                active = profile
        if views and not active:
            newest = max(views, key=lambda v: v.number)
            newest.current = True
            active = newest.profile
        views.sort(key=lambda v: -v.number)
        return ProjectState(project=project, active=active, generations=views)

    def _diff(self, project: str, target: str) -> list[str]:
        mod = self._mod()
        for n in ("diff_switch", "switch_diff", "preview_switch", "diff"):
            fn = getattr(mod, n, None)
            if fn is not None:
                out = fn(project, target)
                return [str(x) for x in (out or [])]
        return []

    def preview_switch(self, project: str, profile: str) -> list[str]:
        return self._diff(project, profile)

    def switch(self, project: str, profile: str, emit: Callable) -> str:
        out = self._fn("switch")(profile, project, emit=emit)
        return str(_get(out, "message", default="") or f"switched to {profile}")

    def preview_rollback(self, project: str) -> tuple[str, list[str]]:
        st = self.state(project)
        older = [g for g in st.generations if not g.current]
        target = older[0].profile if older else ""
        return target, (self._diff(project, target) if target else [])

    def rollback(self, project: str, emit: Callable) -> str:
        out = self._fn("rollback")(project, emit=emit)
        return str(_get(out, "message", default="") or "rolled back")


def default_project() -> str:
    return os.getcwd()


__all__ = ["GenerationView", "ProjectState", "GenerationsBackend", "RealGenerations", "Optional"]
