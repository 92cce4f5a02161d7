"""Rendering profiles to flake.nix / flake.lock / shell.nix, checked with the real Nix."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from onboard.core.profiles.loader import load_profile
from onboard.core.profiles.render import nix_multiline, nix_string, render_profile, write_rendered
from tests.conftest import ROOT, needs_nix, run_onboard
from tests.support.tree import snapshot

REV = "50ab793786d9de88ee30ec4e4c24fb4236fc2674"
NAR = "sha256-/bVBlRpECLVzjV19t5KMdMFWSwKLtb5RyXdjz3LJT+g="
SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
STORE = re.compile(r"/nix/store/[0-9a-z]{32}-[^\"\s:]*")

# A package set just big enough to evaluate rendered files: mkShell gives back its
# arguments (plus what nixpkgs was imported with), packages are fake derivations.
FAKE_NIXPKGS = """\
{ system ? builtins.currentSystem, config ? { }, overlays ? [ ] }:
let
  mk = pname: { type = "derivation"; inherit pname; name = "${pname}-1.0"; outPath = "/fake/${pname}"; };
in
{
  mkShell = args: args // { _system = system; _config = config; _overlays = overlays; };
  hello = mk "hello"; git = mk "git"; jq = mk "jq"; curl = mk "curl"; gnumake = mk "gnumake";
  redis = mk "redis"; postgresql_16 = mk "postgresql"; openblas = mk "openblas";
  nodejs_20 = mk "nodejs"; chromium = mk "chromium"; chromedriver = mk "chromedriver";
  google-chrome = mk "google-chrome"; zlib = mk "zlib";
  stdenv.cc.cc.lib = mk "gcc-lib";
  python312 = mk "python3";
  python312Packages = builtins.listToAttrs (map (n: { name = n; value = mk n; })
    [ "numpy" "scipy" "pandas" "matplotlib" "jupyterlab" ]);
  "2048-in-terminal" = mk "2048-in-terminal";
}
"""


def nix_env() -> dict[str, str]:
    return dict(os.environ)  # conftest set NIX_CONFIG (no substituters, no registry, flakes on)


def nix(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(list(argv), capture_output=True, text=True, env=nix_env(), timeout=120)
    if check:
        assert r.returncode == 0, f"{argv}: {r.stderr}"
    return r


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fake-nixpkgs")
    (d / "default.nix").write_text(FAKE_NIXPKGS)
    (d / "flake.nix").write_text("{\n  outputs = { self }: { };\n}\n")
    return d


def profile_file(d: Path, name: str, doc: dict, extra: dict[str, str] | None = None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for rel, text in (extra or {}).items():
        (d / rel).write_text(text)
    body = {"name": name, "nixpkgs": {"rev": REV, "narHash": NAR, "lastModified": 1751274312}, **doc}
    p = d / f"{name}.yaml"
    p.write_text(yaml.safe_dump(body, sort_keys=False, allow_unicode=True))
    return p


TRICKY_ENV = {
    "TRICKY": 'a ${b} "q" \\ $HOME \'\'x\'\' ${ and\nline2\ttab',
    "DOLLARS": "$${x} $$ $",
    "EMPTY": "",
    "UNICODE": "café ☕",
}
HOOKS = {
    "plain": "echo \"hi ${USER}\" ''\nif true; then\n  echo '''three'''\nfi\nprintf '%s\\n' \"$${x}\" \\\n  done\n",
    "indented": "  echo all lines\n  are indented\n",
    "blank-line": "echo a\n   \necho b\n",
    "tabs": "\techo tab first\necho then\n",
    "cr": "echo a\r\necho b\n",
}


def eval_shell_nix(out: Path, fake: Path, expr: str = "s") -> object:
    code = f"let s = import {out}/shell.nix {{ nixpkgs = {fake}; }}; in {expr}"
    r = nix("nix-instantiate", "--eval", "--strict", "--json", "--readonly-mode", "-E", code)
    return json.loads(r.stdout)


def eval_flake(out: Path, fake: Path, apply: str) -> object:
    r = nix("nix", "eval", "--json", f"path:{out}#devShells.x86_64-linux.default",
            "--override-input", "nixpkgs", f"path:{fake}", "--no-write-lock-file", "--apply", apply)
    return json.loads(r.stdout)


VIEW = "s: { inherit (s) name packages shellHook _system _overlays; env = builtins.removeAttrs s " \
       "[ \"name\" \"packages\" \"shellHook\" \"_system\" \"_config\" \"_overlays\" ]; }"


# -- pure Python ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_rendering_is_deterministic_and_free_of_this_machines_paths(path, tmp_path):
    p = load_profile(str(path))
    first = render_profile(p)
    assert first == render_profile(load_profile(str(path)))
    # the same profile somewhere else on disk renders the same bytes
    copy = tmp_path / "elsewhere" / "deeper" / "profiles"
    shutil.copytree(path.parent, copy)
    assert render_profile(load_profile(str(copy / path.name))) == first
    for rel, text in first.items():
        assert str(ROOT) not in text and str(tmp_path) not in text and "/home/" not in text, rel
    assert {"flake.nix", "flake.lock", "shell.nix"} <= set(first)


def test_write_rendered_modes_stale_files_and_untouched_neighbours(tmp_path):
    prof = profile_file(tmp_path / "p", "w", {"packages": ["hello"], "scripts": {"a": "echo a", "b": "echo b"}})
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me\n")
    os.umask(0o077)
    try:
        written = write_rendered(load_profile(str(prof)), out)
    finally:
        os.umask(0o022)
    assert [p.relative_to(out).as_posix() for p in written] == ["bin/a", "bin/b", "flake.lock", "flake.nix",
                                                               "shell.nix"]
    assert oct((out / "bin" / "a").stat().st_mode & 0o777) == "0o755"
    assert oct((out / "flake.nix").stat().st_mode & 0o777) == "0o644"
    mtime = (out / "flake.lock").stat().st_mtime_ns
    # drop script b: its file goes, the user's file stays, unchanged files keep their mtime
    prof.write_text(prof.read_text().replace("  b: echo b\n", ""))
    write_rendered(load_profile(str(prof)), out)
    assert not (out / "bin" / "b").exists() and (out / "bin" / "a").exists()
    assert (out / "mine.txt").read_text() == "keep me\n"
    assert (out / "flake.lock").stat().st_mtime_ns == mtime
    assert (out / "bin" / "a").read_text() == (
        "#!/usr/bin/env bash\n# `a` from the team profile `w` (rendered by onboard); arguments are in \"$@\"\n"
        "echo a\n")


def test_flake_lock_content(tmp_path):
    p = load_profile(str(profile_file(tmp_path, "l", {"packages": ["hello"]})))
    lock = json.loads(render_profile(p)["flake.lock"])
    assert lock == {
        "nodes": {
            "nixpkgs": {
                "locked": {"lastModified": 1751274312, "narHash": NAR, "owner": "NixOS", "repo": "nixpkgs",
                           "rev": REV, "type": "github"},
                "original": {"owner": "NixOS", "repo": "nixpkgs", "rev": REV, "type": "github"},
            },
            "root": {"inputs": {"nixpkgs": "nixpkgs"}},
        },
        "root": "root",
        "version": 7,
    }


def test_rendered_flake_text(tmp_path):
    p = load_profile(str(profile_file(tmp_path, "t", {
        "packages": ["hello", "python312Packages.numpy", "2048-in-terminal"],
        "python": {"version": "3.12"},
        "allowUnfree": True, "unfree": ["vscode", "google-chrome"],
    }, {})))
    files = render_profile(p)
    flake = files["flake.nix"]
    assert f'inputs.nixpkgs.url = "github:NixOS/nixpkgs/{REV}";' in flake
    assert "pkgs.python312Packages.numpy" in flake and 'pkgs."2048-in-terminal"' in flake
    assert '[ "google-chrome" "vscode" ]' in flake  # sorted: order does not matter
    assert 'systems = [ "aarch64-darwin" "aarch64-linux" "x86_64-darwin" "x86_64-linux" ];' in flake
    shell = files["shell.nix"]
    assert f'url = "https://github.com/NixOS/nixpkgs/archive/{REV}.tar.gz";' in shell
    assert 'sha256 = "1s2gr5rcyqvpr58vxdcb095mdhblij9bfzaximrva2243aal3dgx";' in shell


def test_nix_string_helpers():
    assert nix_string('a"b\\c${d}\n') == '"a\\"b\\\\c\\${d}\\n"'
    assert nix_multiline(["echo ''${x}\n"], "") == "''\n  echo '''''${x}\n''"
    assert nix_multiline(["  indented\n"], "").startswith('"')  # would lose its indentation


# -- real Nix ---------------------------------------------------------------------------------

@needs_nix
def test_every_shipped_profile_renders_files_that_parse(tmp_path):
    for path in SHIPPED:
        out = tmp_path / path.stem
        write_rendered(load_profile(str(path)), out)
        for f in ("flake.nix", "shell.nix"):
            r = nix("nix-instantiate", "--parse", str(out / f), check=False)
            assert r.returncode == 0, f"{path.stem}/{f}: {r.stderr}"


@needs_nix
@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_env_and_shellhook_survive_exactly_in_both_files(tmp_path, fake, hook):
    prof = profile_file(tmp_path / "p", "x", {
        "packages": ["hello", "python312Packages.numpy", "2048-in-terminal"],
        "env": TRICKY_ENV, "shellHook": HOOKS[hook], "scripts": {"greet": "echo hello \"$@\""}})
    out = tmp_path / "out"
    write_rendered(load_profile(str(prof)), out)
    via_shell = eval_shell_nix(out, fake, f"({VIEW}) s")
    via_flake = eval_flake(out, fake, VIEW)
    for got in (via_shell, via_flake):
        assert got["env"] == {**TRICKY_ENV, "ONBOARD_PROFILE": "x"}
        assert got["packages"] == ["/fake/hello", "/fake/numpy", "/fake/2048-in-terminal"]
        assert got["name"] == "onboard-x"
        assert got["_overlays"] == []
        assert got["shellHook"].endswith("# the profile's shellHook\n" + HOOKS[hook]), got["shellHook"]
        assert re.search(r'export PATH="/nix/store/[0-9a-z]{32}-[^"]+:\$PATH"', got["shellHook"])
    # the two files are the same shell (up to where Nix copied the scripts)
    assert STORE.sub("STORE", json.dumps(via_shell, sort_keys=True)) == \
        STORE.sub("STORE", json.dumps({**via_flake, "_system": via_shell["_system"]}, sort_keys=True))
    assert via_flake["_system"] == "x86_64-linux"


@needs_nix
def test_unfree_packages_are_allowed_one_by_one(tmp_path, fake):
    prof = profile_file(tmp_path / "p", "u", {"packages": ["google-chrome"], "allowUnfree": True,
                                              "unfree": ["google-chrome"]})
    out = tmp_path / "out"
    write_rendered(load_profile(str(prof)), out)
    pred = "s._config.allowUnfreePredicate"
    got = eval_shell_nix(out, fake, f"[ ({pred} {{ pname = \"google-chrome\"; }}) "
                                    f"({pred} {{ name = \"google-chrome-124.0\"; }}) "
                                    f"({pred} {{ pname = \"vscode\"; }}) (s._config ? allowUnfree) ]")
    assert got == [True, True, False, False]
    flake = eval_flake(out, fake, f"s: [ (s._config.allowUnfreePredicate {{ pname = \"google-chrome\"; }}) "
                                  f"(s._config.allowUnfreePredicate {{ pname = \"slack\"; }}) ]")
    assert flake == [True, False]
    everything = profile_file(tmp_path / "q", "all", {"packages": ["hello"], "allowUnfree": True})
    write_rendered(load_profile(str(everything)), tmp_path / "out2")
    assert eval_shell_nix(tmp_path / "out2", fake, "s._config") == {"allowUnfree": True}
    none = profile_file(tmp_path / "r", "none", {"packages": ["hello"]})
    write_rendered(load_profile(str(none)), tmp_path / "out3")
    assert eval_shell_nix(tmp_path / "out3", fake, "s._config") == {"allowUnfree": False}


@needs_nix
@pytest.mark.parametrize("name", ["python-web", "frontend"])
def test_flake_lock_is_accepted_by_nix_as_is_and_with_nixpkgs_overridden(tmp_path, fake, name):
    out = tmp_path / "out"
    write_rendered(load_profile(str(ROOT / "profiles" / f"{name}.yaml")), out)
    lock_before = (out / "flake.lock").read_bytes()
    # as written: Nix takes the lock without re-locking (which would need the network here)
    r = nix("nix", "flake", "metadata", "--json", "--no-write-lock-file", f"path:{out}")
    assert "warning" not in r.stderr and "error" not in r.stderr, r.stderr
    meta = json.loads(r.stdout)
    locked = meta["locks"]["nodes"]["nixpkgs"]["locked"]
    assert (locked["rev"], locked["narHash"], locked["type"]) == (REV, NAR, "github")
    # with nixpkgs swapped for a local flake, as the tests and air-gapped teams do
    r = nix("nix", "flake", "metadata", "--json", "--no-write-lock-file", f"path:{out}",
            "--override-input", "nixpkgs", f"path:{fake}")
    assert "error" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["locks"]["nodes"]["nixpkgs"]["locked"]["type"] == "path"
    assert (out / "flake.lock").read_bytes() == lock_before


@needs_nix
def test_tarball_pin_lock_is_accepted(tmp_path):
    url = f"https://example.org/nixpkgs-{REV}.tar.gz"
    prof = tmp_path / "tb.yaml"
    prof.write_text(f"nixpkgs:\n  url: {url}\n  sha256: {NAR}\npackages: [hello]\n")
    out = tmp_path / "out"
    write_rendered(load_profile(str(prof)), out)
    assert f'inputs.nixpkgs.url = "{url}";' in (out / "flake.nix").read_text()
    r = nix("nix", "flake", "metadata", "--json", "--no-write-lock-file", f"path:{out}")
    assert "warning" not in r.stderr, r.stderr
    locked = json.loads(r.stdout)["locks"]["nodes"]["nixpkgs"]["locked"]
    assert locked == {"narHash": NAR, "type": "tarball", "url": url}


# -- the stand-in package set (the real files, entered with nix develop and nix-shell) -------

standin = pytest.importorskip("tests.support.standin")


@needs_nix
@pytest.mark.slow
def test_rendered_shell_runs_on_the_standin(tmp_path, monkeypatch):
    prof = profile_file(tmp_path / "p", "demo", {
        "packages": ["hello"],
        "python": {"version": "3.12"},
        "env": {"GREETING": "it's \"quoted\" ${not expanded}"},
        "scripts": {"greet": "echo \"greet:$GREETING:$*\"", "two-lines": "echo one\necho two"},
        "shellHook": "export HOOK_RAN=yes\n",
    })
    out = tmp_path / "out"
    write_rendered(load_profile(str(prof)), out)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.setenv("ONBOARD_PROJECT_DIR", str(project))
    check = ('hello; greet a b; two-lines; echo "$HOOK_RAN/$ONBOARD_PROFILE"; '
             'echo "$VIRTUAL_ENV"; python -c "import sys; print(sys.prefix)"')
    expected = ["hello: Hello, world!", "greet:it's \"quoted\" ${not expanded}:a b", "one", "two",
                "yes/demo", str(project / ".venv"), str(project / ".venv")]
    r = standin.nix_develop(out, ["bash", "-c", check])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected
    r = standin.nix_shell(out / "shell.nix", check)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected
    # a directory in the venv's place that is not a virtualenv is never cleared
    other = tmp_path / "other"
    (other / ".venv").mkdir(parents=True)
    (other / ".venv" / "notes.txt").write_text("mine\n")
    monkeypatch.setenv("ONBOARD_PROJECT_DIR", str(other))
    r = standin.nix_shell(out / "shell.nix", 'echo "venv=$VIRTUAL_ENV"')
    assert r.returncode == 0 and r.stdout.strip() == "venv=", r.stderr
    assert "was not made by onboard" in r.stderr and "left alone" in r.stderr
    assert os.listdir(other / ".venv") == ["notes.txt"]
    # nor is the user's own virtualenv made from another Python
    (other / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (other / ".venv" / "bin").mkdir()
    (other / ".venv" / "bin" / "python").symlink_to("/bin/sh")  # any other interpreter
    r = standin.nix_shell(out / "shell.nix", 'echo "venv=$VIRTUAL_ENV"')
    assert r.returncode == 0 and "was not made by onboard" in r.stderr, r.stderr
    assert sorted(os.listdir(other / ".venv")) == ["bin", "notes.txt", "pyvenv.cfg"]
    # the one onboard made carries its marker
    assert (project / ".venv" / ".onboard-venv").exists()


@needs_nix
@pytest.mark.slow
def test_standin_refuses_unfree_packages_not_in_the_list(tmp_path):
    prof = profile_file(tmp_path / "p", "fe", {"packages": ["google-chrome", "vscode"], "allowUnfree": True,
                                               "unfree": ["google-chrome"]})
    out = tmp_path / "out"
    write_rendered(load_profile(str(prof)), out)
    r = standin.nix_shell(out / "shell.nix", "true")
    assert r.returncode != 0 and "vscode" in r.stderr and "unfree" in r.stderr
    prof = profile_file(tmp_path / "p", "fe", {"packages": ["google-chrome", "vscode"], "allowUnfree": True,
                                               "unfree": ["google-chrome", "vscode"]})
    write_rendered(load_profile(str(prof)), out)
    r = standin.nix_shell(out / "shell.nix", "command -v google-chrome-stable code >/dev/null && echo ok")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


# -- CLI --------------------------------------------------------------------------------------

def test_cli_render_twice_same_bytes_dry_run_writes_nothing(tmp_path, isolated_home):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b):
        r = run_onboard("profiles", "render", "science", "--out", str(d), cwd=str(ROOT))
        assert r.returncode == 0, r.stderr
    assert snapshot(a) == snapshot(b)
    r = run_onboard("profiles", "render", "science", "--out", str(c), "--dry-run", "--json", cwd=str(ROOT))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == [
        str(c / f) for f in ("bin/blas-check", "bin/lab", "flake.lock", "flake.nix", "python.nix", "shell.nix")]
    assert not c.exists()
    assert snapshot(isolated_home) == {}
    r = run_onboard("profiles", "render", "no-such", "--out", str(c), cwd=str(ROOT))
    assert r.returncode == 1 and "no profile named `no-such`" in r.stderr and not c.exists()
