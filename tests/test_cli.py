"""The CLI conventions, through the real `python -m onboard` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from onboard import __version__
from onboard.core import paths
from tests.conftest import ROOT, onboard_env, run_onboard
from tests.support.tree import diff, snapshot


def test_version_and_help():
    r = run_onboard("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"onboard {__version__}"
    r = run_onboard("--help")
    assert r.returncode == 0
    for word in ("doctor", "plan", "apply", "uninstall", "status", "exit codes", "130"):
        assert word in r.stdout


def test_no_argument_off_a_terminal_prints_help():
    r = run_onboard()
    assert r.returncode == 0 and "usage: onboard" in r.stdout


def test_unknown_command_and_bad_option_are_usage_errors():
    assert run_onboard("frobnicate").returncode == 2
    assert run_onboard("plan", "--mode", "triple").returncode == 2
    r = run_onboard("plan", "--with", "emcas")
    assert r.returncode == 2 and "emcas" in r.stderr


def test_demo_plan_apply_uninstall_roundtrip_leaves_home_as_it_was(tmp_path, isolated_home):
    work = tmp_path / "w"
    work.mkdir()
    (work / ".demo-shellrc").write_bytes(b"echo hi\r\n")
    before_home, before_work = snapshot(isolated_home), snapshot(work)

    r = run_onboard("plan", "--demo", str(work), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == "plan"
    assert [a["status"] for a in doc["actions"]] == ["would-do"] * 3
    assert snapshot(work) == before_work and snapshot(isolated_home) == before_home

    r = run_onboard("apply", "--demo", str(work))  # no terminal, no --yes: nothing happens
    assert r.returncode == 1 and "not confirmed" in r.stderr
    assert snapshot(work) == before_work

    r = run_onboard("apply", "--demo", str(work), "--yes")
    assert r.returncode == 0, r.stderr
    assert (work / "onboard-demo" / "hello.txt").exists()
    assert "\x1b" not in r.stderr + r.stdout

    st = json.loads(run_onboard("status", "--json").stdout)
    assert [x["status"] for x in st["receipts"]] == ["applied"]

    r = run_onboard("uninstall", "--dry-run")
    assert r.returncode == 0 and "hello.txt" in r.stdout
    assert (work / "onboard-demo" / "hello.txt").exists()

    r = run_onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stderr
    assert diff(before_work, snapshot(work)) == []
    assert diff(before_home, snapshot(isolated_home)) == []
    assert "no changes" in run_onboard("status").stdout


def test_second_apply_is_refused_while_one_holds_the_lock(tmp_path):
    from onboard.core.engine.lock import ApplyLock

    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import time; from onboard.core.engine.lock import ApplyLock\n"
         "l = ApplyLock(); l.acquire(); print('held', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True, env=onboard_env(), cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = run_onboard("apply", "--demo", str(tmp_path), "--yes")
        assert r.returncode == 1
        assert f"pid {holder.pid}" in r.stderr and "another onboard" in r.stderr
        assert not (tmp_path / "onboard-demo").exists()
    finally:
        holder.kill()
        holder.wait()
    lock = ApplyLock()
    lock.acquire()  # the kernel dropped the dead holder's lock
    lock.release()


def test_saved_plan_file_applies(tmp_path):
    plan_file = tmp_path / "plan.json"
    r = run_onboard("plan", "--demo", str(tmp_path), "--out", str(plan_file))
    assert r.returncode == 0 and plan_file.exists()
    r = run_onboard("apply", str(plan_file), "--yes")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "onboard-demo").is_dir()
    bad = tmp_path / "bad.json"
    bad.write_text('{"mode": "single", "colour": "red"}')
    r = run_onboard("apply", str(bad), "--yes")
    assert r.returncode == 2 and "colour" in r.stderr


def test_no_color_plain_output_has_no_escape_codes(tmp_path):
    r = run_onboard("apply", "--demo", str(tmp_path), "--yes", env=onboard_env(NO_COLOR="1"))
    assert r.returncode == 0
    assert "\x1b" not in r.stdout + r.stderr
    assert "[1/3]" in r.stderr


def test_team_config_fills_only_what_the_command_line_leaves_open(tmp_path):
    from tests.conftest import have

    project = tmp_path / "team"
    (project / "profiles").mkdir(parents=True)
    (project / "onboard.yaml").write_text(
        "version: 1\nteam: t\ndefault_profile: web\nprofiles: profiles\n"
        "nix:\n  version: \"2.24.9\"\neditors: [vim]\nloader: direnv\n")
    (project / "profiles" / "web.yaml").write_text("name: web\npackages: [hello]\n")
    r = run_onboard("plan", "--mode", "skip", "--json", cwd=str(project))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["choices"]["profile"] == "web"
    assert doc["choices"]["components"] == ["direnv", "vim"]
    r = run_onboard("plan", "--mode", "skip", "--with", "emacs", "--profile", "other", "--json",
                    cwd=str(project))
    doc = json.loads(r.stdout)
    assert doc["choices"]["components"] == ["emacs"] and doc["choices"]["profile"] == "other"
    if have("nix") and os.path.isdir("/nix/store"):
        # an existing Nix is kept when only the team config names another version
        r = run_onboard("plan", "--mode", "single", cwd=str(project))
        assert r.returncode == 0, r.stderr
        assert "the team config names Nix 2.24.9; the one here is kept" in r.stdout
    (project / "onboard.yaml").write_text("version: 1\nteem: t\n")
    r = run_onboard("plan", "--mode", "skip", cwd=str(project))
    assert r.returncode == 2 and "onboard.yaml:2" in r.stderr and "team" in r.stderr


def test_tui_command_refuses_without_a_terminal_and_checks_its_demo_dir(tmp_path):
    r = run_onboard("tui", "--demo", str(tmp_path))
    assert r.returncode == 2 and "needs a terminal" in r.stderr
    r = run_onboard("tui", "--profiles", "--uninstall")
    assert r.returncode == 2
    assert "tui" in run_onboard("--help").stdout


def test_global_flags_count_before_the_command_too(tmp_path):
    r = run_onboard("--dry-run", "--yes", "apply", "--demo", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "onboard-demo").exists(), "a dry run given before the command changed the machine"
    assert json.loads(run_onboard("--json", "status").stdout)["command"] == "status"
    r = run_onboard("--yes", "apply", "--demo", str(tmp_path))
    assert r.returncode == 0 and (tmp_path / "onboard-demo").is_dir()
    r = run_onboard("--dry-run", "uninstall", "--yes")
    assert r.returncode == 0 and (tmp_path / "onboard-demo").is_dir()
