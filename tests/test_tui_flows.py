"""Textual's Pilot drives every flow of the TUI against harmless plans in temp dirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onboard.core.choices import Choices
from onboard.core.engine.plan import apply_plan
from onboard.core.planner import demo_plan
from onboard.tui.app import OnboardApp
from tests.conftest import run_onboard
from tests.support import tui_fakes as F

SIZE = (80, 24)


def make_app(tmp_path: Path, **svc) -> OnboardApp:
    return OnboardApp(F.services(**svc), demo_dir=str(tmp_path / "demo"))


def screen_name(app) -> str:
    return type(app.screen).__name__


async def at(pilot, name: str, timeout: float = 10):
    await F.wait_for(pilot, lambda: screen_name(pilot.app) == name, timeout, f"screen {name}")
    await pilot.pause()
    return pilot.app.screen


async def walk_to_plan(pilot):
    await at(pilot, "WelcomeScreen")
    await pilot.press("enter")
    checks = await at(pilot, "ChecksScreen")
    await F.wait_for(pilot, lambda: checks.done, what="checks done")
    await pilot.press("enter")
    await at(pilot, "ChoicesScreen")
    await pilot.press("n")
    plan = await at(pilot, "PlanScreen")
    await F.wait_for(pilot, lambda: plan.plan is not None, what="plan built")
    return plan


async def plan_first(pilot):
    """Straight to the Plan screen (the walk there is tested on its own)."""
    await at(pilot, "WelcomeScreen")
    pilot.app.show_plan()
    plan = await at(pilot, "PlanScreen")
    await F.wait_for(pilot, lambda: plan.plan is not None, what="plan built")
    return plan


async def confirm_apply(pilot):
    await pilot.press("a")
    await at(pilot, "ConfirmDialog")
    await pilot.press("y")


async def test_install_demo_plan_to_done_saves_replayable_answers(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        welcome = await at(pilot, "WelcomeScreen")
        await F.wait_for(pilot, lambda: "Acme" in F.screen_text(welcome), what="team name")
        assert "Welcome to onboard for the Acme team" in F.screen_text(welcome)
        plan = await walk_to_plan(pilot)
        text = F.screen_text(plan)
        assert "3 change(s) to make" in text and "Nothing has changed yet" in text
        for p in ("onboard-demo", "hello.txt", ".demo-shellrc"):  # paths, in the rows that name them
            assert f"{tmp_path / 'demo'}" in text and p in text
        assert not (tmp_path / "demo" / "onboard-demo").exists()  # nothing runs before confirming
        await pilot.press("a")
        await at(pilot, "ConfirmDialog")
        await pilot.press("n")  # "not yet": still nothing
        await at(pilot, "PlanScreen")
        assert not (tmp_path / "demo" / "onboard-demo").exists()
        await pilot.press("a")
        await at(pilot, "ConfirmDialog")
        await pilot.press("y")
        done = await at(pilot, "DoneScreen")
        text = F.screen_text(done)
        assert "Done: demo changes in" in text
        assert text.count("DONE") >= 3 and "onboard uninstall" in text
        assert app.screen.summary.log_path and Path(app.screen.summary.log_path).exists()
        answers = Path(done.summary.answers_path)
        await pilot.press("q")
    assert app.return_value is not None and (app.return_value.action, app.return_value.code) == ("quit", 0)
    assert app.return_value.message.startswith("onboard: done.")
    assert (tmp_path / "demo" / "onboard-demo" / "hello.txt").read_text() == "hello from onboard\n"
    assert "export ONBOARD_DEMO=1" in (tmp_path / "demo" / ".demo-shellrc").read_text()
    saved = json.loads(answers.read_text())
    assert Choices.from_dict(saved) == Choices(demo_dir=str(tmp_path / "demo"), mode="single")
    # the same answers replay headless: everything is already so
    r = run_onboard("apply", "--answers", str(answers), "--yes")
    assert r.returncode == 0, r.stderr


async def test_choices_hub_edits_exactly_the_headless_answers(tmp_path):
    (tmp_path / "demo").mkdir()
    project = tmp_path / "proj"
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("enter")
        checks = await at(pilot, "ChecksScreen")
        await F.wait_for(pilot, lambda: checks.done)
        await pilot.press("enter")
        hub = await at(pilot, "ChoicesScreen")
        assert "single-user (recommended)" in F.screen_text(hub)
        # the hub lists: demo (disabled), mode, source, profile, hook, editors, unfree, project
        await pilot.press("enter")  # install mode
        await at(pilot, "PickDialog")
        await pilot.press("end", "enter")  # "leave Nix as it is"
        await at(pilot, "ChoicesScreen")
        await pilot.press("down", "down", "down", "enter")  # shell hook
        await at(pilot, "PickDialog")
        await pilot.press("down", "enter")  # direnv
        await at(pilot, "ChoicesScreen")
        await pilot.press("down", "enter")  # editors
        await at(pilot, "MultiDialog")
        await pilot.press("down", "down", "space", "down", "space", "enter")  # vim, emacs
        await at(pilot, "ChoicesScreen")
        await pilot.press("down", "enter")  # unfree
        await at(pilot, "TextDialog")
        app.screen.query_one("Input").value = "bad name!"
        await pilot.press("enter")
        await pilot.pause()
        assert "not accepted" in F.screen_text(app.screen)
        app.screen.query_one("Input").value = "vscode, slack"
        await pilot.press("enter")
        await at(pilot, "ChoicesScreen")
        await pilot.press("down", "enter")  # project folder
        await at(pilot, "TextDialog")
        app.screen.query_one("Input").value = str(project)
        await pilot.press("enter")
        hub = await at(pilot, "ChoicesScreen")
        text = F.screen_text(hub)
        assert "leave Nix as it is (recommended: single-user)" in text
        assert "vim, emacs" in text and "vscode, slack" in text and str(project) in text
        await pilot.press("escape")  # back to the checks, then forward again: nothing is lost
        await at(pilot, "ChecksScreen")
        await pilot.press("enter")
        hub = await at(pilot, "ChoicesScreen")
        assert "vim, emacs" in F.screen_text(hub)
    assert app.state.choices == Choices(mode="skip", components=["direnv", "vim", "emacs"],
                                        allow_unfree=["vscode", "slack"], project_dir=str(project),
                                        demo_dir=str(tmp_path / "demo"))


async def test_help_and_esc_on_every_screen_before_apply(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path)

    async def help_here(*words):
        await pilot.press("question_mark")
        text = F.screen_text(await at(pilot, "HelpScreen"))
        assert "Keys on this screen" in text
        for w in words:
            assert w in text
        await pilot.press("escape")
        await F.wait_for(pilot, lambda: screen_name(app) != "HelpScreen")

    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await help_here("Profiles", "Uninstall", "Quit")
        await pilot.press("enter")
        checks = await at(pilot, "ChecksScreen")
        await F.wait_for(pilot, lambda: checks.done)
        await help_here("Re-run checks", "Back")
        await pilot.press("enter")
        await at(pilot, "ChoicesScreen")
        await help_here("Review plan", "Back", "--answers")
        await pilot.press("n")
        plan = await at(pilot, "PlanScreen")
        await F.wait_for(pilot, lambda: plan.plan is not None)
        await help_here("Apply", "Back")
        for name in ("ChoicesScreen", "ChecksScreen", "WelcomeScreen"):
            await pilot.press("escape")
            await at(pilot, name)
        await pilot.press("p")
        await at(pilot, "ProfilesScreen")
        await help_here("Rollback")
        await pilot.press("escape")
        await at(pilot, "WelcomeScreen")
        await pilot.press("u")
        await at(pilot, "UninstallScreen")
        await help_here("Uninstall")
        await pilot.press("escape")
        await at(pilot, "WelcomeScreen")
    assert not (tmp_path / "demo" / "onboard-demo").exists()


async def test_failing_check_shows_word_and_fix(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path, run_checks=F.fixed_doctor(F.FAILING))
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("enter")
        checks = await at(pilot, "ChecksScreen")
        await F.wait_for(pilot, lambda: checks.done)
        text = F.screen_text(checks)
        assert "6 checks: 4 OK, 1 WARN, 1 FAIL" in text
        assert "FAIL" in text and "0.4 GiB free" in text
        assert "fix:" in text and "nix-collect-garbage" in text
        assert "1 check(s) FAIL" in text and "Continue anyway" in text
        assert "Recommended install mode: single-user (no systemd here)" in text
        rows = {r.view.id: r.view for r in checks.rows.values()}
        assert rows["disk"].word == "FAIL" and rows["init"].word == "WARN"
        await pilot.press("d")  # details of the highlighted row
        await at(pilot, "TextScreen")
        await pilot.press("escape")
        await at(pilot, "ChecksScreen")
        await pilot.press("r")  # re-run
        await F.wait_for(pilot, lambda: checks.done)
        await pilot.press("enter")
        await at(pilot, "ChoicesScreen")


async def test_checks_that_cannot_run_say_so(tmp_path):
    (tmp_path / "demo").mkdir()

    def broken(emit):
        raise RuntimeError("the machine checks cannot run here")

    app = make_app(tmp_path, run_checks=broken)
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("enter")
        checks = await at(pilot, "ChecksScreen")
        await F.wait_for(pilot, lambda: checks.done)
        text = F.screen_text(checks)
        assert "could not run" in text and "the machine checks cannot run here" in text
        await pilot.press("enter")
        await at(pilot, "ChoicesScreen")


async def test_failing_action_shows_cause_log_and_retries(tmp_path):
    d = tmp_path / "demo"
    (d / "onboard-demo" / "hello.txt").mkdir(parents=True)  # a directory where a file must go
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await plan_first(pilot)
        await confirm_apply(pilot)
        fail = await at(pilot, "FailureScreen")
        text = F.screen_text(fail)
        assert "FAILED" in text and f"write {d / 'onboard-demo' / 'hello.txt'}" in text
        # the engine's words for "a directory is where the file goes", and what to do
        assert ("not a regular file" in text or "Is a directory" in text) and "What to do:" in text
        assert "Full log: " in text and Path(fail.summary.log_path).exists()
        assert "The log's last " in text and "line(s)" in text
        # the first step was already so (the folder existed): there is nothing to revert
        assert not fail.can_revert and "Undo this run" not in text
        assert "Retry" in text and "Quit" in text
        (d / "onboard-demo" / "hello.txt").rmdir()
        await pilot.press("r")
        done = await at(pilot, "DoneScreen")
        assert "Done:" in F.screen_text(done)
    assert (d / "onboard-demo" / "hello.txt").read_text() == "hello from onboard\n"


async def test_failing_action_can_be_reverted(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path, build_plan=lambda choices: F.failing_plan(d))
    async with app.run_test(size=SIZE) as pilot:
        await plan_first(pilot)
        await confirm_apply(pilot)
        fail = await at(pilot, "FailureScreen")
        assert (d / "made-by-onboard").is_dir()
        assert fail.can_revert and fail.can_retry
        text = F.screen_text(fail)
        assert "Undo this run" in text and "Retry" in text
        assert "FAILED" in text and "the disk is on fire" in text
        assert "What to do: put the fire out and retry" in text
        tail = fail.summary.tail
        assert len(tail) == 20 and tail[-2] == "line 25 of the log" and "failed:" in tail[-1]
        await pilot.press("u")  # asked first: what exactly is undone
        ask = await at(pilot, "ConfirmDialog")
        assert "Undo the 2 change(s) this run made?" in F.screen_text(ask)
        await pilot.press("y")
        done = await at(pilot, "DoneScreen")
        assert "Undone" in F.screen_text(done)
    assert not (d / "made-by-onboard").exists()


async def test_cancel_in_the_middle_stops_between_actions_then_resumes(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path, build_plan=lambda choices: F.gated_plan(d, "cancel-test"))
    async with app.run_test(size=SIZE) as pilot:
        await plan_first(pilot)
        await confirm_apply(pilot)
        run = await at(pilot, "RunScreen")
        await F.wait_for(pilot, lambda: run.model.current, what="first action running")
        await pilot.press("escape")  # no going back during Apply, and no quitting mid-run
        await pilot.press("q")
        await pilot.pause(0.05)
        assert app.is_running and screen_name(app) == "RunScreen"
        assert "elapsed 0:0" in F.screen_text(run) and "0 of 3 steps" in F.screen_text(run)
        log = run.query_one("#log-pane")
        assert not log.display
        await pilot.press("l")
        assert log.display
        await pilot.press("c")
        await F.wait_for(pilot, lambda: "Cancelling" in F.screen_text(run))
        F.GATES["cancel-test"].set()
        fail = await at(pilot, "FailureScreen")
        text = F.screen_text(fail)
        assert "Cancelled after 1 of 3 steps" in text and "Resume" in text
        assert (d / "step0.txt").exists() and not (d / "step1.txt").exists()
        await pilot.press("r")
        await at(pilot, "DoneScreen")
    assert all((d / f"step{i}.txt").exists() for i in range(3))


async def test_progress_flood_is_merged_and_rendered_at_a_bounded_rate(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path, build_plan=lambda choices: F.gated_plan(d, "flood", n=2, progress=20000))
    delivered = []
    async with app.run_test(size=SIZE) as pilot:
        await plan_first(pilot)
        await confirm_apply(pilot)
        run = await at(pilot, "RunScreen")
        original = run._deliver
        run.bridge.deliver = lambda events: (delivered.append(len(events)), original(events))
        await F.wait_for(pilot, lambda: run.model.counters.get("builds") and
                         run.model.counters["builds"].done == 20000, what="all progress seen")
        assert "20000 of 20000 built" in F.screen_text(run)
        F.GATES["flood"].set()
        await at(pilot, "DoneScreen")
    assert run.bridge.received > 20000
    assert run.bridge.merged > 10000  # a flood of progress becomes a few updates
    assert len(delivered) < run.bridge.received / 100


async def test_uninstall_previews_then_undoes_everything(tmp_path):
    d = tmp_path / "demo"
    d.mkdir()
    assert apply_plan(demo_plan(str(d))).ok
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("u")
        un = await at(pilot, "UninstallScreen")
        await F.wait_for(pilot, lambda: un.rows, what="uninstall preview")
        text = F.screen_text(un)
        assert "3 step(s) to undo" in text and f"path: {d / '.demo-shellrc'}" in text
        assert (d / "onboard-demo").exists()
        await pilot.press("u")
        await at(pilot, "ConfirmDialog")
        await pilot.press("n")
        await at(pilot, "UninstallScreen")
        assert (d / "onboard-demo").exists()
        await pilot.press("u")
        await at(pilot, "ConfirmDialog")
        await pilot.press("y")
        done = await at(pilot, "DoneScreen")
        assert "Uninstalled" in F.screen_text(done)
        await pilot.press("q")
    assert sorted(p.name for p in d.iterdir()) == []


async def test_uninstall_with_nothing_recorded(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("u")
        un = await at(pilot, "UninstallScreen")
        await F.wait_for(pilot, lambda: "Nothing to uninstall" in F.screen_text(un))
        await pilot.press("u")  # not available: stays
        await pilot.pause()
        assert screen_name(app) == "UninstallScreen"


async def test_profiles_switch_shows_changes_then_rollback(tmp_path):
    (tmp_path / "demo").mkdir()
    gens = F.FakeGenerations()
    app = OnboardApp(F.services(list_profiles=lambda: F.PROFILES, generations=gens),
                     demo_dir=str(tmp_path / "demo"))
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("p")
        prof = await at(pilot, "ProfilesScreen")
        await F.wait_for(pilot, lambda: prof.gen_state is not None and "science" in F.screen_text(prof))
        text = F.screen_text(prof)
        assert "Active profile: python-web" in text and "#1" in text
        await pilot.press("down", "s")  # science
        dialog = await at(pilot, "ConfirmDialog")
        text = F.screen_text(dialog)
        assert "Switch this project to science?" in text
        assert "+ numpy" in text and "- postgresql_16" in text
        await pilot.press("y")
        await F.wait_for(pilot, lambda: prof.gen_state and prof.gen_state.active == "science")
        assert gens.calls == [("switch", prof.project, "science")]
        await F.wait_for(pilot, lambda: "switched to science" in F.screen_text(prof))
        await pilot.press("b")
        dialog = await at(pilot, "ConfirmDialog")
        assert "Roll back to the previous generation (python-web)?" in F.screen_text(dialog)
        await pilot.press("y")
        await F.wait_for(pilot, lambda: prof.gen_state and prof.gen_state.active == "python-web")
        assert gens.calls[-1][0] == "rollback"


async def test_profiles_screen_without_generations_says_so(tmp_path):
    (tmp_path / "demo").mkdir()

    class Missing:
        def state(self, project):
            raise OSError("profile generations are not available: the state folder is unreadable")

    app = OnboardApp(F.services(list_profiles=lambda: F.PROFILES, generations=Missing()),
                     demo_dir=str(tmp_path / "demo"))
    async with app.run_test(size=SIZE) as pilot:
        await at(pilot, "WelcomeScreen")
        await pilot.press("p")
        prof = await at(pilot, "ProfilesScreen")
        await F.wait_for(pilot, lambda: "not available" in F.screen_text(prof))
        await pilot.press("s")
        await pilot.pause()
        assert screen_name(app) == "ProfilesScreen"


async def test_done_enters_the_profile_shell(tmp_path):
    d = tmp_path / "demo"
    d.mkdir()
    app = OnboardApp(F.services(), demo_dir=str(d),
                     choices=Choices(demo_dir=str(d), profile="python-web"))
    async with app.run_test(size=SIZE) as pilot:
        await plan_first(pilot)
        await confirm_apply(pilot)
        done = await at(pilot, "DoneScreen")
        assert "Enter the environment now (python-web)" in F.screen_text(done)
        await pilot.press("s")
        await pilot.pause()
    assert app.return_value is not None
    assert (app.return_value.action, app.return_value.profile) == ("shell", "python-web")
    assert "onboard shell python-web" in app.return_value.message


def too_small(app) -> bool:
    return app.screen.has_class("-too-small") and app.screen.query_one("#too-small").display


async def test_too_small_terminal_gets_a_notice_not_a_crash(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path)
    async with app.run_test(size=(40, 10)) as pilot:
        welcome = await at(pilot, "WelcomeScreen")
        await F.wait_for(pilot, lambda: too_small(app))
        assert "This terminal is 40x10" in F.screen_text(welcome)
        await pilot.resize_terminal(80, 24)
        await F.wait_for(pilot, lambda: not too_small(app))
        await pilot.press("enter")
        checks = await at(pilot, "ChecksScreen")
        await pilot.resize_terminal(50, 12)
        await F.wait_for(pilot, lambda: too_small(app))
        await F.wait_for(pilot, lambda: checks.done)  # work goes on underneath
        await pilot.resize_terminal(120, 40)
        await F.wait_for(pilot, lambda: not too_small(app))
        assert "6 checks" in F.screen_text(checks)


@pytest.mark.parametrize("argv", [[], ["--demo", "/nonexistent"]])
def test_run_tui_refuses_without_a_terminal(argv):
    code = ("import sys; from onboard.tui.launch import run_tui; sys.exit(run_tui(%r))" % (argv,))
    import subprocess
    import sys

    from tests.conftest import onboard_env

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=onboard_env(),
                       stdin=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 2
    assert "needs a terminal" in r.stderr and "onboard install --yes" in r.stderr


def test_first_screen_imports_no_core_and_nothing_heavy():
    import subprocess
    import sys

    from tests.conftest import onboard_env

    code = ("import sys; import onboard.tui.launch, onboard.tui.app, onboard.tui.screens.welcome\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', 'requests', 'psutil') "
            "or m.startswith('onboard.core'))\nprint(','.join(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=onboard_env(),
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ""


TEAM_YAML = """\
version: 1
team: Platform
default_profile: science
editors: [vim]
loader: direnv
"""


async def test_team_config_names_the_team_and_fills_the_choices(tmp_path, monkeypatch):
    cfg = tmp_path / "onboard.yaml"
    cfg.write_text(TEAM_YAML)
    monkeypatch.setenv("ONBOARD_TEAM_CONFIG", str(cfg))
    app = OnboardApp(F.services(load_team=OnboardApp().services.load_team,
                                seed_choices=OnboardApp().services.seed_choices))
    async with app.run_test(size=SIZE) as pilot:
        welcome = await at(pilot, "WelcomeScreen")
        await F.wait_for(pilot, lambda: "Platform" in F.screen_text(welcome))
        text = F.screen_text(welcome)
        assert "Welcome to onboard for the Platform team" in text
        assert f"Team config: {cfg}" in text and "your default profile: science" in text
        app.show_choices()
        hub = await at(pilot, "ChoicesScreen")
        text = F.screen_text(hub)
        assert "science" in text and "direnv" in text and "vim" in text
    c = app.state.choices
    assert (c.profile, c.components) == ("science", ["direnv", "vim"])


async def test_invalid_team_config_is_shown_not_used(tmp_path, monkeypatch):
    cfg = tmp_path / "onboard.yaml"
    cfg.write_text("version: 1\nteam: Platform\ndefault_profil: science\n")
    monkeypatch.setenv("ONBOARD_TEAM_CONFIG", str(cfg))
    app = OnboardApp(F.services(load_team=OnboardApp().services.load_team))
    async with app.run_test(size=SIZE) as pilot:
        welcome = await at(pilot, "WelcomeScreen")
        await F.wait_for(pilot, lambda: "problems" in F.screen_text(welcome))
        text = F.screen_text(welcome)
        assert "default_profil" in text and f"{cfg}:3" in text
        assert "Welcome to onboard" in text
    assert app.choices().profile == ""


async def test_a_plan_that_needs_root_is_not_offered_without_it(tmp_path):
    (tmp_path / "demo").mkdir()
    app = make_app(tmp_path, build_plan=lambda c: F.root_plan(tmp_path), is_root=lambda: False)
    async with app.run_test(size=SIZE) as pilot:
        plan = await plan_first(pilot)
        text = F.screen_text(plan)
        assert "[needs root]" in text and "sudo onboard" in text and "single-user mode" in text
        await pilot.press("a")
        await pilot.pause()
        assert screen_name(app) == "PlanScreen"
    assert not (tmp_path / "etc-file").exists()
