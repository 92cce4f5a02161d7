"""Day one in a real terminal, for real: tmux runs `onboard` inside a private mount namespace
(an empty /nix, a copy of /etc, a temporary HOME). A new hire's keys walk Welcome -> Checks
-> Choices -> Plan -> Apply (Nix really installed from the team's mirror) -> Done -> "enter
the shell now", and the shell has the team profile's environment (built by the installed
store against the stand-in package set)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest

from tests.support import standin
from tests.support.install_fixtures import can_sandbox, sandbox  # noqa: F401
from tests.support.install_ns import Sandbox
from tests.support.install_tarball import get_tarball

pytestmark = [pytest.mark.slow, can_sandbox, pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]

TEAM = """\
version: 1
team: Newcomers
default_profile: web
profiles: profiles
nix:
  version: "{version}"
  mirror: file://{mirror}
  sha256:
    "{version}-{system}": {sha256}
"""


class Pane:
    def __init__(self, name: str) -> None:
        self.name = name

    def text(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", self.name],
                              capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def gone(self, word: str, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if word not in self.text():
                return
            time.sleep(0.05)
        raise AssertionError(f"{word!r} stayed on the screen:\n{self.text()}")

    def wait(self, *words: str, timeout: float = 30) -> str:
        end = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < end:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True,
                                    text=True).stdout
            if all(w in screen for w in words):
                return screen
            if "__EXITED__" in screen:
                break
            time.sleep(0.1)
        raise AssertionError(f"waited for {words!r}; the terminal shows:\n{self.text()}")


def test_day_one_from_bare_machine_to_the_profile_shell(sandbox: Sandbox):
    tarball = get_tarball()
    mirror = sandbox.base / "mirror"
    (mirror / f"nix-{tarball.version}").mkdir(parents=True)
    shutil.copy(tarball.path, mirror / f"nix-{tarball.version}" / f"nix-{tarball.version}-{tarball.system}.tar.xz")
    team = sandbox.home / "team"
    (team / "profiles").mkdir(parents=True)
    (team / "profiles" / "base.yaml").write_text(standin.BASE)
    (team / "profiles" / "web.yaml").write_text(standin.WEB)
    (team / "onboard.yaml").write_text(TEAM.format(version=tarball.version, mirror=mirror, system=tarball.system,
                                                   sha256=tarball.sha256))
    env = sandbox.env(TERM="xterm-256color", ONBOARD_TEAM_CONFIG=str(team / "onboard.yaml"),
                      ONBOARD_PROFILES_DIR=str(team / "profiles"),
                      ONBOARD_NIXPKGS_OVERRIDE=str(standin.standin_path()))
    env.pop("NO_COLOR", None)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    cmd = " ".join(shlex.quote(a) for a in sandbox.argv(sys.executable, "-m", "onboard"))
    name = f"onboard-dayone-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                    f"env -i {exports} {cmd}; echo __EXITED__ rc=$?; sleep 60"], check=True)
    pane = Pane(name)
    try:
        pane.wait("Welcome to onboard for the Newcomers team", "Team config:")
        pane.keys("Enter")
        pane.wait("checks:", "Continue", "Recommended install mode", timeout=30)
        pane.keys("Enter")
        s = pane.wait("Your choices", "Profile          web")
        pane.keys("Enter")  # install mode: single-user, whatever the doctor recommends here
        pane.wait("Enter chooses")
        pane.keys("Home", "Enter")
        pane.gone("Enter chooses")
        s = pane.wait("Install mode     single-user")
        pane.keys("n")
        s = pane.wait("change(s) to make", "Nothing has changed yet", timeout=30)
        assert "/nix" in s and not (sandbox.nix / "store").exists()
        pane.keys("a")
        pane.wait("to this machine now?")
        pane.keys("y")
        pane.wait("5/6 Apply", timeout=30)
        s = pane.wait("6/6 Done", "Enter the environment now (web)", timeout=240)
        assert "FAIL" not in s and "DONE" in s and "What to do next" in s
        log = sorted((sandbox.home / ".local/state/onboard/logs").glob("tui-onboard-*.log"))[-1].read_text()
        assert "build the environment of profile web" in log  # built inside Apply, as a step
        pane.keys("Enter")  # leaves the TUI: `onboard shell web` takes over this terminal, nothing to build
        pane.wait("(web)", "web hook ran", timeout=180)
        pane.keys('echo "profile=$ONBOARD_PROFILE db=$DATABASE_URL team=$TEAM"', "Enter")
        s = pane.wait("profile=web db=postgres://localhost/web team=onboard", timeout=30)
        pane.keys("exit", "Enter")
        pane.wait("__EXITED__", timeout=30)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    assert (sandbox.nix / "store").is_dir()
    assert (sandbox.home / ".local/state/onboard/answers.json").exists()


def _team_dir(sandbox: Sandbox, mirror: str) -> dict:
    team = sandbox.home / "team"
    (team / "profiles").mkdir(parents=True)
    (team / "profiles" / "base.yaml").write_text(standin.BASE)
    (team / "onboard.yaml").write_text(TEAM.replace("default_profile: web", "default_profile: base").format(
        version="2.24.9", mirror=mirror, system="x86_64-linux", sha256="ab" * 32).replace("file://", ""))
    env = sandbox.env(TERM="xterm-256color", ONBOARD_TEAM_CONFIG=str(team / "onboard.yaml"),
                      ONBOARD_PROFILES_DIR=str(team / "profiles"),
                      ONBOARD_NIXPKGS_OVERRIDE=str(standin.standin_path()))
    env.pop("NO_COLOR", None)
    env.pop("CI", None)
    return env


def _start(sandbox: Sandbox, env: dict, tag: str) -> Pane:
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    cmd = " ".join(shlex.quote(a) for a in sandbox.argv(sys.executable, "-m", "onboard"))
    name = f"onboard-{tag}-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24",
                    f"env -i {exports} {cmd}; echo __EXITED__ rc=$?; sleep 60"], check=True)
    return Pane(name)


def _apply_single(pane: Pane) -> None:
    pane.wait("Welcome to onboard for the Newcomers team")
    pane.keys("Enter")
    pane.wait("checks:", "Continue", timeout=30)
    pane.keys("Enter")
    pane.wait("Your choices")
    pane.keys("Enter")
    pane.wait("Enter chooses")
    pane.keys("Home", "Enter")
    pane.gone("Enter chooses")
    pane.wait("Install mode     single-user")
    pane.keys("n")
    pane.wait("change(s) to make", timeout=30)
    pane.keys("a")
    pane.wait("to this machine now?")
    pane.keys("y")


def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_mirror_fails_honestly_and_quit_exits_1(sandbox: Sandbox):
    env = _team_dir(sandbox, f"http://127.0.0.1:{_closed_port()}")
    pane = _start(sandbox, env, "fail")
    try:
        _apply_single(pane)
        s = pane.wait("FAILED:", "Full log:", timeout=60)
        assert "download" in s and "could not connect to 127.0.0.1" in s.replace("\n", " ") or "refused" in s
        assert "ConnectionError" not in s and "HTTPConnectionPool" not in s and "Traceback" not in s
        assert "The log's last" in s and "Try another source" in s and "Retry" in s
        pane.keys("q")
        s = pane.wait("__EXITED__", timeout=30)
        assert "__EXITED__ rc=1" in s and "onboard: the setup stopped (failed) at: download" in s
    finally:
        subprocess.run(["tmux", "kill-session", "-t", pane.name], capture_output=True)


def test_ctrl_c_during_apply_exits_130(sandbox: Sandbox):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list = []
    stop = threading.Event()

    def accept() -> None:  # a mirror that takes the connection and never answers
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    env = _team_dir(sandbox, f"http://127.0.0.1:{server.getsockname()[1]}")
    pane = _start(sandbox, env, "intr")
    try:
        _apply_single(pane)
        pane.wait("5/6 Apply", "RUN", timeout=30)
        pane.keys("C-c")
        pane.wait("Stopping after the current step")
        pane.keys("C-c")
        s = pane.wait("__EXITED__", timeout=30)
        assert "__EXITED__ rc=130" in s and "onboard: interrupted" in s
    finally:
        subprocess.run(["tmux", "kill-session", "-t", pane.name], capture_output=True)
        stop.set()
        t.join()
        for c in held:
            c.close()
        server.close()
