"""A second Ctrl+C during a run leaves at once, and leaves nothing running: the processes the
running step started (Nix, and the builders Nix runs in sessions of their own) are stopped
first, by pid."""

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
from tests.support import standin

# a `nix` that answers --version and otherwise "builds" for minutes, like Nix: it runs its
# builder in a session of its own (setsid), and it ignores SIGTERM (a Nix that hangs)
FAKE_NIX = """#!/bin/sh
case "$1" in --version) echo "nix (Nix) 2.8.0"; exit 0;; esac
trap '' TERM
setsid sh -c 'echo $$ > "$PIDS/builder.pid.tmp"; mv "$PIDS/builder.pid.tmp" "$PIDS/builder.pid"; exec sleep 300' &
echo $$ > "$PIDS/nix.pid.tmp"; mv "$PIDS/nix.pid.tmp" "$PIDS/nix.pid"
while :; do sleep 1; done
"""

DRIVER = """import sys
sys.path.insert(0, {root!r})
from onboard.core.choices import Choices
from onboard.tui.app import OnboardApp
from onboard.tui.launch import finish
app = OnboardApp(choices=Choices(mode="skip", profile="base", project_dir={project!r}))
app.state.mode_chosen = True  # Nix is left as it is: the build step uses the `nix` on PATH
sys.exit(finish(app))
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids(d: Path, timeout: float = 30) -> dict[str, int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (d / "nix.pid").exists() and (d / "builder.pid").exists():
            return {n: int((d / f"{n}.pid").read_text()) for n in ("nix", "builder")}
        time.sleep(0.05)
    raise AssertionError("the slow build never started")


def _screen(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def _wait(name: str, *words: str, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    s = ""
    while time.monotonic() < end:
        s = _screen(name)
        if all(w in s for w in words):
            return s
        time.sleep(0.05)
    raise AssertionError(f"waited for {words!r}; the terminal shows:\n{s}")


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")
def test_second_ctrl_c_during_a_slow_build_leaves_no_process_behind(tmp_path):
    home, project, fake, pids = (tmp_path / n for n in ("home", "project", "bin", "pids"))
    for d in (home, project / "profiles", fake, pids):
        d.mkdir(parents=True)
    (project / "profiles" / "base.yaml").write_text(standin.BASE)
    (fake / "nix").write_text(FAKE_NIX)
    (fake / "nix").chmod(0o755)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER.format(root=str(ROOT), project=str(project)))
    env = {"HOME": str(home), "XDG_STATE_HOME": str(home / ".local/state"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
           "XDG_DATA_HOME": str(home / ".local/share"), "TERM": "xterm-256color", "PIDS": str(pids),
           "PATH": f"{fake}:{os.environ['PATH']}", "NIX_CONFIG": standin.NIX_CONFIG}
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    name = f"onboard-intr2-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", "-c", str(project),
                    f"env -i {exports} {shlex.quote(sys.executable)} {shlex.quote(str(driver))}; "
                    "echo __EXITED__ rc=$?; sleep 30"], check=True)
    started: dict[str, int] = {}
    try:
        _wait(name, "Welcome")
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        _wait(name, "checks:", "Continue")
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        _wait(name, "Your choices")
        subprocess.run(["tmux", "send-keys", "-t", name, "n"], check=True)
        s = _wait(name, "change(s) to make")
        assert "build the environment of profile base" in s
        subprocess.run(["tmux", "send-keys", "-t", name, "a"], check=True)
        _wait(name, "to this machine now?")
        subprocess.run(["tmux", "send-keys", "-t", name, "y"], check=True)
        started = _pids(pids)
        assert all(alive(p) for p in started.values())
        subprocess.run(["tmux", "send-keys", "-t", name, "C-c"], check=True)
        _wait(name, "Stopping after the current step")
        time.sleep(0.3)
        assert all(alive(p) for p in started.values())  # the first Ctrl+C lets the step finish
        subprocess.run(["tmux", "send-keys", "-t", name, "C-c"], check=True)
        s = _wait(name, "__EXITED__", timeout=30)
        assert "__EXITED__ rc=130" in s and "could not stop" not in s
        left = [f"{n} ({p})" for n, p in started.items() if alive(p)]
        assert not left, f"still running after the TUI left: {', '.join(left)}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
        for p in started.values():
            if alive(p):
                os.kill(p, 9)


def test_stop_children_stops_a_whole_tree_by_pid_and_spares_the_root(tmp_path):
    from onboard.tui.children import descendants, stop_children

    # root -> sh (ignores SIGTERM) -> a builder in its own session, and a plain child
    script = ("trap '' TERM; setsid sleep 300 & sleep 300 & "
              f"echo ready > {shlex.quote(str(tmp_path / 'ready'))}; wait")
    root = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                             f"subprocess.Popen(['sh', '-c', {script!r}]); time.sleep(300)"])
    try:
        end = time.monotonic() + 10
        while not (tmp_path / "ready").exists() and time.monotonic() < end:
            time.sleep(0.02)
        time.sleep(0.1)
        tree = descendants(root.pid)
        assert len(tree) == 3, tree  # sh and its two sleeps
        assert stop_children(grace=0.3, root=root.pid) == []
        assert not any(alive(p) for p in tree)
        assert alive(root.pid)  # only what is below the root
    finally:
        root.kill()
        root.wait()
