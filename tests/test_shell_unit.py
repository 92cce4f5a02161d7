"""Pieces of the shell cache without Nix: env.sh text sourced by real bash, the nix-shell
dump format, the manifest and its staleness checks, argument parsing, generation diffs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from onboard.cli.fastpath import Usage, parse_argv
from onboard.core.profiles import cache, envsh
from onboard.core.profiles.gc import parse_age
from onboard.core.profiles.generations import Generation, diff

TRICKY = "it's \"quoted\" $HOME `date` \\ back\nsecond line\ttab ${X}"


def sourced(env_sh: str, script: str, env: dict | None = None) -> str:
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", f"f() {{ source {env_sh}; }}; f; {script}"],
                       capture_output=True, text=True, env=env if env is not None else dict(os.environ))
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_env_script_round_trips_values_arrays_functions_through_bash(tmp_path):
    model = envsh.EnvModel(
        variables={
            "TRICKY": ("exported", TRICKY),
            "LOCAL_ONLY": ("var", "not exported"),
            "ARR": ("array", ["a b", "it's", ""]),
            "ASSOC": ("associative", {"k 1": "v'1", "k2": "v2"}),
            "PATH": ("exported", "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin"),
            "SHELL": ("exported", "/usr/sbin/nologin"),
            "BASH": ("var", "/usr/sbin/nologin"),
            "OLDPWD": ("exported", ""),
            "NIX_BUILD_TOP": ("exported", "/build"),
            "TMPDIR": ("exported", "/build"),
            "HOME": ("exported", "/homeless-shelter"),
            "bad-name": ("exported", "x"),
            "shellHook": ("var", 'export HOOKED="$TRICKY!"'),
        },
        functions={"greet": 'greet ()\n{\n    echo "hi $1"\n}'})
    env_sh = tmp_path / "env.sh"
    env_sh.write_text(envsh.render_env_script(model, "demo"))
    env = {"PATH": "/usr/bin:/bin", "HOME": "/home/me", "SHELL": "/bin/zsh", "OLDPWD": str(tmp_path)}
    out = sourced(str(env_sh), 'printf "%s\\0" "$TRICKY" "$HOOKED" "${ARR[@]}" "${#ARR[@]}" "${ASSOC[k 1]}" '
                  '"$PATH" "$SHELL" "$HOME" "$OLDPWD" "${TMPDIR-unset}" "${NIX_BUILD_TOP-unset}" '
                  '"$ONBOARD_PROFILE" "$(greet you)"; env | grep -c "^LOCAL_ONLY=" || true', env=env)
    values, count = out.rsplit("\0", 1)
    assert values.split("\0") == [
        TRICKY, TRICKY + "!", "a b", "it's", "", "3", "v'1",
        "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin:/usr/bin:/bin", "/bin/zsh", "/home/me", str(tmp_path),
        "unset", "unset", "demo", "hi you"]
    assert count.strip() == "0"  # a plain variable stays unexported, as in nix develop


def test_pure_env_script_does_not_append_the_outer_path(tmp_path):
    model = envsh.EnvModel(variables={"PATH": ("exported", "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin"),
                                      "IN_NIX_SHELL": ("exported", "impure")})
    env_sh = tmp_path / "env.sh"
    env_sh.write_text(envsh.render_env_script(model, "demo"))
    out = sourced(str(env_sh), 'echo "$PATH|$IN_NIX_SHELL|${ONBOARD_PURE-gone}"',
                  env={"PATH": "/usr/bin:/bin", "ONBOARD_PURE": "1"})
    assert out.strip() == "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin|pure|gone"
    for outer in ("", "/usr/bin"):
        path = sourced(str(env_sh), 'echo "$PATH"', env={"PATH": outer} if outer else {}).strip()
        assert "" not in path.split(":"), path  # no empty entry (the current directory)


def test_nix_shell_dump_is_read_back_exactly(tmp_path):
    dumper = tmp_path / "dump.sh"
    dumper.write_text(envsh.DUMPER)
    out = tmp_path / "out"
    script = (f"export TRICKY={envsh.sh_quote(TRICKY)}; PLAIN=p; ARR=(x 'y z'); declare -A AS=([k]=v); "
              f"f1() {{ echo f1; }}; onboardShellHook='echo hook'; shellHook=''; export IN_NIX_SHELL=pure; "
              f"export USER=someone; PATH=/usr/bin:/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin; "
              f". {dumper} {out}")
    subprocess.run(["bash", "--norc", "--noprofile", "-c", script], check=True)
    model = envsh.model_from_dump(out.read_bytes(), strip_path_prefix="/usr/bin")
    v = model.variables
    assert v["TRICKY"] == ("exported", TRICKY)
    assert v["PLAIN"] == ("var", "p")
    assert v["ARR"] == ("array", ["x", "y z"])
    assert v["AS"] == ("associative", {"k": "v"})
    assert v["shellHook"][1] == "echo hook" and "onboardShellHook" not in v
    assert v["IN_NIX_SHELL"] == ("exported", "impure")
    assert "USER" not in v
    assert v["PATH"][1] == "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x/bin"
    assert "f1" in model.functions and "echo f1" in model.functions["f1"]


def test_model_from_print_dev_env_json():
    doc = {"bashFunctions": {"runHook": " \n    echo run\n"},
           "variables": {"A": {"type": "exported", "value": "1"}, "L": {"type": "array", "value": ["x"]}}}
    model = envsh.model_from_json(doc)
    assert model.variables == {"A": ("exported", "1"), "L": ("array", ["x"])}
    assert model.functions["runHook"] == "runHook ()\n{\n \n    echo run\n}"


@pytest.fixture
def fake_nix(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    nix = bindir / "nix"
    nix.write_text("#!/bin/sh\necho 'nix (Nix) 2.99.0'\n")
    nix.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.delenv("ONBOARD_NIXPKGS_OVERRIDE", raising=False)
    monkeypatch.delenv("ONBOARD_NIX_BACKEND", raising=False)
    return nix


def make_cache(tmp_path, files: list) -> tuple[str, cache.Manifest]:
    d = tmp_path / "env" / "demo"
    d.mkdir(parents=True)
    (d / "env.sh").write_text("true\n")
    (d / "inputs.sh").write_text("ONBOARD_INPUTS=()\n")
    os.symlink(sys.executable, d / "gcroot")  # any existing target stands in for a store path
    m = cache.Manifest()
    m.name, m.profile, m.version, m.system = "demo", str(files[0]), cache.onboard_version(), cache.system_id()
    m.backend, m.nix_prog = "flake", "nix"
    m.nix_path, m.nix_mtime_ns, m.nix_size = cache.program_identity("nix")
    m.bash = "/bin/bash"
    m.inputs = [cache.Input.of(str(f)) for f in files]
    m.store_paths = ["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-demo-env"]
    m.built = time.time()
    (d / "manifest").write_text(m.dumps())
    return str(d), m


def test_manifest_round_trip_and_staleness(tmp_path, fake_nix):
    prof = tmp_path / "demo.yaml"
    prof.write_text("name: demo\n")
    spaced = tmp_path / "with space.txt"
    spaced.write_text("x\n")
    d, m = make_cache(tmp_path, [prof, spaced])
    again = cache.read_manifest(d)
    assert again is not None and again.dumps() == m.dumps()
    assert again.inputs[1].path == str(spaced)
    assert cache.stale_reason(again, d, profile_file=str(prof)) == ""
    assert "the profile is now" in cache.stale_reason(again, d, profile_file=str(tmp_path / "other.yaml"))

    # same content, new mtime: fresh, and the new stat is recorded
    os.utime(prof, ns=(0, prof.stat().st_mtime_ns + 10**9))
    assert cache.stale_reason(cache.read_manifest(d), d) == ""
    assert str(prof.stat().st_mtime_ns) in open(os.path.join(d, "manifest")).read()
    # changed content (same size): stale
    prof.write_text("name: DEMO\n")
    assert cache.stale_reason(cache.read_manifest(d), d) == f"{prof} changed"
    prof.write_text("name: demo\n")
    assert cache.stale_reason(cache.read_manifest(d), d) == ""


@pytest.mark.parametrize("change, expect", [
    ("override", "ONBOARD_NIXPKGS_OVERRIDE changed"),
    ("nix", "Nix changed"),
    ("no-nix", "nix is no longer on PATH"),
    ("gcroot", "the GC root is gone"),
    ("system", "the system changed"),
    ("version", "onboard was upgraded"),
    ("deleted", "is gone"),
    ("backend", "ONBOARD_NIX_BACKEND asks for nix-shell"),
    ("bash", "is gone (bash was upgraded or removed)"),
])
def test_every_key_part_makes_the_cache_stale(tmp_path, fake_nix, monkeypatch, change, expect):
    prof = tmp_path / "demo.yaml"
    prof.write_text("name: demo\n")
    d, m = make_cache(tmp_path, [prof])
    if change == "override":
        monkeypatch.setenv("ONBOARD_NIXPKGS_OVERRIDE", str(tmp_path))
    elif change == "nix":
        fake_nix.write_text(fake_nix.read_text() + "# upgraded\n")
    elif change == "no-nix":
        monkeypatch.setenv("PATH", "/nonexistent")
    elif change == "gcroot":
        os.unlink(os.path.join(d, "gcroot"))
        os.symlink(str(tmp_path / "gone"), os.path.join(d, "gcroot"))  # dangling
    elif change == "system":
        m.system = "riscv64 linux"
    elif change == "version":
        m.version = "0.0.1"
    elif change == "deleted":
        prof.unlink()
    elif change == "backend":
        monkeypatch.setenv("ONBOARD_NIX_BACKEND", "nix-shell")
    elif change == "bash":
        m.bash = str(tmp_path / "old-bash-5.1" / "bin" / "bash")
    if change in ("system", "version", "bash"):
        open(os.path.join(d, "manifest"), "w").write(m.dumps())
    assert expect in cache.stale_reason(cache.read_manifest(d), d)


def test_broken_manifests_are_not_used(tmp_path):
    assert cache.Manifest.loads("") is None
    assert cache.Manifest.loads("onboard-env-cache 0\n") is None
    assert cache.Manifest.loads("onboard-env-cache 1\ninput x y z\n") is None
    assert cache.read_manifest(str(tmp_path / "missing")) is None


def test_project_key_matches_bash():
    out = subprocess.run(["bash", "-c", 'cd /tmp && echo "${PWD//\\//%}"'], capture_output=True, text=True).stdout
    assert out.strip() == cache.project_key("/tmp") == "%tmp"


def test_active_profile_is_found_from_a_subdirectory(tmp_path, monkeypatch):
    monkeypatch.setenv("ONBOARD_STATE_DIR", str(tmp_path / "state"))
    proj = tmp_path / "proj"
    (proj / "a" / "b").mkdir(parents=True)
    (proj / "profiles").mkdir()  # what makes it a project root
    d = tmp_path / "state" / "projects" / cache.project_key(str(proj))
    d.mkdir(parents=True)
    (d / "active").write_text("web\n")
    assert cache.active_profile(str(proj / "a" / "b")) == (str(proj), "web")
    assert cache.active_profile(str(tmp_path)) is None


def test_shell_argv_parsing():
    assert parse_argv(["web"]) == ("web", set(), None)
    assert parse_argv(["web", "--pure", "--", "ls", "-l", "--", "x"]) == ("web", {"--pure"}, ["ls", "-l", "--", "x"])
    assert parse_argv(["--", "true"]) == (None, set(), ["true"])
    assert parse_argv(["--print-env", "web"]) == ("web", {"--print-env"}, None)
    for bad in (["web", "ls"], ["--nope"], ["web", "--"]):
        with pytest.raises(Usage):
            parse_argv(bad)


def test_parse_age():
    assert parse_age("30d") == 30 * 86400 and parse_age("12h") == 43200 and parse_age("2w") == 14 * 86400
    for bad in ("", "30", "d", "-1d", "1y"):
        with pytest.raises(ValueError):
            parse_age(bad)


def test_generation_diff():
    a = Generation(number=1, profile="web", time=0, packages=["hello", "redis"], env={"A": "1", "B": "2"},
                   store_paths=["/nix/store/a"])
    b = Generation(number=2, profile="base", time=0, packages=["hello", "jq"], env={"A": "1", "B": "3", "C": "4"},
                   store_paths=["/nix/store/b"])
    assert diff(a, b) == ["profile web -> base", "- redis", "+ jq", "~ $B: 2 -> 3", "+ $C=4"]
    assert diff(None, a) == ["+ profile web", "+ hello", "+ redis"]
    same = Generation(number=3, profile="web", time=0, packages=a.packages, env=a.env, store_paths=["/nix/store/c"])
    assert diff(a, same) == ["the environment was rebuilt (same packages and variables)"]


def test_gc_leaves_a_cache_alone_when_a_build_takes_it_after_planning(tmp_path, monkeypatch):
    import fcntl

    from onboard.core.profiles import gc

    monkeypatch.setenv("ONBOARD_CACHE_DIR", str(tmp_path / "c"))
    d = cache.env_dir(cache.path_key(str(tmp_path / "proj")), "half")
    os.makedirs(d)
    open(os.path.join(d, ".lock"), "w").close()  # a build that never finished: no manifest
    plan = gc.plan_gc(sizes=False)
    assert [e.name for e in plan.stale_envs] == ["half"]
    fd = os.open(os.path.join(d, ".lock"), os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a retry starts building between the plan and the run
    try:
        res = gc.run_gc(plan, nix_gc="none")
    finally:
        os.close(fd)
    assert os.path.isdir(d) and res.removed_envs == []
    res = gc.run_gc(gc.plan_gc(sizes=False), nix_gc="none")  # not in use any more: removed
    assert not os.path.exists(d) and [e.name for e in res.removed_envs] == ["half"]


def test_a_refresh_never_writes_over_a_manifest_a_build_replaced(tmp_path, fake_nix):
    """A warm entry holding the old manifest must not write it over a newer build's."""
    prof = tmp_path / "demo.yaml"
    prof.write_text("name: demo\n")
    d, _m = make_cache(tmp_path, [prof])
    old = cache.read_manifest(d)
    newer = cache.read_manifest(d)
    newer.built += 5
    newer.store_paths = ["/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-demo-env"]
    open(os.path.join(d, "manifest"), "w").write(newer.dumps())  # a build finished meanwhile
    os.utime(prof, ns=(0, prof.stat().st_mtime_ns + 10**9))  # touched, same content
    assert cache.stale_reason(old, d) == ""
    assert cache.read_manifest(d).store_paths == newer.store_paths


def test_warm_path_dirs_follow_the_same_rules_as_core_paths(tmp_path, monkeypatch):
    from onboard.core import paths

    for env in ({}, {"XDG_CACHE_HOME": str(tmp_path / "x"), "XDG_STATE_HOME": str(tmp_path / "y")},
                {"ONBOARD_CACHE_DIR": str(tmp_path / "c"), "ONBOARD_STATE_DIR": str(tmp_path / "s")},
                {"XDG_CACHE_HOME": "relative", "XDG_STATE_HOME": "relative"}):
        for var in ("XDG_CACHE_HOME", "XDG_STATE_HOME", "ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR"):
            monkeypatch.delenv(var, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert cache.cache_root() == str(paths.cache_dir())
        assert cache.state_root() == str(paths.state_dir())


def test_gc_removes_the_per_name_caches_an_older_onboard_left(tmp_path, monkeypatch):
    from onboard.core.profiles import gc

    monkeypatch.setenv("ONBOARD_CACHE_DIR", str(tmp_path / "c"))
    old = tmp_path / "c" / "env" / "web"
    old.mkdir(parents=True)
    (old / "manifest").write_text("onboard-env-cache 1\nname web\n")
    ours = cache.env_dir(cache.path_key(str(tmp_path / "proj")), "web")
    os.makedirs(ours)
    plan = gc.plan_gc(sizes=False)
    assert [(e.name, e.directory) for e in plan.stale_envs if "older onboard" in e.reason] == [("web", str(old))]
    assert [e[2] for e in cache.env_dirs()] == [ours]


def test_the_cache_key_of_a_project_is_one_to_one_and_has_no_percent():
    keys = {cache.path_key(p) for p in ("/a/b", "/a_b", "/a_sb", "/a/_b", "/a_/b")}
    assert len(keys) == 5 and not any("%" in k for k in keys)
    assert cache.owner_key("/x/p") == cache.path_key("/x/p") and cache.owner_key(None, "/x/p/w.yaml").startswith("nop")
