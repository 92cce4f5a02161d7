"""Helpers for the direnv, lorri and editor tests: a team profile on the stand-in nixpkgs,
plans applied and uninstalled through the engine, direnv and shells run for real in the
per-test HOME (tests/conftest.py gives every test its own)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from tests.conftest import ROOT, onboard_env, run_onboard
from tests.support import standin

PIN = """nixpkgs:
  rev: 50ab793786d9de88ee30ec4e4c24fb4236fc2674
  narHash: sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g=
"""


def write_profile(profiles: Path, name: str, env: dict[str, str], packages: tuple[str, ...] = ("hello",),
                  extra: str = "") -> Path:
    profiles.mkdir(parents=True, exist_ok=True)
    lines = [f"name: {name}", f"description: {name}, a profile for the direnv tests", PIN.rstrip(),
             f"packages: [{', '.join(packages)}]", "env:"]
    lines += [f"  {k}: {v!r}" for k, v in env.items()]
    path = profiles / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def bump_mtime(path: Path, seconds: float = 0.05) -> None:
    """Make a file look edited just now, later than anything written before. An interactive
    shell notices through direnv's watch list, which keeps whole seconds: pass 2 there."""
    st = path.stat()
    t = time.time() + seconds
    os.utime(path, (max(st.st_atime, t), max(st.st_mtime, t)))


def next_second_after(path: Path) -> None:
    """Wait until the clock's second differs from the file's mtime second, so that an edit
    made now is one direnv sees (it compares whole seconds)."""
    target = int(path.stat().st_mtime) + 1
    while time.time() < target:
        time.sleep(target - time.time() + 0.01)


class World:
    """A temporary HOME (from conftest) with a profiles dir, a project and the stand-in."""

    def __init__(self, home: Path, tmp: Path, monkeypatch) -> None:
        self.home = home
        self.tmp = tmp
        self.profiles = tmp / "profiles"
        self.project = tmp / "project"
        self.project.mkdir()
        self.profiles.mkdir()
        monkeypatch.setenv("ONBOARD_PROFILES_DIR", str(self.profiles))
        monkeypatch.setenv("ONBOARD_NIXPKGS_OVERRIDE", str(standin.STANDIN))
        monkeypatch.setenv("NIX_CONFIG", standin.NIX_CONFIG)
        monkeypatch.delenv("DIRENV_DIR", raising=False)
        monkeypatch.delenv("DIRENV_FILE", raising=False)
        monkeypatch.delenv("DIRENV_DIFF", raising=False)
        monkeypatch.delenv("DIRENV_WATCHES", raising=False)
        monkeypatch.delenv("ONBOARD_BIN", raising=False)
        self.monkeypatch = monkeypatch

    def env(self, **extra: str) -> dict[str, str]:
        env = onboard_env(**extra)
        return env

    def direnv(self, *args: str, cwd: Optional[Path] = None, check: bool = True,
               env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess:
        r = subprocess.run(["direnv", *args], capture_output=True, text=True, cwd=cwd or self.project,
                           env=env or self.env(), timeout=120)
        if check:
            assert r.returncode == 0, f"direnv {' '.join(args)}: {r.stdout}\n{r.stderr}"
        return r

    def exec_in(self, script: str, directory: Optional[Path] = None, **kw) -> subprocess.CompletedProcess:
        """`direnv exec DIR sh -c SCRIPT`: what a command sees after cd'ing into DIR."""
        return self.direnv("exec", str(directory or self.project), "sh", "-c", script, **kw)

    def onboard(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return run_onboard(*args, env=self.env(), **kw)


def watched(w: "World", directory: Optional[Path] = None) -> list[str]:
    """The files direnv watches once DIR is loaded (from DIRENV_WATCHES)."""
    import json

    dump = w.exec_in('printf %s "$DIRENV_WATCHES"', directory).stdout
    r = subprocess.run(["direnv", "show_dump", dump], capture_output=True, text=True, env=w.env())
    return [e["Path"] for e in json.loads(r.stdout or "[]")]


def apply(plan) -> None:  # type: ignore[no-untyped-def]
    from onboard.core.engine.plan import apply_plan

    outcome = apply_plan(plan)
    assert outcome.ok, outcome.errors


def uninstall_all() -> list[str]:
    from onboard.core.uninstall import plan_uninstall, run_uninstall

    return run_uninstall(plan_uninstall(include_self=False))


def no_lorri(name: str) -> Optional[str]:
    """shutil.which, minus lorri (for the fallback)."""
    return None if name == "lorri" else shutil.which(name)


def which_with(extra: dict[str, Optional[str]]) -> Callable[[str], Optional[str]]:
    def which(name: str) -> Optional[str]:
        return extra[name] if name in extra else shutil.which(name)
    return which


# -- tmux --------------------------------------------------------------------------------------

class Tmux:
    """A private tmux server running one interactive shell."""

    def __init__(self, env: dict[str, str], argv: list[str], cwd: Path) -> None:
        self.sock = f"onboard-test-{uuid.uuid4().hex[:10]}"
        self.env = env
        cmd = " ".join(_q(a) for a in ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv])
        subprocess.run(["tmux", "-L", self.sock, "-f", "/dev/null", "new-session", "-d", "-x", "120",
                        "-y", "30", "-c", str(cwd), cmd], check=True, timeout=20)

    def send(self, text: str) -> None:
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-l", text], check=True, timeout=10)
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "Enter"], check=True, timeout=10)

    def screen(self) -> str:
        r = subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-J", "-S", "-200"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout

    def wait_for(self, text: str, timeout: float = 30) -> str:
        end = time.time() + timeout
        screen = ""
        while time.time() < end:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; screen:\n{screen}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=10)


def _q(s: str) -> str:
    import shlex

    return shlex.quote(s)


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean login-like environment for an interactive shell in `home`."""
    keep = ("PATH", "NIX_CONFIG", "ONBOARD_PROFILES_DIR", "ONBOARD_NIXPKGS_OVERRIDE", "LANG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HOME=str(home), TERM="xterm", XDG_CONFIG_HOME=str(home / ".config"),
               XDG_STATE_HOME=str(home / ".local/state"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_DATA_HOME=str(home / ".local/share"), PYTHONPATH=str(ROOT), SHELL="/bin/sh",
               PS1="$ ")
    env.update(extra)
    return env


PYTHON = sys.executable
