"""Harmless stand-ins the TUI tests inject: fixed doctor results, plans of real actions in temp
dirs (one that waits on a gate, one that fails), and an in-memory generations backend."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from onboard.core.actions.files import EnsureDirectory
from onboard.core.choices import Choices
from onboard.core.doctor.model import CheckFinished, CheckResult, CheckStarted
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.plan import Plan
from onboard.core.events import ActionProgress, LogLine
from onboard.tui.generations import GenerationView, ProjectState
from onboard.tui.services import Services

# -- the doctor --------------------------------------------------------------------------------

GOOD = [
    CheckResult("os", "Operating system", "ok", "Debian GNU/Linux 12 (bookworm)"),
    CheckResult("arch", "CPU architecture", "ok", "x86_64"),
    CheckResult("init", "Init system", "warn", "no systemd (in a container)",
                "use single-user mode (recommended here)"),
    CheckResult("disk", "Free disk for /nix", "ok", "80 GiB free"),
    CheckResult("nix", "Existing Nix", "ok", "none: onboard will install it"),
    CheckResult("direnv", "direnv", "ok", "direnv 2.32 on PATH"),
]
FAILING = GOOD[:3] + [
    CheckResult("disk", "Free disk for /nix", "fail", "0.4 GiB free on /",
                "free at least 5 GiB (e.g. `nix-collect-garbage -d`), or mount a bigger disk on /nix"),
] + GOOD[4:]


def fixed_doctor(results: list[CheckResult]) -> Callable:
    """A doctor that emits the events of the real one, for fixed results, in a fixed order."""

    def run_checks(emit: Callable) -> list[CheckResult]:
        for r in results:
            emit(CheckStarted(id=r.id, title=r.title))
        for r in results:
            emit(CheckFinished(result=r.to_dict()))
        return list(results)

    return run_checks


@dataclass
class Team:
    """What the TUI reads of a team config."""

    team: str = "Acme"
    path: str = "/srv/acme/onboard.yaml"
    default_profile: str = "python-web"


TEAM = Team()


def services(**overrides: Any) -> Services:
    base = dict(run_checks=fixed_doctor(GOOD), recommend_mode=lambda r: ("single", "no systemd here"),
                load_team=lambda: TEAM, seed_choices=lambda team, choices: {}, list_profiles=lambda: [])
    base.update(overrides)
    return Services(**base)


# -- plans of real actions ---------------------------------------------------------------------

GATES: dict[str, threading.Event] = {}


@register
@dataclass
class GateFile(Action):
    """Writes a file once its gate opens (tests hold an action mid-run this way)."""

    kind = "tui-test-gate-file"
    path: str = ""
    gate: str = ""
    progress: int = 0  # progress events to emit while running (a flood when large)

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"wait, then write {self.path}"

    def check(self, ctx: Context) -> bool:
        return Path(self.path).exists()

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        for i in range(self.progress):
            ctx.emit(ActionProgress(action_id=ctx.action_id, done=i + 1, total=self.progress, unit="builds"))
            if i % 1000 == 0:
                ctx.emit(LogLine(action_id=ctx.action_id, line=f"built {i + 1} of {self.progress}"))
        gate = GATES.get(self.gate)
        if gate is not None and not gate.wait(30):
            raise TimeoutError("gate never opened")
        Path(self.path).write_text("gated\n")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        Path(self.path).unlink(missing_ok=True)


@register
@dataclass
class RootFile(GateFile):
    """A change only root may make (as daemon mode's are)."""

    kind = "tui-test-root-file"
    needs_root = True


def root_plan(d: Path) -> Plan:
    return Plan(name="root", title="system changes").add(RootFile(path=str(d / "etc-file")))


def gated_plan(d: Path, gate: str, n: int = 3, progress: int = 0) -> Plan:
    GATES[gate] = threading.Event()
    plan = Plan(name="gated", title=f"gated changes in {d}")
    plan.add(*[GateFile(path=str(d / f"step{i}.txt"), gate=gate if i == 0 else "",
                        progress=progress if i == 0 else 0) for i in range(n)])
    return plan


@register
@dataclass
class Explode(Action):
    """Logs 25 lines, then fails the way a real action does (ActionError with a hint)."""

    kind = "tui-test-explode"
    path: str = ""

    def target(self) -> str:
        return self.path

    def describe(self) -> str:
        return f"configure {self.path}"

    def check(self, ctx: Context) -> bool:
        return False

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"path": self.path}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        for i in range(25):
            ctx.log(f"line {i + 1} of the log")
        raise ActionError("the disk is on fire", hint="put the fire out and retry")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        pass


def failing_plan(d: Path) -> Plan:
    """A plan whose second action fails after the first made a change."""
    plan = Plan(name="failing", title=f"changes in {d}")
    plan.add(EnsureDirectory(path=str(d / "made-by-onboard")), Explode(path=str(d / "config")))
    return plan


# -- generations -------------------------------------------------------------------------------

class FakeGenerations:
    """In memory, as the Profiles screen sees the real backend."""

    def __init__(self, active: str = "python-web") -> None:
        self.gens = [GenerationView(1, active, "first switch", True)]
        self.calls: list[tuple] = []
        self.packages = {"python-web": ["python312", "postgresql_16", "redis"],
                         "science": ["python312", "numpy", "scipy"], "frontend": ["nodejs", "chromium"]}

    def _active(self) -> str:
        return next(g.profile for g in self.gens if g.current)

    def state(self, project: str) -> ProjectState:
        return ProjectState(project, self._active(), sorted([GenerationView(g.number, g.profile, g.note, g.current)
                                                             for g in self.gens], key=lambda g: -g.number))

    def _diff(self, a: str, b: str) -> list[str]:
        pa, pb = set(self.packages.get(a, [])), set(self.packages.get(b, []))
        return [f"+ {p}" for p in sorted(pb - pa)] + [f"- {p}" for p in sorted(pa - pb)]

    def preview_switch(self, project: str, profile: str) -> list[str]:
        return self._diff(self._active(), profile)

    def switch(self, project: str, profile: str, emit: Callable) -> str:
        self.calls.append(("switch", project, profile))
        emit(LogLine(line=f"building {profile}"))
        for g in self.gens:
            g.current = False
        self.gens.append(GenerationView(len(self.gens) + 1, profile, "switch", True))
        return f"switched to {profile} (generation {len(self.gens)})"

    def preview_rollback(self, project: str) -> tuple[str, list[str]]:
        prev = self._previous()
        return prev.profile, self._diff(self._active(), prev.profile)

    def _previous(self) -> GenerationView:
        cur = next(g for g in self.gens if g.current)
        return max((g for g in self.gens if g.number < cur.number), key=lambda g: g.number)

    def rollback(self, project: str, emit: Callable) -> str:
        self.calls.append(("rollback", project))
        prev = self._previous()
        for g in self.gens:
            g.current = g is prev
        return f"rolled back to {prev.profile} (generation {prev.number})"


@dataclass
class ProfileInfo:
    name: str
    description: str = ""


PROFILES = [ProfileInfo("python-web", "Python web service"), ProfileInfo("science", "numpy and scipy"),
            ProfileInfo("frontend", "node and chromium")]


# -- driving -----------------------------------------------------------------------------------

async def wait_for(pilot: Any, cond: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Let the app run until `cond()` is true (workers are threads: give them time)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        await pilot.pause(0.02)
    screen = pilot.app.screen
    raise AssertionError(f"timed out waiting for {what or cond}; on {type(screen).__name__}: "
                         f"{screen_text(screen)[:800]}")


def plain(obj: Any) -> str:
    """A widget's content as text: Text and strings as they are, other rich renderables
    (the plan's and the Apply screen's row grids) rendered wide on one line each."""
    if isinstance(obj, str):
        return obj
    if hasattr(obj, "plain"):
        return str(obj.plain)
    if hasattr(obj, "__rich_console__") or hasattr(obj, "__rich__"):
        from rich.console import Console

        console = Console(width=300, record=True, color_system=None, file=open("/dev/null", "w"))
        console.print(obj)
        return "\n".join(line.rstrip() for line in console.export_text().splitlines())
    return str(obj)


def screen_text(screen: Any) -> str:
    """Every Static/Label/Button text on a screen (what a user reads), one per line."""
    from textual.widgets import Button, Static

    out = []
    for w in screen.query("*"):
        if isinstance(w, Button):
            out.append(str(w.label))
        elif isinstance(w, Static):
            out.append(plain(w.content))
    try:
        from textual.widgets import OptionList

        for ol in screen.query(OptionList):
            for i in range(ol.option_count):
                out.append(plain(ol.get_option_at_index(i).prompt))
    except Exception:
        pass
    return "\n".join(out)


def rendered(app: Any) -> str:
    """The screen exactly as drawn (what fits in the terminal), one line per row."""
    update = app.screen._compositor.render_update(full=True)
    return "\n".join("".join(seg.text for strip in line for seg in strip).rstrip() for line in update.strips)


def demo_choices(d: Path) -> Choices:
    return Choices(demo_dir=str(d))


__all__ = ["asyncio"]
