"""Real interactive bash, zsh and fish, driven through tmux in the test's HOME: after the
plan is applied, `cd project` brings the profile's variables and PATH, `cd ..` takes them
away, and editing the profile makes the next prompt rebuild and reload it."""

from __future__ import annotations

import shutil

import pytest

from onboard.core.choices import Choices
from onboard.core.integrations.planner import plan_integrations
from tests.conftest import needs_nix
from tests.support.direnv_home import Tmux, World, apply, next_second_after, shell_env, which_with, write_profile

pytestmark = [needs_nix, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("direnv") is None or shutil.which("tmux") is None,
                                 reason="needs direnv and tmux")]

SHELLS = {"bash": ["bash", "-i"], "zsh": ["zsh", "-i"], "fish": ["fish", "-i"]}


@pytest.mark.parametrize("shell", list(SHELLS))
def test_cd_in_loads_cd_out_unloads_and_an_edit_reloads(isolated_home, tmp_path, monkeypatch, shell):
    if shutil.which(shell) is None:
        pytest.skip(f"needs {shell}")
    w = World(isolated_home, tmp_path, monkeypatch)
    profile = write_profile(w.profiles, "demo", {"DEMO_VAR": "demo value"})
    apply(plan_integrations(Choices(components=["direnv"], project_dir=str(w.project), profile="demo"),
                            which=which_with({"zsh": "/usr/bin/zsh", "fish": "/usr/bin/fish"})))
    w.exec_in("true")  # build the cache once, outside the terminal
    t = Tmux(shell_env(isolated_home), SHELLS[shell], cwd=tmp_path)
    try:
        t.send('echo "RE""ADY"')
        t.wait_for("READY")
        t.send("cd project")
        t.send('echo "IN:$DEMO_VAR:"; command -v hello')
        screen = t.wait_for("IN:demo value:")
        assert "/nix/store/" in screen.split("IN:demo value:")[-1], screen
        t.send("cd ..")
        t.send('echo "OUT:$DEMO_VAR:"')
        t.wait_for("OUT::")
        t.send("cd project")
        t.send('echo "BACK:$DEMO_VAR:"')
        t.wait_for("BACK:demo value:")
        # edit the profile while inside: the next prompt notices (direnv watches the profile),
        # the library rebuilds through onboard, and the new value is loaded
        next_second_after(profile)
        write_profile(w.profiles, "demo", {"DEMO_VAR": "edited value"})
        t.send("true")
        t.send('echo "EDITED:$DEMO_VAR:"')
        screen = t.wait_for("EDITED:edited value:", timeout=40)
        assert "onboard: building profile demo" in screen
    finally:
        t.close()
