"""Snapshots (pytest-textual-snapshot) of every screen at 80x24 and 60x20 (and 120x40 for some).

Everything shown is injected (doctor results, team, profiles, plan rows, run summary), so
the pictures do not depend on this machine or the clock. Update them after an intended
change with `pytest tests/test_tui_snapshots.py --snapshot-update` and look at the diff.
"""

from __future__ import annotations

import pytest

from onboard.core.choices import Choices
from onboard.core.engine.plan import Plan
from onboard.tui.app import OnboardApp
from onboard.tui.progress import Failure
from onboard.tui.state import RunSummary
from tests.support import tui_fakes as F

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((60, 20), id="60x20"),
         pytest.param((120, 40), id="120x40")]
HOME = "/home/newhire"
PROJECT = f"{HOME}/src/webshop"

ROWS = [
    {"id": "directory:/nix", "description": "create /nix owned by newhire", "paths": ["/nix"],
     "status": "would-do", "needs_root": False},
    {"id": "nix-store", "description": "unpack Nix 2.24.9 into /nix/store and load its database",
     "paths": ["/nix/store", "/nix/var/nix/db"], "status": "would-do", "needs_root": False},
    {"id": "profile", "description": "install nix into your profile", "paths": [f"{HOME}/.nix-profile"],
     "status": "would-do", "needs_root": False},
    {"id": "block:bashrc", "description": "load Nix in bash (a marked block)", "paths": [f"{HOME}/.bashrc"],
     "status": "would-do", "needs_root": False},
    {"id": "nix.conf", "description": "enable flakes in nix.conf",
     "paths": [f"{HOME}/.config/nix/nix.conf"], "status": "already", "needs_root": False},
    {"id": "envrc", "description": "write the project's .envrc (use onboard python-web)",
     "paths": [f"{PROJECT}/.envrc"], "status": "would-do", "needs_root": False},
]


def snap_app(**kw) -> OnboardApp:
    svc = F.services(run_checks=F.fixed_doctor(F.FAILING), list_profiles=lambda: F.PROFILES,
                     build_plan=lambda c: Plan(name="onboard", title="set up Nix and the team's dev shell"),
                     preview=lambda plan: [dict(r) for r in ROWS], **kw)
    return OnboardApp(svc, choices=Choices(mode="single", profile="python-web", components=["direnv", "vscode"],
                                           project_dir=PROJECT))


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_welcome(snap_compare, size):
    async def ready(pilot):
        await F.wait_for(pilot, lambda: "Acme" in F.screen_text(pilot.app.screen))

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_checks(snap_compare, size):
    async def ready(pilot):
        pilot.app.show_checks()
        await F.wait_for(pilot, lambda: getattr(pilot.app.screen, "done", False))

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_choices(snap_compare, size):
    async def ready(pilot):
        app = pilot.app
        app.state.recommendation = ("single", "no systemd here")
        app.show_choices()
        await F.wait_for(pilot, lambda: app.state.profiles is not None)

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_plan_review(snap_compare, size):
    async def ready(pilot):
        pilot.app.show_plan()
        await F.wait_for(pilot, lambda: getattr(pilot.app.screen, "plan", None) is not None)

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


SUMMARY = RunSummary(
    kind="apply", title="set up Nix and the team's dev shell", status="ok",
    changed=[("DONE", r["description"]) if r["status"] != "already" else ("SKIP", r["description"])
             for r in ROWS],
    total=len(ROWS), log_path=f"{HOME}/.local/state/onboard/logs/tui-onboard.log",
    answers_path=f"{HOME}/.local/state/onboard/answers.json",
    receipt_path=f"{HOME}/.local/state/onboard/receipts/onboard.json", profile="python-web",
)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_done(snap_compare, size):
    async def ready(pilot):
        from onboard.tui.screens.done import DoneScreen

        pilot.app.push_screen(DoneScreen(SUMMARY))
        await F.wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "DoneScreen")

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES[:2])
def test_snapshot_failure(snap_compare, size):
    summary = RunSummary(
        kind="apply", title=SUMMARY.title, status="failed", changed=[("DONE", ROWS[0]["description"]),
                                                                     ("FAIL", ROWS[1]["description"])],
        total=len(ROWS), failure=Failure("nix-store", ROWS[1]["description"],
                                         "sha256 mismatch: the tarball is not the one the table names",
                                         "download it again, or pass --sha256 for a team mirror"),
        tail=[f"unpacking store path {i} of 42" for i in range(1, 21)], outcome=None,
        log_path=SUMMARY.log_path, receipt_path=SUMMARY.receipt_path, can_revert=True)

    async def ready(pilot):
        from onboard.tui.screens.failure import FailureScreen

        pilot.app.push_screen(FailureScreen(summary))
        await F.wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "FailureScreen")

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES[:2])
def test_snapshot_help(snap_compare, size):
    async def ready(pilot):
        pilot.app.show_plan()
        await F.wait_for(pilot, lambda: getattr(pilot.app.screen, "plan", None) is not None)
        await pilot.press("question_mark")
        await F.wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "HelpScreen")

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES[:2])
def test_snapshot_explain(snap_compare, size):
    async def ready(pilot):
        pilot.app.show_plan()
        await F.wait_for(pilot, lambda: getattr(pilot.app.screen, "plan", None) is not None)
        await pilot.press("e")
        await F.wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "TextScreen")

    assert snap_compare(snap_app(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", SIZES[:2])
def test_every_screen_shows_its_way_on(size):
    """At 80x24 and 60x20 each screen's footer is on screen and names what Enter (or its main
    key) does; nothing is below the notice size."""
    import asyncio

    from onboard.tui.screens.done import DoneScreen
    from onboard.tui.screens.failure import FailureScreen

    async def run() -> dict:
        seen = {}
        app = snap_app()
        async with app.run_test(size=size) as pilot:
            await F.wait_for(pilot, lambda: "Acme" in F.screen_text(app.screen))
            seen["welcome"] = F.rendered(app)
            app.show_checks()
            await F.wait_for(pilot, lambda: getattr(app.screen, "done", False))
            seen["checks"] = F.rendered(app)
            app.show_choices()
            await F.wait_for(pilot, lambda: app.state.profiles is not None)
            seen["choices"] = F.rendered(app)
            app.show_plan()
            await F.wait_for(pilot, lambda: getattr(app.screen, "plan", None) is not None)
            await pilot.pause(0.1)
            seen["plan"] = F.rendered(app)
            app.push_screen(DoneScreen(SUMMARY))
            await F.wait_for(pilot, lambda: type(app.screen).__name__ == "DoneScreen")
            await pilot.pause(0.1)
            seen["done"] = F.rendered(app)
            app.push_screen(FailureScreen(RunSummary(kind="apply", title="t", status="failed", failure=Failure(
                "nix-download:x", "download Nix", "ConnectionError: HTTPSConnectionPool(host='mirror.test', "
                "port=443): Max retries exceeded with url: /x (Caused by NewConnectionError('<urllib3."
                "connection.HTTPSConnection object at 0x7f>: [Errno 111] Connection refused'))"),
                tail=["a"] * 30, log_path=SUMMARY.log_path)))
            await F.wait_for(pilot, lambda: type(app.screen).__name__ == "FailureScreen")
            await pilot.pause(0.1)
            seen["failure"] = F.rendered(app)
        return seen

    seen = asyncio.run(run())
    want = {"welcome": "Enter  Start", "checks": "Enter  Continue", "choices": "Enter  Change",
            "plan": "Enter  Apply", "done": "Enter  Enter the environment", "failure": "r  Retry"}
    for name, text in seen.items():
        assert want[name] in text.splitlines()[-1] or want[name] in text, f"{name} at {size}:\n{text}"
        assert "too small" not in text and "This terminal is" not in text
    assert "could not connect to mirror.test (port 443): connection refused" in seen["failure"].replace("\n", " ") \
        or "could not connect to mirror.test" in seen["failure"]
    assert "Error" not in seen["failure"].split("Full log")[0]
    assert "What to do next" in seen["done"]
