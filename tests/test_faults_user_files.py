"""Faults leave nothing behind, and user files keep what the user chose (command line, real files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import onboard_env, run_onboard
from tests.support import tree


def home_manifest(home: Path) -> dict:
    return tree.snapshot(home)


def test_a_closed_stdout_ends_quietly(tmp_path):
    env = onboard_env()
    env.pop("PYTHONUNBUFFERED", None)  # block-buffered, as in a clean shell: the output waits for the exit
    for argv in (["doctor"], ["install", "--mode", "skip", "--with", "direnv", "--dry-run"],
                 ["--help"], ["verify", "--help"], []):
        # the reader closes the pipe at once (`| true`), and after one line (`| head -1`)
        for reader in ("true", "head -1"):
            proc = subprocess.run(f'"{sys.executable}" -m onboard {" ".join(argv)} | {reader}',
                                  shell=True, cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=60)
            assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, (argv, proc.stderr)
            assert "BrokenPipe" not in proc.stderr
    assert not list((Path(os.environ["XDG_STATE_HOME"]) / "onboard" / "logs").glob("crash-*"))


def _readonly_rc(home: Path) -> tuple[Path, bytes]:
    rc = home / ".bashrc"
    rc.write_text('# my bashrc\nalias ll="ls -l"\n')
    rc.chmod(0o444)
    return rc, rc.read_bytes()


def test_a_read_only_rc_file_is_refused_at_plan_time(isolated_home, tmp_path):
    rc, before = _readonly_rc(isolated_home)
    snap = home_manifest(isolated_home)
    for cmd in ("plan", "install"):
        r = run_onboard(cmd, "--mode", "skip", "--with", "direnv", "--yes", cwd=str(tmp_path))
        assert r.returncode == 1, r.stderr
        assert f"{rc} is read-only (mode 444)" in r.stderr
        assert "chmod u+w" in r.stderr and "--skip-readonly" in r.stderr
        assert rc.read_bytes() == before
    assert home_manifest(isolated_home) == snap  # refused before anything was written


def test_skip_readonly_leaves_the_file_alone_and_the_plan_says_so(isolated_home, tmp_path):
    rc, before = _readonly_rc(isolated_home)
    r = run_onboard("install", "--mode", "skip", "--with", "direnv", "--skip-readonly", "--dry-run",
                    cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert f"left {rc} alone: it is read-only (--skip-readonly)" in r.stdout + r.stderr
    r = run_onboard("install", "--mode", "skip", "--with", "direnv", "--skip-readonly", "--yes",
                    cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert rc.read_bytes() == before and oct(rc.stat().st_mode & 0o777) == "0o444"
    assert run_onboard("uninstall", "--yes", cwd=str(tmp_path)).returncode == 0


def test_a_file_made_read_only_after_planning_stops_apply_before_any_change(isolated_home, tmp_path):
    from onboard.core.choices import Choices
    from onboard.core.nixinstall.errors import PlanningError
    from onboard.core.planner import build_plan, preflight

    rc = isolated_home / ".bashrc"
    rc.write_text("# mine\n")
    plan = build_plan(Choices(mode="skip", components=["direnv"]))
    rc.chmod(0o444)
    with pytest.raises(PlanningError) as exc:
        preflight(plan)
    assert str(rc) in str(exc.value)


def test_an_explicit_vscode_value_is_kept_and_the_plan_says_so(isolated_home, tmp_path):
    settings = isolated_home / ".config" / "Code" / "User" / "settings.json"
    settings.parent.mkdir(parents=True)
    text = ('{\n  // I do not want direnv to restart extensions behind my back\n'
            '  "direnv.restart.automatic": false\n}\n')
    settings.write_text(text)
    (tmp_path / "proj").mkdir()
    r = run_onboard("install", "--mode", "skip", "--with", "vscode", "--project", str(tmp_path / "proj"),
                    "--yes", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "kept your value of direnv.restart.automatic (false)" in r.stdout + r.stderr
    assert settings.read_text() == text
    assert run_onboard("uninstall", "--yes", cwd=str(tmp_path)).returncode == 0
    assert settings.read_text() == text


def test_a_failed_run_says_so_last_and_uninstall_leaves_home_as_it_was(isolated_home, tmp_path):
    settings = isolated_home / ".config" / "Code" / "User" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{ "a": 1,, }\n')
    (tmp_path / "proj").mkdir()
    snap = home_manifest(isolated_home)
    r = run_onboard("install", "--mode", "skip", "--with", "direnv,vscode", "--project",
                    str(tmp_path / "proj"), "--yes", cwd=str(tmp_path))
    assert r.returncode == 1
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert "onboard: ok" not in lines
    failure = next(i for i, l in enumerate(lines) if l.startswith("onboard: error: the install failed"))
    assert "this run's changes were undone" in lines[failure]
    assert all(not l.startswith("onboard:") or "error" in l or l.endswith("undone")
               for l in lines[failure:])
    logs = list((isolated_home / ".local" / "state" / "onboard" / "logs").iterdir())
    assert len(logs) == 1 and str(logs[0]) in r.stderr  # the failure's log, named in the message
    r = run_onboard("uninstall", "--yes", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "nothing to undo" not in r.stdout
    assert home_manifest(isolated_home) == snap


def test_uninstall_json_lists_the_logs_it_removes(isolated_home, tmp_path):
    logs = isolated_home / ".local" / "state" / "onboard" / "logs"
    logs.mkdir(parents=True)
    (logs / "onboard-1.log").write_text("{}\n")
    r = run_onboard("--json", "uninstall", "--dry-run", cwd=str(tmp_path))
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert any("logs" in row["description"] for row in doc["actions"]), doc
    assert logs.exists()


@pytest.mark.skipif(not Path("/usr/bin/vim").exists() and not Path("/bin/vim").exists(), reason="needs vim")
def test_vim_keeps_its_defaults_after_install(isolated_home, tmp_path):
    def opts() -> str:
        out = tmp_path / "opts"
        subprocess.run(["vim", "-X", "--not-a-term", "-i", "NONE", "-c", f"redir! > {out}", "-c",
                        "set incsearch? scrolloff?", "-c", "redir END", "-c", "qa!"],
                       env=onboard_env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                       cwd=tmp_path)
        return " ".join(out.read_text().split())

    before = opts()
    r = run_onboard("install", "--mode", "skip", "--with", "vim", "--yes", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert opts() == before == "incsearch scrolloff=5"
    assert not (isolated_home / ".vimrc").exists()



def test_plain_output_says_a_stall_without_verbose(capsys):
    from onboard.cli.output import Output
    from onboard.cli.reporters import PlainReporter
    from onboard.core.events import ActionProgress

    rep = PlainReporter(Output())
    for s in (1, 2, 3):
        rep(ActionProgress(action_id="fetch", text=f"waiting for the server ({s} s)", stalled=True))
    rep(ActionProgress(action_id="fetch", text="downloaded 1.0 MB"))
    err = capsys.readouterr().err
    assert err.count("waiting for the server") == 1 and "(1 s)" in err  # at once, then not every second
    assert "downloaded" not in err  # ordinary progress stays for --verbose


def test_install_defaults_to_the_project_it_runs_in(isolated_home, tmp_path):
    proj = tmp_path / "proj"
    (proj / "profiles").mkdir(parents=True)
    (proj / "src").mkdir()
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    r = run_onboard("plan", "--mode", "skip", "--with", "direnv", cwd=str(proj / "src"))
    assert r.returncode == 0, r.stderr
    assert f"write {proj / '.envrc'}" in r.stdout
    r = run_onboard("plan", "--mode", "skip", "--with", "direnv", cwd=str(tmp_path))
    assert "no project directory is configured" in r.stdout + r.stderr
