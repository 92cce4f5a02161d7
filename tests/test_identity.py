"""One environment per project and generation, exactly (real Nix on the stand-in package set,
real direnv, the stand-in lorri): two projects with one profile name never share a shell and
do not rebuild when alternating; a failed rebuild falls back to this project's last good
environment the same way in `onboard shell`, direnv and lorri; rollback holds a project at
a generation without Nix; a comment costs no Nix, a real change rebuilds.

Nix's commands are wrapped by a PATH spy (installed before the first entry) that records
every call; `--version` calls (reading the Nix version) are not evaluations."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, needs_nix
from tests.support import fake_lorri, standin

pytestmark = [needs_nix, pytest.mark.slow,
              pytest.mark.skipif(shutil.which("direnv") is None, reason="needs direnv")]

PIN = standin.PIN


class Place:
    """A HOME, two projects (A and B) that both have profiles/web.yaml, and a Nix spy."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.home.mkdir()
        self.spy_dir = tmp / "spy"
        self.spy_dir.mkdir()
        self.log = tmp / "nix-calls"
        self.log.write_text("")
        for c in ("nix", "nix-build", "nix-instantiate", "nix-shell", "nix-store"):
            real = shutil.which(c)
            if real:
                exe = self.spy_dir / c
                exe.write_text(f'#!/bin/sh\necho "{c} $*" >> "{self.log}"\nexec "{real}" "$@"\n')
                exe.chmod(0o755)
        self.projects = {}
        for p in ("A", "B"):
            d = tmp / f"proj{p}"
            (d / "profiles").mkdir(parents=True)
            (d / ".git").mkdir()
            (d / "profiles" / "web.yaml").write_text(profile(p))
            self.projects[p] = d

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DIRENV_", "ONBOARD_")) and k not in ("CI",)}
        h = self.home
        env.update(HOME=str(h), XDG_CONFIG_HOME=str(h / ".config"), XDG_CACHE_HOME=str(h / ".cache"),
                   XDG_STATE_HOME=str(h / ".local/state"), XDG_DATA_HOME=str(h / ".local/share"),
                   PATH=f"{self.spy_dir}{os.pathsep}{os.environ['PATH']}", NIX_CONFIG=standin.NIX_CONFIG,
                   ONBOARD_NIXPKGS_OVERRIDE=str(standin.STANDIN), PYTHONPATH=str(ROOT), NO_COLOR="1")
        env.update(extra)
        return env

    def onboard(self, p: str, *args: str, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "onboard", *args], capture_output=True, text=True,
                              env=self.env(**extra), cwd=str(cwd or self.projects[p]), timeout=180,
                              stdin=subprocess.DEVNULL)

    def shell(self, p: str, script: str, *flags: str, **extra: str) -> subprocess.CompletedProcess:
        return self.onboard(p, "shell", "web", *flags, "--", "sh", "-c", script, **extra)

    def direnv(self, p: str, script: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["direnv", "exec", str(self.projects[p]), "sh", "-c", script], capture_output=True,
                              text=True, env=self.env(**extra), cwd=str(self.projects[p]), timeout=180)

    def evaluations(self) -> list[str]:
        return [c for c in self.log.read_text().splitlines() if "--version" not in c]

    def reset(self) -> None:
        self.log.write_text("")


def profile(who: str, packages: str = "hello", extra: str = "") -> str:
    return f"name: web\n{PIN}packages: [{packages}]\nenv:\n  WHO: {who}\n{extra}"


SHOW = 'echo "$WHO|${ONBOARD_ENV_STALE-}|${ONBOARD_PROJECT_DIR-}"'


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Place:
    pl = Place(tmp_path_factory.mktemp("identity"))
    for p in ("A", "B"):
        r = pl.onboard(p, "envrc", "web", "--allow", "--yes")
        assert r.returncode == 0, r.stderr
    return pl


def test_two_projects_named_web_each_get_their_own_and_nix_runs_once_each(place):
    place.reset()
    for _ in range(10):
        for p in ("A", "B"):
            r = place.shell(p, SHOW)
            assert r.stdout.strip() == f"{p}||{place.projects[p]}", r.stderr
            d = place.direnv(p, SHOW)
            assert d.stdout.strip() == f"{p}||{place.projects[p]}", d.stderr
    calls = place.evaluations()
    builds = [c for c in calls if "print-dev-env" in c]
    assert len(builds) == 2, calls  # the first entry of each project, nothing after
    assert all(builds[0] == c or builds[1] == c for c in calls if c.startswith("nix print-dev-env"))
    cache = place.home / ".cache/onboard/env"
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        str(d).replace("_", "_u").replace("/", "_s") for d in place.projects.values())


def _break(path: Path, text: str) -> str:
    old = path.read_text()
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    return old


def test_a_broken_profile_falls_back_to_this_projects_last_good_env_everywhere(place):
    place.shell("A", "true")
    web = place.projects["A"] / "profiles" / "web.yaml"
    old = _break(web, profile("A") + "packages: [this is: not valid\n")
    try:
        for run in (place.shell, place.direnv):
            r = run("A", SHOW)
            assert r.stdout.strip() == f"A|1|{place.projects['A']}", r.stderr
            notices = [line for line in r.stderr.splitlines() if "loading its last good environment" in line]
            assert len(notices) == 1, r.stderr
            assert f"{web}:" in notices[0], notices
        r = place.shell("A", 'echo "$ONBOARD_ENV_STALE_REASON"')
        assert r.stdout.strip().startswith(f"{web}:"), r.stdout
        # never another project's: B is untouched, and A never gets B's
        assert place.shell("B", SHOW).stdout.strip() == f"B||{place.projects['B']}"
        # --no-fallback, ONBOARD_NO_FALLBACK=1 and CI make it an error naming file:line
        for flags, extra in ((("--no-fallback",), {}), ((), {"ONBOARD_NO_FALLBACK": "1"}), ((), {"CI": "true"})):
            r = place.shell("A", SHOW, *flags, **extra)
            assert r.returncode == 1 and r.stdout == "", r.stderr
            assert f"{web}:" in r.stderr and "cannot load profile web" in r.stderr
        r = place.direnv("A", SHOW, ONBOARD_NO_FALLBACK="1")
        assert not r.stdout.startswith("A|"), r.stdout
    finally:
        _break(web, old)
    assert place.shell("A", SHOW).stdout.strip() == f"A||{place.projects['A']}"


def test_a_nix_failure_falls_back_with_the_profile_line_it_comes_from(place):
    place.shell("A", "true")
    web = place.projects["A"] / "profiles" / "web.yaml"
    old = _break(web, profile("A", packages="hello, nosuchthing"))
    try:
        for run in (place.shell, place.direnv):
            r = run("A", SHOW)
            assert r.stdout.strip() == f"A|1|{place.projects['A']}", r.stderr
            assert f"{web}:5: " in r.stderr and "nosuchthing" in r.stderr, r.stderr
        r = place.shell("A", SHOW, "--no-fallback")
        assert r.returncode == 1 and f"{web}:5: " in r.stderr, r.stderr
    finally:
        _break(web, old)


def test_comment_only_edit_runs_no_nix_and_real_changes_rebuild(place):
    proj = place.projects["B"]
    web = proj / "profiles" / "web.yaml"
    original = web.read_text()
    try:
        assert place.shell("B", SHOW).returncode == 0
        place.reset()
        _break(web, original + "# only a comment\n")
        assert place.shell("B", SHOW).stdout.strip() == f"B||{proj}"
        assert place.direnv("B", SHOW).stdout.strip() == f"B||{proj}"
        assert place.evaluations() == []
        _break(web, original.replace("[hello]", "[hello, jq]"))
        r = place.shell("B", "jq")
        assert r.returncode == 0 and "jq 1.7" in r.stdout, r.stderr
        assert any("print-dev-env" in c for c in place.evaluations())
        # a file the rendered Nix reads: the requirements file (a lock: what it pins is rendered
        # into python.nix). An edit that pins nothing new is read again, and runs no Nix; an
        # edit of what a lock pins rebuilds (tests/test_python_env.py, against a package index)
        (proj / "profiles" / "req.txt").write_text("# nothing\n")
        _break(web, original + 'python:\n  version: "3.12"\n  requirements: req.txt\n')
        assert place.shell("B", "true").returncode == 0
        place.reset()
        (proj / "profiles" / "req.txt").write_text("# nothing, edited\n")
        r = place.shell("B", "true")
        assert r.returncode == 0, r.stderr
        assert not any("print-dev-env" in c for c in place.evaluations())
        # the venv is the project root's, also from a subdirectory
        (proj / "src").mkdir(exist_ok=True)
        r = place.onboard("B", "shell", "web", "--", "sh", "-c", 'echo "$VIRTUAL_ENV"', cwd=proj / "src")
        assert r.stdout.strip() == f"{proj}/.venv", r.stderr
        assert not (proj / "src" / ".venv").exists()
    finally:
        web.write_text(original)


def test_rollback_holds_the_generation_without_nix_until_switch(place):
    proj = place.projects["A"]
    web = proj / "profiles" / "web.yaml"
    original = web.read_text()
    try:
        assert place.onboard("A", "switch", "web").returncode == 0
        _break(web, original.replace("WHO: A", "WHO: A2"))
        assert place.onboard("A", "switch", "web").returncode == 0
        assert place.shell("A", SHOW).stdout.strip() == f"A2||{proj}"
        place.reset()
        r = place.onboard("A", "rollback")
        assert r.returncode == 0 and "held at generation" in r.stdout, r.stderr
        assert place.shell("A", SHOW).stdout.strip() == f"A||{proj}"
        assert place.onboard("A", "shell", "--", "sh", "-c", SHOW).stdout.strip() == f"A||{proj}"
        assert place.direnv("A", SHOW).stdout.strip() == f"A||{proj}"
        assert place.evaluations() == []
        listing = place.onboard("A", "profiles").stdout
        assert "held" in listing, listing
        # an edit while held is reported on entry, not built
        _break(web, original.replace("WHO: A", "WHO: A3"))
        for run in (place.shell, place.direnv):
            r = run("A", SHOW)
            assert r.stdout.strip() == f"A||{proj}", r.stderr
            assert "the profile changed since generation" in r.stderr and "`onboard switch` rebuilds" in r.stderr
        assert place.evaluations() == []
        # switch ends the hold and rebuilds
        assert place.onboard("A", "switch", "web").returncode == 0
        assert place.shell("A", SHOW).stdout.strip() == f"A3||{proj}"
        doc = json.loads(place.onboard("A", "rollback", "--to", "2", "--json").stdout)
        assert doc["generation"]["number"] == 2
        place.reset()
        assert place.shell("A", SHOW).stdout.strip() == f"A2||{proj}"
        assert place.evaluations() == []
    finally:
        web.write_text(original)
        place.onboard("A", "switch", "web")


def test_json_shell_says_it_has_no_json_output_unless_printing_the_env(place):
    r = place.onboard("A", "--json", "shell", "web")
    assert r.returncode == 2 and "no JSON output" in r.stderr
    r = place.onboard("A", "--json", "shell", "web", "--print-env")
    doc = json.loads(r.stdout)
    assert doc["env_sh"].endswith("/web/env.sh") and doc["project"] == str(place.projects["A"])


def test_lorri_mode_same_identity_renders_first_and_falls_back_on_a_failed_build(place, tmp_path):
    proj = place.tmp / "projL"
    (proj / "profiles").mkdir(parents=True)
    (proj / ".git").mkdir()
    web = proj / "profiles" / "web.yaml"
    web.write_text(profile("L"))
    bindir = tmp_path / "bin"
    fake_lorri.install(bindir)
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    extra = {"PATH": f"{bindir}{os.pathsep}{place.env()['PATH']}", "XDG_RUNTIME_DIR": str(run)}
    r = subprocess.run([sys.executable, "-m", "onboard", "envrc", "web", "--lorri", "--allow", "--yes"],
                       capture_output=True, text=True, env=place.env(**extra), cwd=str(proj))
    assert r.returncode == 0, r.stderr
    assert (proj / ".envrc").read_text().splitlines()[-1] == "use onboard --lorri web"

    def load(**more: str) -> subprocess.CompletedProcess:
        return subprocess.run(["direnv", "exec", str(proj), "sh", "-c", SHOW], capture_output=True, text=True,
                              env=place.env(**extra, **more), cwd=str(proj), timeout=120)

    first = load()
    lorri_nix = Path(place.home / ".cache/onboard/env" / str(proj).replace("_", "_u").replace("/", "_s")
                     / "web" / "lorri.nix")
    assert lorri_nix.is_file(), first.stderr  # rendered before lorri's first build
    assert str(standin.STANDIN) in lorri_nix.read_text()  # the same package set as onboard's builds
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen(["lorri", "daemon"], stdout=log, stderr=subprocess.STDOUT,
                              env=place.env(**extra), start_new_session=True)

    def wait(want: str) -> subprocess.CompletedProcess:
        end = time.time() + 90
        while True:
            r = load()
            if r.stdout.strip() == want or time.time() > end:
                return r
            time.sleep(0.3)

    try:
        r = wait(f"L||{proj}")
        assert r.stdout.strip() == f"L||{proj}", (r.stderr, (tmp_path / "daemon.log").read_text())
        # an edit of the profile re-renders, lorri rebuilds
        _break(web, profile("L2"))
        r = wait(f"L2||{proj}")
        assert r.stdout.strip() == f"L2||{proj}", (r.stderr, (tmp_path / "daemon.log").read_text())
        # a Nix failure: lorri keeps its last good build; onboard says so and marks it stale
        _break(web, profile("L3", packages="hello, nosuchthing"))
        r = wait(f"L2|1|{proj}")
        assert r.stdout.strip() == f"L2|1|{proj}", (r.stderr, (tmp_path / "daemon.log").read_text())
        assert "loading its last good environment" in r.stderr
        r = load(ONBOARD_NO_FALLBACK="1")
        assert not r.stdout.startswith("L2"), r.stdout
        # a YAML error: the render keeps the last good files, marked stale
        _break(web, profile("L4") + "packages: [this is: not valid\n")
        r = load()
        assert r.stdout.strip() == f"L2|1|{proj}", r.stderr
        assert f"{web}:" in r.stderr
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=20)
        log.close()


def test_the_team_configs_profiles_directory_and_project_option_are_honoured(place, tmp_path):
    proj = tmp_path / "teamproj"
    (proj / "team-profiles").mkdir(parents=True)
    (proj / ".git").mkdir()
    (proj / "onboard.yaml").write_text("version: 1\nprofiles: team-profiles\n")
    (proj / "team-profiles" / "web.yaml").write_text(profile("T"))
    (proj / "src").mkdir()
    r = subprocess.run([sys.executable, "-m", "onboard", "profiles"], capture_output=True, text=True,
                       env=place.env(), cwd=str(proj / "src"))
    assert r.returncode == 0 and str(proj / "team-profiles" / "web.yaml") in r.stdout, r.stderr
    r = subprocess.run([sys.executable, "-m", "onboard", "shell", "web", "--project", str(proj), "--", "sh", "-c",
                        SHOW], capture_output=True, text=True, env=place.env(), cwd=str(place.tmp))
    assert r.stdout.strip() == f"T||{proj}", r.stderr
    r = subprocess.run([sys.executable, "-m", "onboard", "shell", "web", "--", "sh", "-c", SHOW],
                       capture_output=True, text=True, env=place.env(), cwd=str(proj / "src"))
    assert r.stdout.strip() == f"T||{proj}", r.stderr
