"""A real terminal: tmux runs `python -m onboard` at 80x24 and a new hire's keys walk the
day-one flow (demo plan in a temp dir, temp HOME and XDG dirs); capture-pane checks each
screen as drawn."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


class Pane:
    def __init__(self, name: str, cmd: str, env: dict[str, str], cwd: Path, size=(80, 24)) -> None:
        self.name = name
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        # -u COLUMNS/LINES: pytest's tmux server may inherit them, and they override the pane's size
        shell = (f"cd {shlex.quote(str(cwd))} && env -u COLUMNS -u LINES {exports} {cmd}; "
                 "echo __EXITED__ rc=$?; sleep 30")
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]),
                        shell], check=True)

    def text(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def wait(self, *words: str, timeout: float = 15) -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = self.text()
            if all(w in screen for w in words):
                return screen
            if "__EXITED__" in screen and "__EXITED__" not in words:
                break
            time.sleep(0.05)
        raise AssertionError(f"waited for {words!r}; the terminal shows:\n{screen}")

    def gone_after(self, word: str, timeout: float = 10) -> None:
        """Wait until `word` left the screen (an Esc followed at once by a key reads as Alt+key)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and word in self.text():
            time.sleep(0.05)
        assert word not in self.text(), self.text()

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def short_dir():
    """A short path, so that screen lines do not wrap in the middle of what is checked."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix="ob-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_day_one_walk_in_a_real_terminal(tmp_path, short_dir):
    home = tmp_path / "home"
    demo = short_dir
    home.mkdir()
    env = {"HOME": str(home), "XDG_STATE_HOME": str(home / ".local/state"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_DATA_HOME": str(home / ".local/share"), "PYTHONPATH": str(ROOT),
           "ONBOARD_DEMO_DIR": str(demo), "TERM": "xterm-256color", "NIX_CONFIG": os.environ.get("NIX_CONFIG", ""),
           "PATH": os.environ["PATH"]}
    pane = Pane(f"onboard-tui-test-{os.getpid()}", f"{shlex.quote(sys.executable)} -m onboard", env, tmp_path)
    try:
        s = pane.wait("Welcome to onboard", "Press Enter to start")
        assert "DEMO: harmless changes in a demo folder only" in s and "DEMO MODE" in s and "Traceback" not in s
        pane.keys("Enter")
        s = pane.wait("checks:", "OK", "Continue", "Recommended install mode")  # the real doctor ran
        assert "2/6 Checks" in s
        pane.keys("Enter")
        s = pane.wait("Your choices", "Install mode", "Demo folder")
        pane.keys("n")
        s = pane.wait("3 change(s) to make", "Nothing has changed yet")
        assert f"{demo}/onboard-demo" in s and not (demo / "onboard-demo").exists()
        pane.keys("a")
        pane.wait("Apply 3 change(s) to this machine now?")
        pane.keys("y")
        s = pane.wait("Done: demo changes", "onboard uninstall")
        assert s.count("DONE") >= 3 and "6/6 Done" in s
        pane.keys("q")
        s = pane.wait("__EXITED__ rc=0")
    finally:
        pane.close()
    assert (demo / "onboard-demo" / "hello.txt").read_text() == "hello from onboard\n"
    assert (home / ".local/state/onboard/answers.json").exists()


def test_too_small_then_resized_in_a_real_terminal(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONPATH": str(ROOT),
           "TERM": "xterm-256color", "PATH": os.environ["PATH"]}
    pane = Pane(f"onboard-tui-small-{os.getpid()}", f"{shlex.quote(sys.executable)} -m onboard", env, tmp_path,
                size=(50, 14))
    try:
        pane.wait("This terminal is 50x14")
        subprocess.run(["tmux", "resize-window", "-t", pane.name, "-x", "80", "-y", "24"], check=True)
        pane.wait("Welcome to onboard", "Press Enter to start")
        pane.keys("q")
        pane.wait("__EXITED__ rc=0")
    finally:
        pane.close()


def test_ci_set_turns_the_terminal_ui_off_even_on_a_terminal(tmp_path):
    env = {"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "PYTHONPATH": str(ROOT),
           "TERM": "xterm-256color", "PATH": os.environ["PATH"], "CI": "true"}
    pane = Pane(f"onboard-tui-ci-{os.getpid()}", f"{shlex.quote(sys.executable)} -m onboard", env, tmp_path)
    try:
        screen = pane.wait("__EXITED__ rc=0")
        assert "exit codes" in screen and "Welcome to onboard" not in screen
    finally:
        pane.close()


def _checkout_env(home: Path) -> dict[str, str]:
    env = {"HOME": str(home), "XDG_STATE_HOME": str(home / ".local/state"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_DATA_HOME": str(home / ".local/share"), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
           "NIX_CONFIG": os.environ.get("NIX_CONFIG", ""), "PATH": os.environ["PATH"]}
    return env  # CI is not passed on: the guided setup turns itself off when it is set


def _to_plan(pane: "Pane") -> str:
    pane.wait("Welcome to onboard", "Press Enter to start")
    pane.keys("Enter")
    pane.wait("checks: ", "Continue", timeout=30)
    pane.keys("Tab", "Enter")  # Enter continues wherever the focus is
    pane.wait("Your choices", "Project folder")
    pane.keys("n")
    return pane.wait("change(s) to make", "Nothing has changed yet", timeout=30)


def test_plan_of_the_checkout_scrolls_to_its_last_row_and_q_leaves_with_0(tmp_path):
    """From this checkout (its team config names a default profile): the plan ends with the
    profile's build, End and PageDown reach it at 80x24 without hunting for focus."""
    home = tmp_path / "home"
    home.mkdir()
    pane = Pane(f"onboard-tui-plan-{os.getpid()}", f"{shlex.quote(sys.executable)} -m onboard",
                _checkout_env(home), ROOT)
    try:
        s = _to_plan(pane)
        assert "could not be made" not in s
        import re

        n = int(re.search(r"(\d+) change\(s\)", s).group(1))
        last = [r for r in s.splitlines() if re.search(rf"(^|[^0-9]){n}\. ", r)]
        pane.keys("End")
        time.sleep(0.5)
        s = pane.text()
        assert re.search(rf"(^|[^0-9]){n}\. build the environment of profile", s), s
        assert "Enter" in s.splitlines()[-1] and "Apply" in s.splitlines()[-1]  # the footer names Enter
        pane.keys("Home")
        time.sleep(0.3)
        assert " 1. " in pane.text()
        for _ in range(6):
            pane.keys("PageDown")
        time.sleep(0.5)
        assert re.search(rf"(^|[^0-9]){n}\. ", pane.text()) or last
        pane.keys("e")
        s = pane.wait("Why:")
        pane.keys("Escape")
        pane.gone_after("Why:")
        pane.keys("q")
        s = pane.wait("__EXITED__ rc=0")
        assert "onboard: nothing was changed" in s
    finally:
        pane.close()
    assert not (home / ".local/state/onboard/receipts").exists()


def test_ctrl_c_on_the_plan_exits_130_with_one_line(tmp_path, short_dir):
    home = tmp_path / "home"
    home.mkdir()
    env = dict(_checkout_env(home), ONBOARD_DEMO_DIR=str(short_dir))
    pane = Pane(f"onboard-tui-intr-{os.getpid()}", f"{shlex.quote(sys.executable)} -m onboard", env, tmp_path)
    try:
        _to_plan(pane)
        pane.keys("C-c")
        s = pane.wait("__EXITED__ rc=130")
        assert "onboard: interrupted; nothing was changed" in s
    finally:
        pane.close()
