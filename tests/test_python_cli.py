"""`onboard lock` end to end against a loopback index, and the team config's index settings."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from onboard.core.teamconfig import check_team_config
from tests.conftest import onboard_env, run_onboard
from tests.support.pyindex import Index, pyindex  # noqa: F401 - pyindex is a fixture

ROOT = Path(__file__).resolve().parents[1]
UV = str(ROOT / ".venv" / "bin" / "uv") if (ROOT / ".venv" / "bin" / "uv").exists() else shutil.which("uv")
needs_uv = pytest.mark.skipif(UV is None, reason="needs uv (pip install uv; the test extras have it)")
HOSTILE = "http://127.0.0.1:9/simple"


def make_project(d: Path, deps: str, index: Index) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / ".git").mkdir(exist_ok=True)
    (d / "onboard.yaml").write_text(f"python:\n  index_url: {index.url}\n")
    (d / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                      f"dependencies = [{deps}]\n")
    return d


def tree(d: Path) -> dict[str, float]:
    out = {}
    for dirpath, dirnames, files in os.walk(d):
        dirnames[:] = [x for x in dirnames if x != ".git"]
        for f in files:
            p = Path(dirpath) / f
            out[str(p.relative_to(d))] = p.stat().st_mtime_ns
    return out


def lock(project: Path, *args: str):
    home = Path(os.environ["HOME"])
    (home / ".config" / "uv").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "uv" / "uv.toml").write_text(f'index-url = "{HOSTILE}"\n')  # must not be read
    env = onboard_env(ONBOARD_UV=str(UV), UV_INDEX_URL=HOSTILE, UV_DEFAULT_INDEX=HOSTILE,
                      XDG_CONFIG_HOME=str(home / ".config"))
    return run_onboard("lock", *args, env=env, cwd=str(project))


@needs_uv
def test_onboard_lock_writes_only_uv_lock_and_prints_the_version_changes(tmp_path, pyindex):
    pyindex.add("tinyalpha", "1.0")
    pyindex.add("tinybeta", "2.0")
    pyindex.start()
    p = make_project(tmp_path / "proj", '"tinyalpha"', pyindex)
    before = tree(p)
    r = lock(p)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["+ tinyalpha 1.0", f"wrote {p / 'uv.lock'} (1 packages)"]
    after = tree(p)
    assert set(after) - set(before) == {"uv.lock"} and {k: after[k] for k in before} == before

    (p / "pyproject.toml").write_text((p / "pyproject.toml").read_text().replace('"tinyalpha"', '"tinybeta"'))
    r = lock(p)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["- tinyalpha 1.0", "+ tinybeta 2.0", f"updated {p / 'uv.lock'}: 2 changed"]

    r = lock(p, "--json")
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["changes"] == [] and doc["command"][1:3] == ["lock", "--no-config"]
    assert "--index-url" in doc["command"] and pyindex.url in doc["command"]


@needs_uv
def test_onboard_lock_upgrade_package_moves_one_package(tmp_path, pyindex):
    pyindex.add("tinyalpha", "1.0")
    pyindex.start()
    p = make_project(tmp_path / "proj", '"tinyalpha"', pyindex)
    assert lock(p).returncode == 0
    pyindex.add("tinyalpha", "1.1")
    r = lock(p)
    assert r.stdout.splitlines() == [f"{p / 'uv.lock'} is up to date: no version changed"]
    r = lock(p, "-P", "tinyalpha")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["  tinyalpha 1.0 -> 1.1", f"updated {p / 'uv.lock'}: 1 changed"]


def test_onboard_lock_without_pyproject_says_how_to_make_one(tmp_path):
    p = tmp_path / "bare"
    (p / ".git").mkdir(parents=True)
    r = run_onboard("lock", env=onboard_env(ONBOARD_UV="/nonexistent/uv"), cwd=str(p))
    assert r.returncode == 1
    assert f"no pyproject.toml in {p}: make one with `uv init --bare` there" in r.stderr
    assert os.listdir(p) == [".git"]


def test_onboard_lock_dry_run_changes_nothing(tmp_path):
    p = tmp_path / "proj"
    (p / ".git").mkdir(parents=True)
    (p / "onboard.yaml").write_text("python:\n  index_url: https://pypi.example.org/simple/\n"
                                    "  extra_index_urls: [https://wheels.example.org/simple]\n")
    r = run_onboard("lock", "--dry-run", env=onboard_env(ONBOARD_UV="/opt/uv"), cwd=str(p))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"would run in {p}: /opt/uv lock --no-config --index-url https://pypi.example.org/simple "
        "--extra-index-url https://wheels.example.org/simple", "dry run: nothing was changed"]
    assert sorted(os.listdir(p)) == [".git", "onboard.yaml"]


def test_team_config_python_index_settings_are_checked_with_positions(tmp_path):
    f = tmp_path / "onboard.yaml"
    f.write_text(textwrap.dedent("""\
        python:
          index_url: https://pypi.example.org/simple/
          extra_index_urls:
            - https://wheels.example.org/simple
            - https://wheels.example.org/simple
    """))
    team, problems = check_team_config(f)
    assert team is not None and team.python_index_url == "https://pypi.example.org/simple"
    assert team.python_extra_index_urls == ["https://wheels.example.org/simple"]
    assert [str(p) for p in problems] == [f"{f}:5:7: warning: python.extra_index_urls: "
                                          "`https://wheels.example.org/simple` is listed twice"]
    assert team.to_dict()["python_index_url"] == "https://pypi.example.org/simple"
    f.write_text("python:\n  index-url: https://x.example.org/simple\n  extra_index_urls: htps://y.example.org\n")
    team, problems = check_team_config(f)
    assert team is None
    assert [str(p) for p in problems] == [
        f"{f}:2:3: unknown key `python.index-url`: did you mean `index_url`?",
        f"{f}:3:21: python.extra_index_urls: expected a list, got text; write it as a list: "
        "[htps://y.example.org] or one `- item` per line",
    ]
