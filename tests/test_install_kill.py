"""SIGKILL at action boundaries of a real install: the test watches the write-ahead receipt
and kills the whole process group once N actions are done. Then (a) uninstall from the
partial receipt leaves /nix, the /etc copy and HOME as they were, and (b) after another
kill at the same point, re-running the install completes it and uninstall again leaves
nothing. Every boundary of the single-user install; a few of daemon mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.support.install_fixtures import BUILD_EXPR, assert_unchanged, can_sandbox
from tests.support.install_ns import Sandbox
from tests.support.install_tarball import get_tarball

pytestmark = [pytest.mark.slow, can_sandbox]

SINGLE_ACTIONS = 11  # the single-user plan from a local tarball (checked below)


def _done(receipt) -> int:
    try:
        data = json.loads(receipt.read_text())
    except (OSError, ValueError):
        return -1
    return sum(1 for e in data.get("entries", []) if e.get("state") == "done")


def install_and_kill(sb: Sandbox, args: list[str], after: int, timeout: float = 60) -> int:
    """Start `onboard install ARGS`; SIGKILL it once `after` actions are done. The done count seen."""
    proc = sb.popen("install", *args, "--yes")
    deadline = time.monotonic() + timeout
    seen = -1
    try:
        while time.monotonic() < deadline:
            seen = _done(sb.receipt())
            if seen >= after:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.002)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)
    if proc.stdout:
        proc.stdout.close()
    return _done(sb.receipt())


def _args(tarball) -> list[str]:
    return ["--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256]


@pytest.fixture(scope="module")
def tarball():
    return get_tarball()


def test_single_plan_has_the_expected_boundaries(tarball):
    from onboard.core.choices import Choices
    from onboard.core.nixinstall.planner import MachineView, plan_nix_install

    plan = plan_nix_install(Choices(mode="single", tarball=str(tarball.path), sha256=tarball.sha256),
                            view=MachineView(environ={"PATH": os.environ["PATH"]}))
    assert len(plan.actions) == SINGLE_ACTIONS


@pytest.mark.parametrize("after", range(0, SINGLE_ACTIONS))
def test_single_user_killed_after_n_actions(tmp_path, tarball, after):
    sb = Sandbox(tmp_path / "sb")
    try:
        before = sb.snapshots()
        # (a) killed, then uninstalled from the partial receipt
        seen = install_and_kill(sb, _args(tarball), after)
        assert seen >= after or seen == -1 and after == 0
        if sb.receipt().exists():
            r = sb.onboard("uninstall", "--yes")
            assert r.returncode == 0, r.stderr[-2000:]
        assert_unchanged(before, sb.snapshots())
        # (b) killed at the same point, then the install is run again to completion
        install_and_kill(sb, _args(tarball), after)
        r = sb.onboard("install", *_args(tarball), "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        if after in (0, 5, SINGLE_ACTIONS - 1):  # (the install's own self-test already built through it)
            expr = BUILD_EXPR.format(tag="resumed")
            r = sb.sh(f"bash -lc 'cat $(nix-build --no-out-link -E \"$0\")' '{expr}'")
            assert r.stdout.strip() == "resumed 0", r.stderr
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert_unchanged(before, sb.snapshots())
    finally:
        sb.cleanup()


# daemon mode (14 actions from a local tarball): after the users, after the store, after the daemon started
@pytest.mark.parametrize("after", [2, 5, 10])
def test_daemon_mode_killed_then_resumed_and_uninstalled(tmp_path, tarball, after):
    sb = Sandbox(tmp_path / "sb")
    args = ["--mode", "daemon", "--init", "none", "--build-users", "2", "--tarball", str(tarball.path),
            "--sha256", tarball.sha256]
    try:
        before = sb.snapshots()
        install_and_kill(sb, args, after)
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert_unchanged(before, sb.snapshots())
        install_and_kill(sb, args, after)
        r = sb.onboard("install", *args, "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert_unchanged(before, sb.snapshots())
    finally:
        sb.cleanup()


# daemon mode: SIGKILL at the spawn of nix-daemon (before its pid is recorded anywhere) and just
# after it (pid file written, receipt without the pid): the rerun finds that daemon instead of
# starting a second one, and uninstall stops it
def _killed_at_daemon_spawn(sb: Sandbox, args: list[str], when: str) -> None:
    if when == "spawn":
        proc = subprocess.Popen(sb.argv(sys.executable, "-m", "tests.support.install_killat", "install", *args,
                                        "--yes"), env=sb.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=str(sb.home),
                                start_new_session=True)
        proc.wait(60)
    else:
        proc = sb.popen("install", *args, "--yes")
        pidfile = sb.nix / "var/onboard/nix-daemon.pid"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not pidfile.exists() and proc.poll() is None:
            time.sleep(0.001)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
    data = json.loads(sb.receipt().read_text())
    entry = next(e for e in data["entries"] if e["kind"] == "daemon-process")
    assert entry["state"] == "started" and "pid" not in entry["record"], entry
    assert len(sb.daemons()) == 1, "the daemon should have been spawned before the kill"


@pytest.mark.parametrize("when", ["spawn", "just-after"])
def test_daemon_killed_at_its_spawn_is_found_again_by_rerun_and_uninstall(tmp_path, tarball, when):
    sb = Sandbox(tmp_path / "sb")
    args = ["--mode", "daemon", "--init", "none", "--build-users", "2", "--tarball", str(tarball.path),
            "--sha256", tarball.sha256]
    try:
        before = sb.snapshots()
        _killed_at_daemon_spawn(sb, args, when)
        first = sb.daemons()
        r = sb.onboard("install", *args, "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        assert sb.daemons() == first, "the rerun started a second nix-daemon"
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert sb.daemons() == []
        assert_unchanged(before, sb.snapshots())
        # killed the same way, then uninstalled straight from the partial receipt
        _killed_at_daemon_spawn(sb, args, when)
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert sb.daemons() == []
        assert_unchanged(before, sb.snapshots())
    finally:
        sb.cleanup()
