"""One plan for both front ends: from the same team config and the same answers, the guided
setup (its real services: team config, the core's completion of the answers, the planner)
and `onboard plan --json` list the same steps, the profile's build among them."""

from __future__ import annotations

import asyncio
import json

from onboard.tui.app import OnboardApp
from tests.conftest import run_onboard
from tests.support import standin
from tests.support import tui_fakes as F
from tests.support.tui_fakes import Services


def test_same_team_config_and_answers_give_the_same_plan(tmp_path, monkeypatch):
    project = tmp_path / "team"
    (project / "profiles").mkdir(parents=True)
    (project / "profiles" / "base.yaml").write_text(standin.BASE)
    (project / "onboard.yaml").write_text("version: 1\nteam: Same\ndefault_profile: base\nprofiles: profiles\n"
                                          "editors: [vim]\nloader: direnv\n")
    monkeypatch.chdir(project)
    r = run_onboard("plan", "--mode", "skip", "--json", cwd=str(project))
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)

    async def tui() -> tuple:
        svc = Services(run_checks=F.fixed_doctor(F.GOOD), recommend_mode=lambda results: ("skip", "test"))
        app = OnboardApp(svc)
        async with app.run_test(size=(80, 24)) as pilot:
            await F.wait_for(pilot, lambda: app.state.team_loaded, what="team config")
            await pilot.press("enter")
            await F.wait_for(pilot, lambda: getattr(app.screen, "done", False))
            await pilot.press("enter")
            await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ChoicesScreen")
            await pilot.press("n")
            await F.wait_for(pilot, lambda: getattr(app.screen, "plan", None) is not None, what="plan")
            return app.screen.plan, app.screen.rows, app.choices()

    plan, rows, choices = asyncio.run(tui())
    assert choices.project_dir == str(project)  # the checkout, as the command line finds it
    assert choices.team_applied == cli["choices"]["team_applied"]
    assert [a["id"] for a in plan.to_dict()["actions"]] == [a["id"] for a in cli["actions"]]
    assert [r["description"] for r in rows] == [a["description"] for a in cli["actions"]]
    assert any(a["id"] == "profile-env:base" for a in cli["actions"])
