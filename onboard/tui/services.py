"""What the TUI calls in the core, each entry replaceable.

The app gets one `Services`; tests replace entries with harmless or failing stand-ins
(a demo plan, injected doctor results, a slow plan, a fake generations backend). The
defaults import the core lazily, inside the call, so the first screen draws without
loading any of it.

No textual here: these functions run in worker threads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from onboard.core.choices import Choices
    from onboard.core.doctor import CheckResult
    from onboard.core.engine.plan import CancelToken, Outcome, Plan
    from onboard.core.events import Emitter
    from onboard.core.profiles.loader import ProfileInfo
    from onboard.core.teamconfig import TeamConfig
    from onboard.core.uninstall import UninstallPlan
    from onboard.tui.generations import GenerationsBackend
    from onboard.tui.state import Row


# -- defaults: the real core ---------------------------------------------------------------------

#: what the last real checks read from the machine (their Inputs), so the plan reuses the
#: doctor's facts about the Nix here instead of probing again
_DOCTOR: dict[str, Any] = {}


def real_run_checks(emit: Emitter) -> list[CheckResult]:
    from onboard.core.doctor import run_checks
    from onboard.core.doctor.model import Inputs

    inp = Inputs()
    _DOCTOR.pop("inputs", None)  # checks being run again: their old facts no longer count
    results = run_checks(emit=emit, overrides=inp)
    _DOCTOR["inputs"] = inp
    return results


def real_recommend_mode(results: list[CheckResult]) -> tuple[str, str]:
    from onboard.core.doctor import recommend_mode

    mode, reason = recommend_mode(results)
    return str(mode), str(reason)


def real_build_plan(choices: Choices) -> Plan:
    from onboard.core.planner import PROBE, build_plan

    inp = _DOCTOR.get("inputs")
    return build_plan(choices, nix_facts=inp.nix() if inp is not None else PROBE)


def real_preview(plan: Plan) -> list[Row]:
    from onboard.core.engine.plan import preview

    return preview(plan)


def real_apply(plan: Plan, emit: Emitter, cancel: CancelToken) -> Outcome:
    from onboard.core.engine.plan import apply_plan
    from onboard.core.planner import preflight

    preflight(plan)  # a file made read-only since the plan was shown stops it before any change
    return apply_plan(plan, emit=emit, cancel=cancel)


def real_undo_run(outcome: Outcome, emit: Emitter) -> Outcome:
    from onboard.core.engine.plan import undo_run

    return undo_run(outcome, emit=emit)


def real_plan_uninstall() -> UninstallPlan:
    from onboard.core.uninstall import plan_uninstall

    return plan_uninstall()


def real_run_uninstall(plan: UninstallPlan, emit: Emitter) -> list[str]:
    from onboard.core.uninstall import run_uninstall

    return run_uninstall(plan, emit=emit)


def real_list_profiles() -> list[ProfileInfo]:
    from onboard.core.profiles.loader import list_profiles

    return list_profiles()


def real_load_team() -> Optional[TeamConfig]:
    """The team config (onboard.yaml) found from the current directory, or None.
    Raises with every problem when the file is invalid."""
    from onboard.core.teamconfig import load_team_config

    return load_team_config()


def real_seed_choices(team: Optional[TeamConfig], choices: Choices) -> dict[str, Any]:
    """Fill what the choices leave open: the project folder (the checkout this runs in) and
    the team config's defaults, by the core call the command line makes; return what the
    team config filled."""
    from onboard.core.choices import complete

    complete(choices, team=team)
    return dict(choices.team_applied)


def answers_path() -> Path:
    from onboard.core import paths

    return paths.state_dir() / "answers.json"


def log_dir() -> Path:
    from onboard.core import paths

    return paths.log_dir()


@dataclass
class Services:
    run_checks: Callable[[Emitter], list[CheckResult]] = real_run_checks
    recommend_mode: Callable[[list[CheckResult]], tuple[str, str]] = real_recommend_mode
    build_plan: Callable[[Choices], Plan] = real_build_plan
    preview: Callable[[Plan], list[Row]] = real_preview
    apply: Callable[[Plan, Emitter, CancelToken], Outcome] = real_apply
    undo_run: Callable[[Outcome, Emitter], Outcome] = real_undo_run
    plan_uninstall: Callable[[], UninstallPlan] = real_plan_uninstall
    run_uninstall: Callable[[UninstallPlan, Emitter], list[str]] = real_run_uninstall
    list_profiles: Callable[[], list[ProfileInfo]] = real_list_profiles
    generations: Optional[GenerationsBackend] = None  # None = the real one, made on first use
    load_team: Callable[[], Optional[TeamConfig]] = real_load_team
    seed_choices: Callable[[Optional[TeamConfig], Choices], dict[str, Any]] = real_seed_choices
    answers_path: Callable[[], Path] = answers_path
    log_dir: Callable[[], Path] = log_dir
    is_root: Callable[[], bool] = field(default=lambda: os.geteuid() == 0)

    def generations_backend(self) -> GenerationsBackend:
        if self.generations is None:
            from onboard.tui.generations import RealGenerations

            self.generations = RealGenerations()
        return self.generations
