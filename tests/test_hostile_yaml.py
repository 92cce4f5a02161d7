"""Hostile YAML: alias bombs and huge files are refused fast, by name, and block nothing else."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from onboard.core.profiles.loader import check_profile, list_profiles
from onboard.core.schema import ALIAS_BUDGET, MAX_BYTES, parse_yaml
from onboard.core.teamconfig import check_team_config
from tests.conftest import ROOT, onboard_env
from tests.support.tree import snapshot

REV = "50ab793786d9de88ee30ec4e4c24fb4236fc2674"
NAR = "sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g="
GOOD = f"name: good\nnixpkgs:\n  rev: {REV}\n  narHash: {NAR}\npackages: [hello]\n"


def bomb(levels: int = 7, width: int = 9, name: str = "bomb") -> str:
    """The "billion laughs": each level a list of `width` aliases of the level before."""
    names = "abcdefghijklmnop"[:levels]
    lines = [f"name: {name}", "a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    for prev, cur in zip(names, names[1:]):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * width) + "]")
    lines.append(f"packages: *{names[-1]}")
    return "\n".join(lines) + "\n"


def run_limited(args: list[str], cwd: Path, mem_mb: int = 100, timeout: float = 10) -> tuple[subprocess.CompletedProcess, float]:
    """The real CLI under an address-space limit (resource.setrlimit), timed."""
    code = textwrap.dedent(f"""
        import resource, runpy, sys
        lim = {mem_mb} * 1024 * 1024
        import onboard.cli.main  # imports are not the input's cost
        vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + lim, resource.RLIM_INFINITY))
        sys.argv = ["onboard", *{args!r}]
        runpy.run_module("onboard", run_name="__main__")
    """)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=onboard_env(), text=True,
                          capture_output=True, timeout=timeout)
    return proc, time.monotonic() - start


def test_alias_bomb_is_refused_at_the_alias_under_a_memory_limit(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    f = tmp_path / "profiles" / "bomb.yaml"
    f.write_text(bomb())
    before = snapshot(tmp_path)
    proc, took = run_limited(["profiles", "validate", str(f)], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "MemoryError" not in out and "internal error" not in out
    # reported at an alias's line (the lines of b..g), naming the alias
    line = next(l for l in out.splitlines() if "alias" in l)
    where = line.split(": ", 1)[0]
    assert where.startswith(f"{f}:"), line
    assert int(where.split(":")[1]) in range(3, 9), line
    assert "`*" in line and "expand" in line
    assert took < 3, took
    assert snapshot(tmp_path) == before


def test_profiles_list_shows_good_beside_a_bomb(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bomb.yaml").write_text(bomb())
    (tmp_path / "profiles" / "good.yaml").write_text(GOOD)
    proc, took = run_limited(["profiles", "list"], tmp_path)
    assert "good" in proc.stdout, proc.stdout + proc.stderr
    bomb_line = next(l for l in proc.stdout.splitlines() if l.startswith("bomb"))
    assert "alias" in bomb_line
    assert took < 3
    infos = {i.name: i for i in list_profiles([tmp_path / "profiles"])}
    assert infos["good"].problem == ""
    assert "alias" in infos["bomb"].problem


def test_huge_profile_is_refused_at_line_one(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    f = tmp_path / "profiles" / "huge.yaml"
    f.write_text('name: huge\ndescription: "' + "x" * (5 << 20) + '"\n')
    before = snapshot(tmp_path)
    proc, took = run_limited(["profiles", "validate", str(f)], tmp_path)
    assert proc.returncode == 1
    assert f"{f}:1:" in proc.stdout + proc.stderr
    assert "1 MiB" in proc.stdout + proc.stderr
    assert took < 3
    assert snapshot(tmp_path) == before


def test_exactly_the_size_limit_is_read(tmp_path: Path) -> None:
    head = GOOD + "description: \""
    f = tmp_path / "good.yaml"
    f.write_text(head + "x" * (MAX_BYTES - len(head) - 2) + "\"\n")
    assert f.stat().st_size == MAX_BYTES
    _, problems = check_profile(str(f))
    assert not [p for p in problems if "large" in p.message]


def test_team_config_bomb_and_huge_file(tmp_path: Path) -> None:
    cfg = tmp_path / "onboard.yaml"
    cfg.write_text(bomb(name="team"))
    team, problems = check_team_config(cfg)
    assert team is None and any("alias" in p.message and p.line >= 3 for p in problems), problems
    cfg.write_text("nix:\n  version: " + "9" * (2 << 20) + "\n")
    team, problems = check_team_config(cfg)
    assert team is None and problems[0].line == 1 and "1 MiB" in problems[0].message


def test_shared_anchors_within_budget_still_work() -> None:
    res = parse_yaml("common: &c [git, curl, jq]\npackages: *c\nmore: [*c, *c]\n", "p.yaml")
    assert not res.problems
    assert res.root is not None and res.root.get("packages").to_python() == ["git", "curl", "jq"]
    # a wider share that stays under the budget
    width = int(ALIAS_BUDGET ** 0.5) // 2
    text = "a: &a [" + ", ".join(["x"] * width) + "]\nb: [" + ", ".join(["*a"] * width) + "]\n"
    assert not parse_yaml(text, "p.yaml").problems


def test_recursive_alias_is_a_problem_not_a_hang() -> None:
    res = parse_yaml("a: &a [1, *a]\n", "p.yaml")
    assert any("itself" in p.message for p in res.problems)


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    res = parse_yaml("a: " + "[" * 50000 + "]" * 50000 + "\n", "p.yaml")
    assert res.root is None and res.problems
    assert "Recursion" not in res.problems[0].message


def test_cli_refusal_names_no_exception(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bomb.yaml").write_text(bomb())
    proc = subprocess.run([sys.executable, "-m", "onboard", "--json", "profiles", "validate",
                           str(tmp_path / "profiles" / "bomb.yaml")], cwd=ROOT, env=onboard_env(),
                          text=True, capture_output=True, timeout=30)
    assert proc.returncode == 1
    assert "alias" in proc.stdout and "Error" not in proc.stdout.replace("error", "")
