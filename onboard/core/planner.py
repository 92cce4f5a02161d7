"""Turn Choices into one Plan. Each capability contributes its own part."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import EnsureDirectory, WriteFile
from onboard.core.choices import Choices
from onboard.core.engine.action import Action
from onboard.core.engine.plan import Plan
from onboard.core.nixinstall.errors import PlanningError

MAIN_PLAN = "onboard"

#: `build_plan`'s default for `nix_facts`: ask the machine which Nix is here
PROBE: Any = object()


def demo_plan(directory: str) -> Plan:
    """A harmless plan inside one directory, to try plan / apply / uninstall safely."""
    d = Path(directory).expanduser().absolute()
    plan = Plan(name="demo", title=f"demo changes in {d}")
    plan.add(
        EnsureDirectory(path=str(d / "onboard-demo"), summary=f"create {d / 'onboard-demo'}"),
        WriteFile(path=str(d / "onboard-demo" / "hello.txt"), content="hello from onboard\n",
                  summary=f"write {d / 'onboard-demo' / 'hello.txt'}"),
        MarkedBlock(path=str(d / ".demo-shellrc"), marker="demo",
                    content='export ONBOARD_DEMO=1', summary=f"add a marked block to {d / '.demo-shellrc'}"),
    )
    return plan


def readonly_files(plan: Plan) -> list[str]:
    """Files the plan would edit that are read-only (no write permission bit, or not
    writable by this user). Root could rewrite them through a rename; onboard does not."""
    import os
    import stat

    from onboard.core.engine.fsutil import resolve_target

    found = []
    for action in plan.actions:
        path = getattr(action, "path", "")
        if not action.changes_machine or not isinstance(path, str) or not path:
            continue
        target = str(resolve_target(path))
        try:
            st = os.stat(target)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and (not st.st_mode & 0o222 or not os.access(target, os.W_OK)):
            found.append(path)
    return found


def _readonly_error(files: list[str]) -> PlanningError:
    import os

    names = ", ".join(files)
    modes = ", ".join(f"{oct(os.stat(f).st_mode & 0o777)[2:]}" for f in files if os.path.exists(f))
    return PlanningError(f"{names} {'is' if len(files) == 1 else 'are'} read-only (mode {modes}); onboard "
                         "does not change a file you made read-only",
                         hint=f"make it writable (chmod u+w {' '.join(files)}) and run again, or pass "
                              "--skip-readonly to leave it alone (the plan then says so)")


def guard_readonly(plan: Plan, skip: bool) -> Plan:
    """Stop at a read-only file the plan would edit, or, with `skip`, leave it out with a note."""
    files = readonly_files(plan)
    if not files:
        return plan
    if not skip:
        raise _readonly_error(files)
    from onboard.core.integrations.actions.plan_note import PlanNote

    kept = [a for a in plan.actions if getattr(a, "path", "") not in files]
    notes = [PlanNote(message=f"left {f} alone: it is read-only (--skip-readonly)", level="info")
             for f in files]
    plan.actions[:] = notes + kept
    return plan


def preflight(plan: Plan) -> None:
    """Checked again just before the first action runs: a file may have become read-only
    since the plan was shown."""
    files = readonly_files(plan)
    if files:
        raise _readonly_error(files)


def build_plan(choices: Choices, nix_facts: Any = PROBE) -> Plan:
    """The one plan for `choices`. `nix_facts`: what the doctor already found about the Nix
    here (`onboard.core.machine.existing_nix()`'s answer, None for no Nix), so a front end
    that has just run the checks does not probe the machine twice; by default it is asked."""
    choices.validate()
    if choices.demo_dir:
        return demo_plan(choices.demo_dir)
    return guard_readonly(_build_plan(choices, nix_facts), choices.skip_readonly)


def _machine_view(nix_facts: Any) -> Any:
    """The Nix planner's view of the machine, with the doctor's facts about Nix when given."""
    from onboard.core.nixinstall import planner as nix_planner

    if nix_facts is PROBE:
        return nix_planner.machine_view()
    import os

    from onboard.core.machine import init_system

    return nix_planner.MachineView(existing=nix_facts, ours=nix_planner._ours(), init=init_system(),
                                   environ=dict(os.environ))


def _build_plan(choices: Choices, nix_facts: Any = PROBE) -> Plan:
    plan = Plan(name=MAIN_PLAN, title="set up Nix and the team's dev shell",
                meta={"choices": choices.to_dict(),
                      "team_applied": dict(choices.team_applied)})
    titles = []
    if choices.mode != "skip":
        from onboard.core.nixinstall.planner import plan_nix_install

        nix_plan = plan_nix_install(choices, view=_machine_view(nix_facts))
        plan.extend(nix_plan)
        plan.meta.update(nix_plan.meta)
        titles.append(nix_plan.title)
    if choices.components:
        from onboard.core.integrations.planner import plan_integrations

        part = plan_integrations(choices)
        plan.extend(part)
        plan.meta.update({k: v for k, v in part.meta.items() if k not in plan.meta})
        titles.append(", ".join(choices.components))
    step = _env_step(choices, plan)
    if step is not None:
        plan.add(step)
        if step.changes_machine:
            titles.append(f"the environment of profile {choices.profile}")
    if titles:
        plan.title = " + ".join(titles)
    return plan


def _env_step(choices: Choices, plan: Plan) -> Optional[Action]:
    """The last step: build the chosen profile's environment with the Nix this plan installs
    or keeps (its self-test names that Nix's bin directory)."""
    if not choices.profile or not choices.build_env:
        return None
    from onboard.core.profiles.env_step import plan_step

    bindir, daemon = "", False
    for action in plan.actions:
        if action.kind == "nix-self-test":
            bindir, daemon = str(getattr(action, "bindir", "")), bool(getattr(action, "daemon", False))
    try:
        return plan_step(choices.profile, choices.project_dir, bindir, daemon)
    except ValueError as exc:
        # the rest of the plan is still good: said in the plan, at the profile's file:line
        from onboard.core.integrations.actions.plan_note import PlanNote

        return PlanNote(message=f"{exc}\nso this plan does not build it: fix the profile (onboard profiles "
                                f"validate), then `onboard shell {choices.profile}` builds it", level="warn")
