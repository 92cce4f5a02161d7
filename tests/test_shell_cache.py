"""`onboard shell` end to end with real Nix against the stand-in package set: the cache,
its staleness key, the warm path, --pure, the fallback to the last good environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_nix
from tests.support import standin
from tests.support.standin import PIN, World

pytestmark = [needs_nix, pytest.mark.slow]

def imported(stderr: str) -> set[str]:
    """The modules a process imported, from Python's own -X importtime report on stderr."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    w = World(tmp_path_factory.mktemp("shellworld"))
    r = w.onboard("shell", "web", "--print-env")
    assert r.returncode == 0, r.stderr
    return w


def test_print_env_builds_once_and_prints_only_the_path(world):
    r = world.onboard("shell", "web", "--print-env")
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{world.env_dir('web') / 'env.sh'}\n"
    assert r.stderr == ""  # fresh: nothing built, nothing said
    d = world.env_dir("web")
    for name in ("env.sh", "inputs.sh", "manifest", "bashrc", "flake/flake.nix", "flake/flake.lock"):
        assert (d / name).is_file(), name
    assert os.path.realpath(d / "gcroot").startswith("/nix/store/")
    inputs = (d / "inputs.sh").read_text()
    for f in (world.profiles / "web.yaml", world.profiles / "base.yaml", d / "flake" / "flake.lock"):
        assert f"  '{f}'\n" in inputs
    assert f"  '{os.path.realpath(shutil.which('nix'))}'\n" in inputs
    out = subprocess.run(["bash", "-c", f'source {d / "inputs.sh"}; echo "${{#ONBOARD_INPUTS[@]}}"'],
                         capture_output=True, text=True).stdout
    assert out.strip() == "4"


def test_warm_entry_has_the_profile_env_path_and_hook(world, tmp_path):
    r = world.onboard("shell", "web", "--", "sh", "-c",
                      'echo "$DATABASE_URL|$TEAM|$WEB_HOOK|$QUOTED|$IN_NIX_SHELL|$ONBOARD_PROFILE"; '
                      "psql --version | cut -d' ' -f1-2; hello; command -v redis-server; echo $SHELL; exit 3",
                      PYTHONPROFILEIMPORTTIME="1")
    assert r.returncode == 3, r.stderr  # the command's exit code passes through
    lines = r.stdout.splitlines()
    assert lines[0] == f"postgres://localhost/web|onboard|ran|it's \"quoted\" $HOME|impure|web"
    assert lines[1] == "psql (PostgreSQL)"  # the stand-in's postgresql_16 is the host's PostgreSQL
    assert lines[2] == "hello: Hello, world!"
    assert lines[3].startswith("/nix/store/") and lines[3].endswith("/bin/redis-server")
    assert lines[4] == os.path.realpath(shutil.which("bash"))
    assert "web hook ran" in r.stderr
    # the warm path took it, and imported nothing heavy
    modules = imported(r.stderr)
    assert "onboard.cli.fastpath" in modules
    for heavy in ("yaml", "argparse", "textual", "rich", "requests", "psutil", "json", "subprocess",
                  "hashlib", "onboard.core.profiles.build", "onboard.core.profiles.loader"):
        assert heavy not in modules, heavy


def test_project_dir_is_the_root_holding_profiles(world, tmp_path):
    sub = world.project / "src"
    sub.mkdir(exist_ok=True)
    r = world.onboard("shell", "web", "--", "sh", "-c", 'echo "$ONBOARD_PROJECT_DIR"', cwd=sub)
    assert r.stdout.strip() == str(world.project), r.stderr
    elsewhere = world.onboard("shell", "web", "--", "sh", "-c", 'echo "${ONBOARD_PROJECT_DIR-unset}"',
                              cwd=tmp_path, ONBOARD_PROFILES_DIR=str(world.profiles))
    assert elsewhere.stdout.strip() == "unset", elsewhere.stderr


def test_outer_path_is_kept_after_the_profile_path(world):
    r = world.onboard("shell", "web", "--", "sh", "-c", 'echo "$PATH"', PATH="/opt/x/bin:" + os.environ["PATH"])
    entries = r.stdout.strip().split(":")
    first_host = entries.index("/opt/x/bin")
    assert all(e.startswith("/nix/store/") for e in entries[:first_host])
    assert "" not in entries and "." not in entries


def test_env_sh_sources_inside_a_function_and_leaves_no_temp_dir(world):
    env_sh = world.env_dir("web") / "env.sh"
    text = env_sh.read_text()
    assert "mktemp" not in text and "nologin" not in text and "\nBASH=" not in text and "\nSHELL=" not in text
    tmpdir = Path(os.environ.get("TMPDIR", "/tmp"))
    before = {p.name for p in tmpdir.iterdir() if p.name.startswith("nix-shell")}
    script = f'load() {{ source {env_sh}; }}; load; echo "$DATABASE_URL|${{TMPDIR:-unset}}|${{NIX_BUILD_TOP:-unset}}"'
    for _ in range(3):
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "TMPDIR"})
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "postgres://localhost/web|unset|unset"
    r = world.onboard("shell", "web", "--", "true")
    assert r.returncode == 0
    after = {p.name for p in tmpdir.iterdir() if p.name.startswith("nix-shell")}
    assert after <= before


def test_pure_clears_the_environment_but_the_basics(world):
    r = world.onboard("shell", "web", "--pure", "--", "sh", "-c",
                      'echo "$DATABASE_URL|${SECRET_TOKEN:-cleared}|$HOME|$IN_NIX_SHELL|$WEB_HOOK"; echo "$PATH"; '
                      "command -v git || echo no-git",
                      SECRET_TOKEN="hunter2", PATH="/usr/local/bin:/usr/bin:/bin")
    assert r.returncode == 0, r.stderr
    first, path, git = r.stdout.splitlines()
    assert first == f"postgres://localhost/web|cleared|{os.environ['HOME']}|pure|ran"
    assert all(p.startswith("/nix/store/") for p in path.split(":")), path
    assert git == "no-git"


def test_interactive_shell_sources_bashrc_then_env_and_prefixes_the_prompt(world, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text('export FROM_BASHRC=yes\nPS1="user$ "\n')
    r = world.onboard("shell", "web", input='echo "rc=$FROM_BASHRC db=$DATABASE_URL ps1=$PS1"\nexit 5\n',
                      HOME=str(home))
    assert r.returncode == 5, r.stderr
    assert "rc=yes db=postgres://localhost/web ps1=(web) user$ " in r.stdout


def test_shell_errors_are_clear(world):
    r = world.onboard("shell", "nosuch", "--print-env")
    assert r.returncode == 1 and r.stdout == ""
    assert "nosuch" in r.stderr and "available: base, sci, web" in r.stderr
    r = world.onboard("shell", "web", "extra")
    assert r.returncode == 2 and "put it after `--`" in r.stderr
    r = world.onboard("shell", "--", "true")
    assert r.returncode == 1 and "no active profile" in r.stderr


# -- staleness --------------------------------------------------------------------------------

def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text()
    path.write_text(text.replace(old, new))
    return text


def test_touch_without_change_does_not_rebuild(world, tmp_path):
    before = world.built("web")
    web = world.profiles / "web.yaml"
    st = web.stat()
    os.utime(web, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    r = world.onboard("shell", "web", "--", "true", PYTHONPROFILEIMPORTTIME="1")
    assert r.returncode == 0, r.stderr
    assert world.built("web") == before
    modules = imported(r.stderr)
    assert "hashlib" in modules and "yaml" not in modules  # hashed again on the warm path
    # the new stat is recorded and env.sh is touched, so mtime-based loaders agree
    assert str(web.stat().st_mtime_ns) in (world.env_dir("web") / "manifest").read_text()
    assert (world.env_dir("web") / "env.sh").stat().st_mtime_ns >= web.stat().st_mtime_ns


@pytest.mark.parametrize("which", ["profile", "extends-base"])
def test_editing_a_profile_or_its_base_rebuilds(world, which):
    before = world.built("web")
    if which == "profile":
        path, old, new = world.profiles / "web.yaml", "postgres://localhost/web", "postgres://db/web"
        check = ("DATABASE_URL", "postgres://db/web")
    else:
        path, old, new = world.profiles / "base.yaml", "TEAM: onboard", "TEAM: platform"
        check = ("TEAM", "platform")
    original = _edit(path, old, new)
    try:
        r = world.onboard("shell", "web", "--", "sh", "-c", f'echo "${check[0]}"')
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == check[1]
        assert world.built("web") != before
        assert "evaluate and build the shell of profile web" in r.stderr and "changed" in r.stderr
    finally:
        path.write_text(original)
    r = world.onboard("shell", "web", "--", "sh", "-c", f'echo "${check[0]}"')
    assert r.stdout.strip() != check[1]


def test_requirements_comment_edit_keeps_the_environment(world):
    """The requirements file is a lock: what Nix sees is the python.nix rendered from it, so an
    edit that locks nothing new is recorded without a rebuild."""
    first = world.onboard("shell", "sci", "--print-env")
    assert first.returncode == 0, first.stderr
    before = world.built("sci")
    req = world.profiles / "requirements.txt"
    original = req.read_text()
    req.write_text(original + "# still nothing, but different bytes\n")
    try:
        r = world.onboard("shell", "sci", "--print-env")
        assert r.returncode == 0, r.stderr
        assert world.built("sci") == before
        assert (world.env_dir("sci") / "flake" / "python.nix").is_file()
    finally:
        req.write_text(original)


def test_override_change_rebuilds(world, tmp_path):
    other = tmp_path / "standin-copy"
    shutil.copytree(standin.standin_path(), other)
    before = world.built("web")
    r = world.onboard("shell", "web", "--print-env", ONBOARD_NIXPKGS_OVERRIDE=str(other))
    assert r.returncode == 0, r.stderr
    assert "ONBOARD_NIXPKGS_OVERRIDE changed" in r.stderr
    assert world.built("web") != before
    back = world.onboard("shell", "web", "--print-env")
    assert back.returncode == 0 and "ONBOARD_NIXPKGS_OVERRIDE changed" in back.stderr


def test_deleted_gc_root_is_noticed_and_rebuilt(world):
    root = world.env_dir("web") / "gcroot"
    before = world.built("web")
    os.unlink(root)
    r = world.onboard("shell", "web", "--", "sh", "-c", 'echo "$DATABASE_URL"')
    assert r.returncode == 0, r.stderr
    assert "the GC root is gone" in r.stderr
    assert r.stdout.strip() == "postgres://localhost/web"
    assert world.built("web") != before
    assert os.path.realpath(root).startswith("/nix/store/")
    links = sorted(p.name for p in world.env_dir("web").iterdir() if p.name.startswith("gcroot-"))
    assert len(links) == 1  # older profile generations are not kept as roots


def test_failed_rebuild_falls_back_to_the_last_good_env_out_loud(world, tmp_path):
    broken = tmp_path / "broken-standin"
    shutil.copytree(standin.standin_path(), broken)
    (broken / "default.nix").write_text('{ ... }: throw "the package set is broken today"\n')
    before = world.built("web")
    r = world.onboard("shell", "web", "--", "sh", "-c", 'echo "$DATABASE_URL"',
                      ONBOARD_NIXPKGS_OVERRIDE=str(broken))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "postgres://localhost/web"
    assert "the package set is broken today" in r.stderr
    assert "last good environment" in r.stderr
    assert world.built("web") == before  # the last good one is kept as it was
    # still stale: the next entry tries again (and falls back again), never silently
    r = world.onboard("shell", "web", "--print-env", ONBOARD_NIXPKGS_OVERRIDE=str(broken))
    assert r.returncode == 0 and "last good environment" in r.stderr


def test_failed_build_without_a_last_good_env_is_an_error(world, tmp_path):
    (world.profiles / "ghost.yaml").write_text("name: ghost\n" + PIN + "packages: [hello]\n")
    broken = tmp_path / "broken-standin"
    shutil.copytree(standin.standin_path(), broken)
    (broken / "default.nix").write_text('{ ... }: throw "no package set"\n')
    try:
        r = world.onboard("shell", "ghost", "--", "true", ONBOARD_NIXPKGS_OVERRIDE=str(broken))
        assert r.returncode == 1
        assert "cannot build the shell of profile ghost" in r.stderr and "no package set" in r.stderr
        assert not (world.env_dir("ghost") / "manifest").exists()
    finally:
        (world.profiles / "ghost.yaml").unlink()


def test_nix_shell_backend_builds_the_same_environment(world, tmp_path):
    log = tmp_path / "hook.log"
    (world.profiles / "legacy.yaml").write_text(
        "name: legacy\nextends: base\npackages: [redis]\nenv:\n  LEGACY: 'yes'\n"
        f"shellHook: |\n  echo entered >> {log}\n  export LEGACY_HOOK=ran\n")
    try:
        r = world.onboard("shell", "legacy", "--print-env", ONBOARD_NIX_BACKEND="nix-shell")
        assert r.returncode == 0, r.stderr
        assert not log.exists()  # the hook is not run while the environment is captured
        assert "backend nix-shell" in (world.env_dir("legacy") / "manifest").read_text()
        assert os.path.realpath(world.env_dir("legacy") / "gcroot").startswith("/nix/store/")
        r = world.onboard("shell", "legacy", "--", "sh", "-c",
                          'echo "$LEGACY|$TEAM|$LEGACY_HOOK|$IN_NIX_SHELL"; hello; echo "$PATH"',
                          ONBOARD_NIX_BACKEND="nix-shell", PATH="/usr/bin:/bin")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[:2] == ["yes|onboard|ran|impure", "hello: Hello, world!"]
        entries = lines[2].split(":")
        assert entries[-2:] == ["/usr/bin", "/bin"]
        assert all(e.startswith("/nix/store/") for e in entries[:-2])
        assert log.read_text() == "entered\n"
        # switching backends is a change of the key
        r = world.onboard("shell", "legacy", "--print-env", ONBOARD_NIX_BACKEND="flake")
        assert "ONBOARD_NIX_BACKEND asks for flake" in r.stderr
    finally:
        (world.profiles / "legacy.yaml").unlink()


def test_concurrent_first_entries_build_once_and_both_work(world):
    (world.profiles / "twice.yaml").write_text("name: twice\n" + PIN + "packages: [jq]\n")
    try:
        procs = [subprocess.Popen([sys.executable, "-m", "onboard", "shell", "twice", "--", "jq"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=world.env(), cwd=str(world.project)) for _ in range(2)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        assert all(o[0].strip() == "jq: jq 1.7 (stand-in)" for o in outs)
        built = sum("evaluate and build" in o[1] for o in outs)
        assert built == 1
    finally:
        (world.profiles / "twice.yaml").unlink()
