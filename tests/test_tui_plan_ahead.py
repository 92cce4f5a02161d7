"""The plan is made ahead: as soon as the answers are known (checks done, team config read) and
again after each change, in the background; the Plan screen shows the one made for the same
answers at once, and never a plan that is still being made. The planner reuses the doctor's
facts about the Nix here instead of probing again."""

from __future__ import annotations

import threading
from pathlib import Path

from onboard.core.choices import Choices
from onboard.core.planner import demo_plan
from onboard.tui.app import OnboardApp
from tests.support import tui_fakes as F

SIZE = (80, 24)


class CountingPlanner:
    """build_plan that records each set of answers it is asked for, and can be held."""

    def __init__(self, d: Path) -> None:
        self.d = d
        self.calls: list[dict] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, choices: Choices):
        self.calls.append(choices.to_dict())
        assert self.gate.wait(20), "the test never released the plan"
        return demo_plan(str(self.d))


def _app(tmp_path: Path, planner: CountingPlanner) -> OnboardApp:
    (tmp_path / "demo").mkdir(exist_ok=True)
    return OnboardApp(F.services(build_plan=planner), demo_dir=str(tmp_path / "demo"))


async def _at(pilot, name: str):
    await F.wait_for(pilot, lambda: type(pilot.app.screen).__name__ == name, what=f"screen {name}")
    await pilot.pause()
    return pilot.app.screen


async def _to_choices(pilot):
    await _at(pilot, "WelcomeScreen")
    await pilot.press("enter")
    checks = await _at(pilot, "ChecksScreen")
    await F.wait_for(pilot, lambda: checks.done, what="checks done")
    return checks


async def test_plan_made_during_checks_is_shown_at_once_and_made_again_after_a_change(tmp_path):
    planner = CountingPlanner(tmp_path / "demo")
    app = _app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await _to_choices(pilot)
        # the answers are known when the checks end: the plan is made before anyone asks for it
        await F.wait_for(pilot, lambda: app.state.prep is not None and app.state.prep.status == "ready",
                         what="the plan made ahead")
        assert len(planner.calls) == 1 and planner.calls[0]["mode"] == "single"  # the recommendation
        await pilot.press("enter")
        await _at(pilot, "ChoicesScreen")
        await pilot.press("n")
        plan = await _at(pilot, "PlanScreen")
        assert plan.plan is app.state.prep.plan  # the same plan, shown on arrival
        assert "3 change(s) to make" in F.screen_text(plan)
        assert len(planner.calls) == 1  # the same answers: not made twice
        # back, change an answer: a new plan for the new answers, and only that one is shown
        await pilot.press("escape")
        choices = await _at(pilot, "ChoicesScreen")
        choices._set_unfree("vscode")
        await F.wait_for(pilot, lambda: len(planner.calls) == 2 and app.state.prep.status == "ready",
                         what="the plan for the changed answers")
        assert planner.calls[1]["allow_unfree"] == ["vscode"]
        await pilot.press("n")
        plan = await _at(pilot, "PlanScreen")
        assert plan.plan is app.state.prep.plan and len(planner.calls) == 2
        assert "3 change(s) to make" in F.screen_text(plan)


async def test_a_plan_still_being_made_is_never_shown_as_complete(tmp_path):
    planner = CountingPlanner(tmp_path / "demo")
    planner.gate.clear()  # the planner is slow: held until the test lets it go
    app = _app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await _to_choices(pilot)
        await F.wait_for(pilot, lambda: len(planner.calls) == 1, what="the plan being made")
        await pilot.press("enter")
        await _at(pilot, "ChoicesScreen")
        await pilot.press("n")
        plan = await _at(pilot, "PlanScreen")
        await pilot.pause(0.3)
        text = F.screen_text(plan)
        assert "Working out the plan" in text and "change(s)" not in text
        assert plan.plan is None and plan.check_action("apply", ()) is None  # nothing to apply yet
        assert len(planner.calls) == 1  # waits for the one being made, does not start another
        planner.gate.set()
        await F.wait_for(pilot, lambda: plan.plan is not None, what="the plan shown")
        await pilot.pause()
        assert "3 change(s) to make" in F.screen_text(plan) and len(planner.calls) == 1


async def test_answers_changed_while_a_plan_is_made_get_their_own_plan_after_it(tmp_path):
    planner = CountingPlanner(tmp_path / "demo")
    planner.gate.clear()
    app = _app(tmp_path, planner)
    async with app.run_test(size=SIZE) as pilot:
        await _to_choices(pilot)
        await F.wait_for(pilot, lambda: len(planner.calls) == 1, what="the first plan being made")
        await pilot.press("enter")
        choices = await _at(pilot, "ChoicesScreen")
        choices._set_unfree("hello")  # while the first one is still being made
        await pilot.pause(0.2)
        assert len(planner.calls) == 1  # one at a time
        first = app.state.prep
        assert first is not None and first.status == "waiting"
        planner.gate.set()
        await F.wait_for(pilot, lambda: first.status == "ready", what="the second plan")
        assert len(planner.calls) == 2 and planner.calls[1]["allow_unfree"] == ["hello"]
        await pilot.press("n")
        plan = await _at(pilot, "PlanScreen")
        assert plan.plan is first.plan


def test_the_plan_reuses_the_doctors_facts_about_nix(monkeypatch, tmp_path):
    """build_plan with the doctor's NixFacts asks the machine nothing more about Nix."""
    from onboard.core import machine, planner
    from onboard.core.doctor.model import Inputs
    from onboard.core.nixinstall import planner as nix_planner

    inp = Inputs()
    facts = inp.nix()  # what the doctor's Nix check found (memoised for all checks)
    calls = []
    monkeypatch.setattr(nix_planner, "existing_nix", lambda *a, **k: calls.append(a) or facts)
    monkeypatch.setattr(machine, "existing_nix", lambda *a, **k: calls.append(a) or facts)
    c = Choices(mode="single", components=[], project_dir="")
    try:
        first = planner.build_plan(c, nix_facts=facts)
    except Exception as exc:  # the same answer with and without the doctor's facts
        first = exc
    assert calls == []
    try:
        second = planner.build_plan(Choices(mode="single", components=[], project_dir=""))
    except Exception as exc:
        second = exc
    assert len(calls) == 1  # by default the planner asks the machine itself
    if isinstance(first, Exception):
        assert str(first) == str(second)
    else:
        assert not isinstance(second, Exception)
        assert [a.describe() for a in first.actions] == [a.describe() for a in second.actions]


def test_the_tui_services_hand_the_doctors_facts_to_the_planner(monkeypatch):
    from onboard.core import planner
    from onboard.tui import services

    seen = {}

    def fake_build_plan(choices, nix_facts=planner.PROBE):
        seen["facts"] = nix_facts
        return demo_plan("/tmp")

    monkeypatch.setattr(planner, "build_plan", fake_build_plan)
    monkeypatch.setattr(services, "_DOCTOR", {})
    services.real_build_plan(Choices())
    assert seen["facts"] is planner.PROBE  # no checks yet: the planner probes itself
    services.real_run_checks(lambda e: None)
    services.real_build_plan(Choices())
    inp = services._DOCTOR["inputs"]
    assert seen["facts"] is inp.nix()  # the very object the doctor's checks found


# -- an unreachable binary cache: Choices says what happens instead ---------------------------------

def _cache_down_doctor():
    from onboard.core.doctor import CheckResult

    down = CheckResult("net-cache", "Nix binary cache", "warn",
                       "cache.nixos.org:443 not reachable: name does not resolve", "set HTTPS_PROXY",
                       {"host": "cache.nixos.org", "port": 443})
    return F.fixed_doctor(F.GOOD + [down])


class _Cache:
    def __init__(self, subs):
        self.substituters = subs
        self.trusted_public_keys = []


async def _cache_row(tmp_path, team) -> tuple[str, str]:
    (tmp_path / "demo").mkdir(exist_ok=True)
    app = OnboardApp(F.services(run_checks=_cache_down_doctor(), load_team=lambda: team), demo_dir=str(tmp_path / "demo"))
    async with app.run_test(size=SIZE) as pilot:
        await _to_choices(pilot)
        await pilot.press("enter")
        choices = await _at(pilot, "ChoicesScreen")
        text = F.screen_text(choices)
        choices.edit("cache")
        dialog = await _at(pilot, "PickDialog")
        return text, F.screen_text(dialog)


async def test_unreachable_cache_offers_the_teams_cache(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class CacheTeam(F.Team):
        binary_cache: object = None

    team = CacheTeam(binary_cache=_Cache(["https://cache.nixos.org", "https://nix-cache.acme.example"]))
    row, dialog = await _cache_row(tmp_path, team)
    assert "Binary cache" in row and "the team's cache https://nix-cache.acme.example" in row
    assert "https://nix-cache.acme.example" in dialog and "nix.conf" in dialog
    assert "build from source" in dialog and "hour" in dialog


async def test_unreachable_cache_without_a_team_cache_says_how_long_from_source(tmp_path):
    row, dialog = await _cache_row(tmp_path, F.TEAM)
    assert "Binary cache" in row and "build from source" in row and "team's cache" not in row
    assert "build from source" in dialog and "core(s)" in dialog and "team's binary cache" not in dialog


async def test_reachable_cache_adds_no_row(tmp_path):
    (tmp_path / "demo").mkdir()
    app = OnboardApp(F.services(), demo_dir=str(tmp_path / "demo"))
    async with app.run_test(size=SIZE) as pilot:
        await _to_choices(pilot)
        await pilot.press("enter")
        choices = await _at(pilot, "ChoicesScreen")
        assert "Binary cache" not in F.screen_text(choices)
