"""Shared test fixtures. Every test gets its own HOME and XDG dirs: no test touches the
host's real HOME, /nix or /etc (installs run inside a mount namespace, see
tests/support/install_ns.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Nix settings for every Nix call in tests: no binary cache, no registry download.
NIX_CONFIG = "\n".join([
    "sandbox = false",
    "substituters =",
    "flake-registry =",
    "experimental-features = nix-command flakes",
])


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """As a normal user, run the whole session (and its xdist workers) again inside a user
    namespace with a /nix of its own, where it is uid 0: see tests/support/userns.py."""
    from tests.support import userns

    if not userns.should_enter():
        return None
    why = userns.why_not()
    if why:
        sys.stderr.write(f"tests: cannot make a user namespace ({why}); tests that need one will fail\n")
        return None
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        capman.stop_global_capturing()
    return userns.reexec_pytest(config.invocation_params.args, str(config.invocation_params.dir))


def pytest_collection_modifyitems(config, items):
    """In a non-root run, skip (with the reason) the few tests that need real root."""
    from tests.support import userns

    if not userns.inside():
        return
    for item in items:
        why = userns.skip_reason(item.nodeid)
        if why:
            item.add_marker(pytest.mark.skip(reason=why))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End a non-root run, after pytest's own last line, with the number of tests it skipped
    because they need real root."""
    from tests.support import userns

    reporter = config.pluginmanager.getplugin("terminalreporter")
    if not userns.inside() or reporter is None or hasattr(config, "workerinput"):
        return
    n = sum(1 for r in reporter.stats.get("skipped", [])
            if userns.REAL_ROOT in str(getattr(r, "longrepr", "")))
    reporter.write_line(f"non-root run (user namespace, own /nix): {n} skipped because they need real root "
                        "(reasons with -rs; README, Testing, lists them)")


def pytest_configure(config):
    """Before any fixture (even session-scoped ones) runs: a throwaway HOME for the whole
    process, so nothing in the suite can reach the real one."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="onboard-test-home-"))
    os.environ["HOME"] = str(base)
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        os.environ[var] = str(base / sub)
    os.environ["NIX_CONFIG"] = NIX_CONFIG
    os.environ["NO_COLOR"] = "1"
    # CI=true turns the terminal UI off by design; the tests that drive it in a real terminal
    # must behave the same on CI as anywhere (test_tui_tmux checks the CI behaviour itself).
    os.environ.pop("CI", None)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_STATE_HOME", ".local/state"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_DATA_HOME", ".local/share")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("ONBOARD_STATE_DIR", raising=False)
    monkeypatch.delenv("ONBOARD_CACHE_DIR", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("NIX_CONFIG", NIX_CONFIG)
    return home


def onboard_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_onboard(*args: str, input: str | None = None, env: dict | None = None,
                timeout: float = 120, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess (python -m onboard)."""
    return subprocess.run([sys.executable, "-m", "onboard", *args], input=input, text=True,
                          capture_output=True, env=env or onboard_env(), timeout=timeout, cwd=cwd)


@pytest.fixture
def onboard():
    return run_onboard


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None


needs_nix = pytest.mark.skipif(not have("nix"), reason="needs Debian's nix-bin (tests/run installs it)")
