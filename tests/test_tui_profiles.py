"""The Profiles screen over the real generations (real Nix, the stand-in package set):
switch shows what changes, makes a generation; rollback returns to the previous one."""

from __future__ import annotations

import pytest

from onboard.tui.app import OnboardApp
from tests.conftest import needs_nix
from tests.support import standin
from tests.support import tui_fakes as F
from tests.support.standin import World

pytestmark = [needs_nix, pytest.mark.slow]


async def test_switch_and_rollback_with_real_generations(tmp_path, monkeypatch):
    world = World(tmp_path / "world")
    for k, v in world.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(world.project)
    app = OnboardApp(F.services(list_profiles=OnboardApp().services.list_profiles, generations=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await F.wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
        await pilot.press("p")
        prof = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ProfilesScreen" and app.screen)
        await F.wait_for(pilot, lambda: "web" in F.screen_text(prof) and prof.gen_state is not None)
        assert "No generations yet" in F.screen_text(prof)
        names = [o.id for o in prof.query_one("#prof-list").options]
        assert names == ["base", "sci", "web"]

        async def switch_to(name: str, *expect: str) -> None:
            ol = prof.query_one("#prof-list")
            ol.highlighted = names.index(name)
            await pilot.press("s")
            dialog = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog" and app.screen)
            text = F.screen_text(dialog)
            assert f"Switch this project to {name}?" in text
            for e in expect:
                assert e in text, text
            await pilot.press("y")
            await F.wait_for(pilot, lambda: prof.gen_state and prof.gen_state.active == name, timeout=120)

        await switch_to("web", "+ profile web", "+ postgresql_16")
        await switch_to("base", "- postgresql_16", "- $DATABASE_URL")
        await F.wait_for(pilot, lambda: "base is active: generation 2" in F.screen_text(prof))
        assert (world.state / "projects" / str(world.project).replace("/", "%") / "active").read_text() == "base\n"
        await pilot.press("b")
        dialog = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmDialog" and app.screen)
        text = F.screen_text(dialog)
        assert "Roll back to the previous generation (web, generation 1)?" in text and "+ postgresql_16" in text
        await pilot.press("y")
        await F.wait_for(pilot, lambda: prof.gen_state and prof.gen_state.active == "web")
        assert "back to generation 1 (web)" in F.screen_text(prof)
    assert (world.state / "projects" / str(world.project).replace("/", "%") / "active").read_text() == "web\n"
    assert standin.have_nix()
