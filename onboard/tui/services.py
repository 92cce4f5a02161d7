"""What the TUI calls in the core, each entry replaceable.

The app gets one `Services`; tests replace entries with harmless or failing stand-ins
(a demo plan, injected doctor results, a slow plan, a fake generations backend). The
defaults import the core lazily, inside the call, so the first screen draws without
loading any of it. A piece of the core that this build does not have raises
`Unavailable`, which screens show as such instead of failing.

No textual here: these functions run in worker threads.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional


class Unavailable(Exception):
    """A part of onboard this build does not have (yet); `what` names it for the user."""

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        self.detail = detail
        super().__init__(f"{what} is not available in this build of onboard" + (f" ({detail})" if detail else ""))


def _import(modname: str, what: str) -> Any:
    try:
        return importlib.import_module(modname)
    except ImportError as exc:
        # Only a missing module of our own counts as "unavailable"; anything else is a bug.
        if exc.name and (modname == exc.name or modname.startswith(exc.name + ".")):
            raise Unavailable(what, modname) from None
        raise


def _call(modname: str, func: str, what: str, *args: Any, **kwargs: Any) -> Any:
    mod = _import(modname, what)
    fn = getattr(mod, func, None)
    if fn is None:
        raise Unavailable(what, f"{modname}.{func}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise Unavailable(what, f"{modname}.{func}") from None


# -- defaults: the real core ---------------------------------------------------------------------

def real_run_checks(emit: Callable) -> list:
    return _call("onboard.core.doctor", "run_checks", "the machine checks", emit=emit)


def real_recommend_mode(results: list) -> tuple[str, str]:
    mode, reason = _call("onboard.core.doctor", "recommend_mode", "the install-mode advice", results)
    return str(mode), str(reason)


def real_build_plan(choices: Any) -> Any:
    from onboard.core.planner import build_plan

    try:
        return build_plan(choices)
    except ImportError as exc:
        raise Unavailable("part of the installer", exc.name or str(exc)) from None


def real_preview(plan: Any) -> list[dict[str, Any]]:
    from onboard.core.engine.plan import preview

    return preview(plan)


def real_apply(plan: Any, emit: Callable, cancel: Any) -> Any:
    from onboard.core.engine.plan import apply_plan

    return apply_plan(plan, emit=emit, cancel=cancel)


def real_revert(receipt: Any, emit: Callable) -> Any:
    from onboard.core.engine.plan import revert_receipt

    return revert_receipt(receipt, emit=emit)


def real_plan_uninstall() -> Any:
    from onboard.core.uninstall import plan_uninstall

    return plan_uninstall()


def real_run_uninstall(plan: Any, emit: Callable) -> list[str]:
    from onboard.core.uninstall import run_uninstall

    return run_uninstall(plan, emit=emit)


def real_list_profiles() -> list:
    return _call("onboard.core.profiles.loader", "list_profiles", "the team profiles")


def real_load_team() -> Any:
    """The team config (onboard.yaml) found from the current directory, or None.
    Raises with every problem when the file is invalid."""
    mod = _import("onboard.core.teamconfig", "the team config")
    return mod.load_team_config()


def real_seed_choices(team: Any, choices: Any) -> dict[str, Any]:
    """Fill what the choices leave open from the team config; return what was filled."""
    mod = _import("onboard.core.teamconfig", "the team config")
    return mod.apply_to_choices(team, choices)


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
    revert: Callable[[Any, Callable], Any] = real_revert
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
