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
from typing import Any, Callable, Optional


# -- defaults: the real core ---------------------------------------------------------------------

def real_run_checks(emit: Callable) -> list:
    from onboard.core.doctor import run_checks

    return run_checks(emit=emit)


def real_recommend_mode(results: list) -> tuple[str, str]:
    from onboard.core.doctor import recommend_mode

    mode, reason = recommend_mode(results)
    return str(mode), str(reason)


def real_build_plan(choices: Any) -> Any:
    from onboard.core.planner import build_plan

    return build_plan(choices)


def real_preview(plan: Any) -> list[dict[str, Any]]:
    from onboard.core.engine.plan import preview

    return preview(plan)


def real_apply(plan: Any, emit: Callable, cancel: Any) -> Any:
    from onboard.core.engine.plan import apply_plan
    from onboard.core.planner import preflight

    preflight(plan)  # a file made read-only since the plan was shown stops it before any change
    return apply_plan(plan, emit=emit, cancel=cancel)


def real_undo_run(outcome: Any, emit: Callable) -> Any:
    from onboard.core.engine.plan import undo_run

    return undo_run(outcome, emit=emit)


def real_plan_uninstall() -> Any:
    from onboard.core.uninstall import plan_uninstall

    return plan_uninstall()


def real_run_uninstall(plan: Any, emit: Callable) -> list[str]:
    from onboard.core.uninstall import run_uninstall

    return run_uninstall(plan, emit=emit)


def real_list_profiles() -> list:
    from onboard.core.profiles.loader import list_profiles

    return list_profiles()


def real_load_team() -> Any:
    """The team config (onboard.yaml) found from the current directory, or None.
    Raises with every problem when the file is invalid."""
    from onboard.core.teamconfig import load_team_config

    return load_team_config()


def real_seed_choices(team: Any, choices: Any) -> dict[str, Any]:
    """Fill what the choices leave open from the team config; return what was filled."""
    from onboard.core.teamconfig import apply_to_choices

    return apply_to_choices(team, choices)


def answers_path() -> Path:
    from onboard.core import paths

    return paths.state_dir() / "answers.json"


def log_dir() -> Path:
    from onboard.core import paths

    return paths.log_dir()


@dataclass
class Services:
    run_checks: Callable[[Callable], list] = real_run_checks
    recommend_mode: Callable[[list], tuple[str, str]] = real_recommend_mode
    build_plan: Callable[[Any], Any] = real_build_plan
    preview: Callable[[Any], list[dict[str, Any]]] = real_preview
    apply: Callable[[Any, Callable, Any], Any] = real_apply
    undo_run: Callable[[Any, Callable], Any] = real_undo_run
    plan_uninstall: Callable[[], Any] = real_plan_uninstall
    run_uninstall: Callable[[Any, Callable], list[str]] = real_run_uninstall
    list_profiles: Callable[[], list] = real_list_profiles
    generations: Optional[Any] = None  # a GenerationsBackend; None = the real one, made on first use
    load_team: Callable[[], Any] = real_load_team
    seed_choices: Callable[[Any, Any], dict[str, Any]] = real_seed_choices
    answers_path: Callable[[], Path] = answers_path
    log_dir: Callable[[], Path] = log_dir
    is_root: Callable[[], bool] = field(default=lambda: os.geteuid() == 0)

    def generations_backend(self) -> Any:
        if self.generations is None:
            from onboard.tui.generations import RealGenerations

            self.generations = RealGenerations()
        return self.generations
