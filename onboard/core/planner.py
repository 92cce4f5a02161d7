"""Turn Choices into one Plan. Each capability contributes its own part."""

from __future__ import annotations

from pathlib import Path

from onboard.core.actions.blocks import MarkedBlock
from onboard.core.actions.files import EnsureDirectory, WriteFile
from onboard.core.choices import Choices
from onboard.core.engine.plan import Plan

MAIN_PLAN = "onboard"


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


def build_plan(choices: Choices) -> Plan:
    choices.validate()
    if choices.demo_dir:
        return demo_plan(choices.demo_dir)
    plan = Plan(name=MAIN_PLAN, title="set up Nix and the team's dev shell",
                meta={"choices": choices.to_dict(),
                      "team_applied": dict(choices.team_applied)})
    titles = []
    if choices.mode != "skip":
        from onboard.core.nixinstall.planner import plan_nix_install

        nix_plan = plan_nix_install(choices)
        plan.extend(nix_plan)
        plan.meta.update(nix_plan.meta)
        titles.append(nix_plan.title)
    if choices.components:
        from onboard.core.integrations.planner import plan_integrations

        part = plan_integrations(choices)
        plan.extend(part)
        plan.meta.update({k: v for k, v in part.meta.items() if k not in plan.meta})
        titles.append(", ".join(choices.components))
    if titles:
        plan.title = " + ".join(titles)
    return plan
