"""The Profiles screen's services, on real servers: listed with their state, started (u) until
each answers, a service's log (l), stopped (d) leaving nothing; a project without services
shows no services section."""

from __future__ import annotations

import pytest

from onboard.tui.app import OnboardApp
from tests.support import tui_fakes as F
from tests.support.standin import onboard_standin_env
from tests.test_services import leftovers, listening, needs_servers, ob, project, variables

pytestmark = [needs_servers, pytest.mark.slow]


async def test_profiles_screen_starts_and_stops_services_and_shows_a_log(tmp_path, monkeypatch):
    p = project(tmp_path)
    assert ob(p, "switch", "svc", "--yes").returncode == 0
    v = variables(p)
    for k, val in onboard_standin_env().items():
        monkeypatch.setenv(k, val)
    monkeypatch.chdir(p)
    app = OnboardApp(F.services(list_profiles=lambda: [], generations=None))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await F.wait_for(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen")
            await pilot.press("p")
            prof = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ProfilesScreen" and app.screen)
            await F.wait_for(pilot, lambda: len(prof.svc_rows) == 2, what="the services listed")
            text = F.screen_text(prof)
            assert "Services of svc" in text
            options = [str(o.prompt) for o in prof.query_one("#svc-list").options]
            assert any(o.startswith("postgresql") and "stopped" in o and f"127.0.0.1:{v['PGPORT']}" in o
                       for o in options), options
            await F.wait_for(pilot, lambda: prof.query_one("#svc-list").region.height >= 2,
                             what="the services on screen at 80x24")
            await pilot.press("u")
            await F.wait_for(pilot, lambda: "The services are up" in F.screen_text(prof), timeout=120,
                             what="up to finish")
            await F.wait_for(pilot, lambda: {r["state"] for r in prof.svc_rows} == {"ready"}, timeout=10)
            assert listening(int(v["PGPORT"])) and listening(int(v["REDIS_PORT"]))
            options = [str(o.prompt) for o in prof.query_one("#svc-list").options]
            assert all("ready" in o and "pid " in o for o in options), options
            ol = prof.query_one("#svc-list")
            ol.highlighted = [o.id for o in ol.options].index("redis")
            await pilot.press("l")
            dialog = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "LogDialog" and app.screen)
            text = F.screen_text(dialog)
            assert "The log of redis" in text and "Ready to accept connections" in text, text
            assert "The whole log: " in text
            await pilot.press("escape")
            await F.wait_for(pilot, lambda: app.screen is prof)
            await pilot.press("d")
            await F.wait_for(pilot, lambda: "The services are stopped" in F.screen_text(prof), timeout=30)
            await F.wait_for(pilot, lambda: {r["state"] for r in prof.svc_rows} == {"stopped"}, timeout=10)
    finally:
        ob(p, "services", "down")
    assert not listening(int(v["PGPORT"])) and not listening(int(v["REDIS_PORT"]))
    assert leftovers(p) == []


async def test_no_services_section_without_services(tmp_path, monkeypatch):
    p = project(tmp_path, "packages: []\n", name="plain")
    assert ob(p, "switch", "plain", "--yes").returncode == 0
    for k, val in onboard_standin_env().items():
        monkeypatch.setenv(k, val)
    monkeypatch.chdir(p)
    app = OnboardApp(F.services(list_profiles=lambda: [], generations=None))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        prof = await F.wait_for(pilot, lambda: type(app.screen).__name__ == "ProfilesScreen" and app.screen)
        await F.wait_for(pilot, lambda: prof.gen_state is not None and prof.svc_profile == "plain",
                         what="the services loaded")
        assert not prof.query_one("#svc-list").display
        assert prof.check_action("services_up", ()) is None
