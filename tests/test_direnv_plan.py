"""The direnv part of the plan: shell hooks in marked blocks (symlinked, CRLF and
unterminated rc files), the direnv library, the project's .envrc and `direnv allow`,
all undone byte for byte; `onboard envrc` never allows without asking."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from onboard.core.choices import Choices, ChoicesError
from onboard.core.engine.plan import preview
from onboard.core.integrations import direnv as dv
from onboard.core.integrations.actions.direnv_allow import DirenvAllow, direnv_allowed
from onboard.core.integrations.actions.generated_file import GeneratedFile
from onboard.core.integrations.actions.plan_note import PlanNote
from onboard.core.integrations.planner import plan_integrations
from tests.support import tree
from tests.support.direnv_home import World, apply, uninstall_all, which_with, write_profile

needs_direnv = pytest.mark.skipif(shutil.which("direnv") is None, reason="needs direnv")
ALL_SHELLS = which_with({"zsh": "/usr/bin/zsh", "fish": "/usr/bin/fish"})


@pytest.fixture
def world(isolated_home, tmp_path, monkeypatch):
    w = World(isolated_home, tmp_path, monkeypatch)
    write_profile(w.profiles, "demo", {"DEMO_VAR": "demo value"})
    return w


def kinds(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.kind for a in plan.actions]


def test_plan_lists_hooks_library_envrc_and_allow(world):
    plan = plan_integrations(Choices(components=["direnv"], project_dir=str(world.project), profile="demo"),
                             which=ALL_SHELLS)
    descs = [a.describe() for a in plan.actions]
    assert any("hook direnv into bash" in d for d in descs)
    assert any("hook direnv into zsh" in d for d in descs)
    assert any("hook direnv into fish" in d for d in descs)
    assert "generated-file" in kinds(plan) and "direnv-allow" in kinds(plan)
    envrc = next(a for a in plan.actions if isinstance(a, GeneratedFile) and a.path.endswith(".envrc"))
    assert envrc.content.splitlines()[-1] == "use onboard demo"
    assert envrc.content.startswith(dv.ENVRC_SIGNATURE)
    assert plan.meta["integration_mode"] == "direnv"
    rows = preview(plan)
    assert all(r["status"] in ("would-do", "already", "note") for r in rows)


def test_hooks_respect_symlinked_crlf_and_unterminated_rc_files_and_revert_byte_for_byte(world):
    home = world.home
    dotfiles = home / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "bashrc").write_bytes(b"# my bashrc\r\nalias ll='ls -l'\r\n")
    (home / ".bashrc").symlink_to(dotfiles / "bashrc")
    (home / ".zshrc").write_bytes(b"export ZSH_THING=1")  # no final newline
    before = tree.snapshot(home)
    apply(plan_integrations(Choices(components=["direnv"]), which=ALL_SHELLS))
    assert (home / ".bashrc").is_symlink(), "the symlink must stay a symlink"
    bashrc = (dotfiles / "bashrc").read_bytes()
    assert bashrc.startswith(b"# my bashrc\r\nalias ll='ls -l'\r\n# >>> onboard: direnv >>>\r\n")
    assert b'eval "$(direnv hook bash)"\r\n' in bashrc and b"\n" not in bashrc.replace(b"\r\n", b"")
    zshrc = (home / ".zshrc").read_text()
    assert zshrc.startswith("export ZSH_THING=1\n# >>> onboard: direnv >>>\n")
    assert 'eval "$(direnv hook zsh)"' in zshrc
    fish = home / ".config/fish/conf.d/onboard-direnv.fish"
    assert "direnv hook fish | source" in fish.read_text()
    assert uninstall_all() == []
    assert tree.diff(before, tree.snapshot(home, ignore=(".local/state",))) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_hook_is_valid_in_its_shell(world, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"needs {shell}")
    apply(plan_integrations(Choices(components=["direnv"]), which=ALL_SHELLS))
    rc = dv.rc_file(shell)
    check = {"bash": ["bash", "-n", str(rc)], "zsh": ["zsh", "-n", str(rc)],
             "fish": ["fish", "--no-execute", str(rc)]}[shell]
    r = subprocess.run(check, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_a_user_hook_already_in_the_rc_file_is_left_alone(world):
    (world.home / ".bashrc").write_text('eval "$(direnv hook bash)"\n')
    plan = plan_integrations(Choices(components=["direnv"]), which=which_with({"zsh": None, "fish": None}))
    notes = [a.message for a in plan.actions if isinstance(a, PlanNote)]
    assert any("already hooks direnv into bash" in n for n in notes)
    assert not any(getattr(a, "path", "") == str(world.home / ".bashrc") for a in plan.actions
                   if a.kind == "marked-block")


@needs_direnv
def test_an_existing_envrc_gets_a_marked_block_and_keeps_the_users_lines(world):
    envrc = world.project / ".envrc"
    envrc.write_text("export MINE=1\n")
    before = tree.snapshot(world.project)
    apply(plan_integrations(Choices(components=["direnv"], project_dir=str(world.project), profile="demo")))
    text = envrc.read_text()
    assert text.startswith("export MINE=1\n# >>> onboard: direnv >>>\n") and "use onboard demo" in text
    r = world.exec_in('echo "$MINE|$DEMO_VAR"')
    assert r.stdout.strip() == "1|demo value"
    # the user edits their part: uninstall removes only onboard's block
    envrc.write_text(envrc.read_text().replace("export MINE=1", "export MINE=2"))
    assert uninstall_all() == []
    assert envrc.read_text() == "export MINE=2\n"
    envrc.write_text("export MINE=1\n")
    assert tree.diff(before, tree.snapshot(world.project)) == []


def test_lorri_asked_for_but_not_installed_falls_back_to_direnv_and_says_so(world):
    plan = plan_integrations(Choices(components=["lorri"], project_dir=str(world.project), profile="demo"),
                             which=which_with({"lorri": None}))
    assert plan.meta["integration_mode"] == "direnv"
    assert "lorri is not installed" in plan.title
    notes = [a for a in plan.actions if isinstance(a, PlanNote)]
    assert any("lorri is not installed" in n.message and "direnv mode" in n.message for n in notes)
    envrc = next(a for a in plan.actions if isinstance(a, GeneratedFile) and a.path.endswith(".envrc"))
    assert "use onboard demo" in envrc.content
    seen = []
    preview(plan, emit=seen.append)
    assert any(getattr(e, "kind", "") == "notice" and "lorri is not installed" in e.message for e in seen)


def test_bad_choices_are_clear_errors(world, tmp_path):
    with pytest.raises(ChoicesError, match="does not exist"):
        plan_integrations(Choices(components=["direnv"], project_dir=str(tmp_path / "nope")))
    with pytest.raises(ChoicesError, match="not a profile name"):
        plan_integrations(Choices(components=["direnv"], project_dir=str(world.project), profile="a b"))
    plan = plan_integrations(Choices(components=["direnv"]))
    assert any("no project directory" in a.message for a in plan.actions if isinstance(a, PlanNote))


# -- onboard envrc -------------------------------------------------------------------------------

@needs_direnv
def test_envrc_without_a_terminal_writes_shows_and_does_not_allow(world):
    r = world.onboard("envrc", "demo", "--project", str(world.project), input="")
    assert r.returncode == 0, r.stderr
    assert "use onboard demo" in r.stdout  # shown
    assert "not asked: no terminal" in r.stderr and f"direnv allow {world.project}" in r.stderr
    assert (world.project / ".envrc").read_text().endswith("use onboard demo\n")
    assert direnv_allowed(str(world.project)) is False
    assert dv.library_path().exists()


@needs_direnv
def test_envrc_yes_allows_and_uninstall_undoes_everything(world):
    before = tree.snapshot(world.home)
    before_project = tree.snapshot(world.project)
    r = world.onboard("envrc", "demo", "--project", str(world.project), "--yes")
    assert r.returncode == 0, r.stderr
    assert direnv_allowed(str(world.project)) is True
    assert world.exec_in('echo "$DEMO_VAR"').stdout.strip() == "demo value"
    again = world.onboard("envrc", "demo", "--project", str(world.project), "--yes")
    assert again.returncode == 0 and "already allowed" in again.stderr
    r = world.onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stderr
    assert direnv_allowed(str(world.project)) is False
    assert tree.diff(before_project, tree.snapshot(world.project)) == []
    after = tree.snapshot(world.home, ignore=(".cache",))
    assert tree.diff({k: v for k, v in before.items() if not k.startswith(".cache")}, after) == []


@needs_direnv
def test_envrc_for_another_profile_replaces_onboards_own_file_and_uninstall_still_removes_it(world):
    write_profile(world.profiles, "other", {"DEMO_VAR": "other"})
    assert world.onboard("envrc", "demo", "--project", str(world.project), "--allow").returncode == 0
    r = world.onboard("envrc", "other", "--project", str(world.project), "--allow")
    assert r.returncode == 0, r.stderr
    assert (world.project / ".envrc").read_text().endswith("use onboard other\n")
    assert direnv_allowed(str(world.project)) is True
    assert world.onboard("uninstall", "--yes").returncode == 0
    assert not (world.project / ".envrc").exists()


def test_envrc_dry_run_and_json_change_nothing(world):
    r = world.onboard("envrc", "--project", str(world.project), "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    import json

    doc = json.loads(r.stdout)
    assert doc["written"] is False and doc["content"].endswith("use onboard\n")
    assert "no profile is active" in r.stderr
    assert not (world.project / ".envrc").exists() and not dv.library_path().exists()


def test_envrc_bad_input(world, tmp_path):
    r = world.onboard("envrc", "demo", "--project", str(tmp_path / "missing"))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = world.onboard("envrc", "../x", "--project", str(world.project))
    assert r.returncode == 2 and "not a profile name" in r.stderr
    r = world.onboard("envrc", "demo", "--allow", "--no-allow")
    assert r.returncode == 2


@needs_direnv
def test_direnv_allow_action_leaves_no_direnv_dirs_behind(world):
    data = world.home / ".local/share"
    assert not data.exists()
    (world.project / ".envrc").write_text("export X=1\n")
    act = DirenvAllow(project=str(world.project))
    from onboard.core.engine.plan import Plan

    apply(Plan(name="t", actions=[act]))
    assert direnv_allowed(str(world.project))
    assert uninstall_all() == []
    assert not data.exists(), sorted(str(p) for p in data.rglob("*"))
    assert os.path.exists(world.project / ".envrc")
