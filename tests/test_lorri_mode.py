"""lorri mode, tested against the stand-in `lorri` (tests/support/fake_lorri: lorri cannot
be built on these machines) on PATH, with real direnv and real Nix: the .envrc runs
`lorri direnv`, `lorri daemon` builds the shell and rebuilds it when it changes, and the
user service goes in as systemd units where systemd runs (a logging `systemctl` stands in
for it here) or as a note where it does not."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from onboard.core.choices import Choices
from onboard.core.integrations import lorri as lr
from onboard.core.integrations.actions.generated_file import GeneratedFile
from onboard.core.integrations.actions.plan_note import PlanNote
from onboard.core.integrations.actions.systemd_user_units import SystemdUserUnits
from onboard.core.integrations.planner import plan_integrations
from tests.conftest import needs_nix
from tests.support import fake_lorri, standin, tree
from tests.support.direnv_home import World, apply, uninstall_all

pytestmark = pytest.mark.skipif(shutil.which("direnv") is None, reason="needs direnv")

SHELL_NIX = """{{ nixpkgs ? {standin} }}:
let pkgs = import nixpkgs {{ }}; in
pkgs.mkShell {{ name = "lorri-project"; packages = [ pkgs.hello ]; LORRI_VAR = "{value}"; }}
"""


@pytest.fixture
def world(isolated_home, tmp_path, monkeypatch):
    w = World(isolated_home, tmp_path, monkeypatch)
    bin_dir = tmp_path / "bin"
    w.lorri = str(fake_lorri.install(bin_dir))  # type: ignore[attr-defined]
    w.systemctl_log = tmp_path / "systemctl.log"  # type: ignore[attr-defined]
    fake_lorri.install_systemctl(bin_dir, w.systemctl_log)  # type: ignore[attr-defined]
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    (w.project / "shell.nix").write_text(SHELL_NIX.format(standin=standin.STANDIN, value="first"))
    return w


def lorri_plan(w: World, init: str):  # type: ignore[no-untyped-def]
    return plan_integrations(Choices(components=["lorri"], project_dir=str(w.project)), init=init)


def test_lorri_mode_plan_with_systemd_installs_and_removes_the_user_service(world):
    before = tree.snapshot(world.home)
    plan = lorri_plan(world, "systemd")
    assert plan.meta["integration_mode"] == "lorri"
    envrc = next(a for a in plan.actions if isinstance(a, GeneratedFile) and a.path.endswith(".envrc"))
    assert envrc.content.splitlines()[-1] == 'eval "$(lorri direnv)"'
    units = next(a for a in plan.actions if isinstance(a, SystemdUserUnits))
    assert units.enable == ["lorri.socket"]
    apply(plan)
    d = world.home / ".config/systemd/user"
    socket_unit = (d / "lorri.socket").read_text()
    service = (d / "lorri.service").read_text()
    assert "ListenStream=%t/lorri/daemon.socket" in socket_unit and "WantedBy=sockets.target" in socket_unit
    assert f"ExecStart={world.lorri} daemon" in service and "Requires=lorri.socket" in service
    assert "PATH=" in service and os.path.dirname(shutil.which("nix") or "/usr/bin/nix") in service
    calls = world.systemctl_log.read_text().splitlines()
    assert calls == ["--user daemon-reload", "--user enable --now lorri.socket"]
    assert uninstall_all() == []
    calls = world.systemctl_log.read_text().splitlines()
    assert calls[-2:] == ["--user disable --now lorri.socket", "--user daemon-reload"]
    assert tree.diff(before, tree.snapshot(world.home, ignore=(".local/state",))) == []
    assert not (world.project / ".envrc").exists()


def test_lorri_mode_without_systemd_says_how_to_start_the_daemon(world):
    plan = lorri_plan(world, "none")
    assert not any(isinstance(a, SystemdUserUnits) for a in plan.actions)
    notes = " ".join(a.message for a in plan.actions if isinstance(a, PlanNote))
    assert "no systemd user manager" in notes and "lorri daemon" in notes


def test_lorri_mode_without_a_shell_nix_uses_the_profiles_rendered_one(world):
    (world.project / "shell.nix").unlink()
    plan = plan_integrations(Choices(components=["lorri"], project_dir=str(world.project), profile="demo"),
                             init="none")
    envrc = next(a for a in plan.actions if isinstance(a, GeneratedFile) and a.path.endswith(".envrc"))
    # this project's own rendering (not one shared by every project with a profile `demo`),
    # rendered by onboard's library before lorri first evaluates it
    root = os.path.realpath(world.tmp)  # the nearest directory holding profiles/
    owner = root.replace("_", "_u").replace("/", "_s")
    expected = world.home / ".cache/onboard/env" / owner / "demo" / "lorri.nix"
    assert lr.shell_file_for(str(world.project), "demo") == str(expected)
    assert envrc.content.splitlines()[-1] == "use onboard --lorri demo"
    assert any(isinstance(a, GeneratedFile) and a.path.endswith("/direnv/lib/onboard.sh") for a in plan.actions)
    assert any("rendered shell.nix" in a.message for a in plan.actions if isinstance(a, PlanNote))


@needs_nix
@pytest.mark.slow
def test_lorri_daemon_builds_the_shell_and_direnv_loads_and_reloads_it(world, tmp_path):
    apply(lorri_plan(world, "none"))
    r = world.exec_in('echo "[${LORRI_VAR-}]"')
    assert "lorri daemon is not running and this project has not yet been evaluated" in r.stderr
    assert r.stdout.strip() == "[]"
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen([world.lorri, "daemon"], stdout=log, stderr=subprocess.STDOUT,
                              env=world.env(), start_new_session=True)
    try:
        def wait_value(value: str, timeout: float = 60) -> subprocess.CompletedProcess:
            end = time.time() + timeout
            while True:
                r = world.exec_in('echo "$LORRI_VAR"; command -v hello', check=False)
                if r.stdout.startswith(value + "\n") or time.time() > end:
                    return r
                time.sleep(0.3)

        r = wait_value("first")
        assert r.stdout.splitlines()[0] == "first", (r.stderr, (tmp_path / "daemon.log").read_text())
        assert r.stdout.splitlines()[1].startswith("/nix/store/")
        # HOME and TMPDIR stay the user's
        env = world.exec_in('echo "$HOME|${TMPDIR-unset}"').stdout.strip()
        assert env == f"{world.home}|unset"
        (world.project / "shell.nix").write_text(SHELL_NIX.format(standin=standin.STANDIN, value="second"))
        r = wait_value("second")
        assert r.stdout.splitlines()[0] == "second", (tmp_path / "daemon.log").read_text()
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=20)
        log.close()
    assert "ready" in (tmp_path / "daemon.log").read_text()
    assert uninstall_all() == []


def test_units_are_what_lorri_documents():
    assert lr.socket_unit().splitlines()[3:6] == ["[Socket]", "ListenStream=%t/lorri/daemon.socket",
                                                 "RuntimeDirectory=lorri"]
    service = lr.service_unit("/home/u/.nix-profile/bin/lorri", which=lambda n: None)
    assert "ExecStart=/home/u/.nix-profile/bin/lorri daemon" in service
    assert "Restart=on-failure" in service and "ProtectSystem=full" in service


def test_onboard_envrc_lorri_writes_the_lorri_line_and_falls_back_without_lorri(world, tmp_path):
    r = world.onboard("envrc", "--lorri", "--project", str(world.project), "--no-allow")
    assert r.returncode == 0, r.stderr
    assert (world.project / ".envrc").read_text().splitlines()[-1] == 'eval "$(lorri direnv)"'
    assert "not allowed (--no-allow)" in r.stderr
    other = tmp_path / "other"
    other.mkdir()
    env = world.env(PATH=os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep)
                                         if not os.path.exists(os.path.join(p, "lorri"))))
    from tests.conftest import run_onboard

    r = run_onboard("envrc", "demo", "--lorri", "--project", str(other), "--no-allow", env=env)
    assert r.returncode == 0, r.stderr
    assert "lorri is not installed" in r.stderr
    assert (other / ".envrc").read_text().splitlines()[-1] == "use onboard demo"
