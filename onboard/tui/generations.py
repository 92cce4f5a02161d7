"""The Profiles screen's view of profile generations, over onboard.core.profiles.generations.

`GenerationsBackend` is what the screen needs; `RealGenerations` adapts the core module.
Tests pass their own backend.
No textual here: these calls run in worker threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Protocol

if TYPE_CHECKING:
    from onboard.core.events import Emitter
    from onboard.core.profiles.generations import Generation
    from onboard.core.profiles.model import Profile


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
        current = next((g.number for g in self.generations if g.current), 0)
        return any(g.number < current for g in self.generations)


class GenerationsBackend(Protocol):
    def state(self, project: str) -> ProjectState: ...
    def preview_switch(self, project: str, profile: str) -> list[str]: ...
    def switch(self, project: str, profile: str, emit: Emitter) -> str: ...
    def preview_rollback(self, project: str) -> tuple[str, list[str]]: ...
    def rollback(self, project: str, emit: Emitter) -> str: ...


class RealGenerations:
    """onboard.core.profiles.generations (and the profile loader), as the screen needs it."""

    @staticmethod
    def _profile(name: str) -> Profile:
        from onboard.core.profiles.loader import load_profile

        return load_profile(name)

    def state(self, project: str) -> ProjectState:
        import time

        from onboard.core.profiles import generations as mod

        views = []
        for g in mod.list_generations(project):
            note = time.strftime("%Y-%m-%d %H:%M", time.localtime(g.time))
            if g.fallback:
                note += "  (last good environment: the profile did not build)"
            if not g.alive():
                note += "  (store paths gone: entering it rebuilds)"
            views.append(GenerationView(g.number, g.profile, note, g.current))
        views.sort(key=lambda v: -v.number)
        active = next((v.profile for v in views if v.current), "")
        return ProjectState(project=project, active=active, generations=views)

    def preview_switch(self, project: str, profile: str) -> list[str]:
        from onboard.core.profiles import generations as mod

        p = self._profile(profile)
        new = mod.Generation(number=0, profile=p.name, time=0.0, packages=list(p.packages), env=dict(p.env))
        return list(mod.diff(mod.current_generation(project), new))

    def switch(self, project: str, profile: str, emit: Emitter) -> str:
        from onboard.core.profiles import generations as mod

        gen, created = mod.switch(project, self._profile(profile), emit=emit)
        if not created:
            return f"{profile} is already the active profile (generation {gen.number})"
        return f"{profile} is active: generation {gen.number}" + (
            " (the last good environment: the profile did not build)" if gen.fallback else "")

    def _previous(self, project: str) -> tuple[Optional[Generation], Optional[Generation]]:
        from onboard.core.profiles import generations as mod

        gens = mod.list_generations(project)
        current = next((g for g in gens if g.current), None)
        older = [g for g in gens if current is not None and g.number < current.number]
        return current, (older[-1] if older else None)

    def preview_rollback(self, project: str) -> tuple[str, list[str]]:
        current, target = self._previous(project)
        if target is None:
            raise ValueError("the current generation is the oldest: nothing to roll back to")
        from onboard.core.profiles import generations as mod

        return f"{target.profile}, generation {target.number}", list(mod.diff(current, target))

    def rollback(self, project: str, emit: Emitter) -> str:
        from onboard.core.profiles import generations as mod

        _, to = mod.rollback(project, emit=emit)
        return f"back to generation {to.number} ({to.profile})"


__all__ = ["GenerationView", "ProjectState", "GenerationsBackend", "RealGenerations"]
