"""onboard verify end to end: real Nix, the stand-in package set. Two projects with the same
profile give records that compare equal; a changed pin, package or lock is named as that; a
tampered store path (a copy bind-mounted over it in a private mount namespace: the host's
store is never altered) and an edited or added venv file are named by the self-check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import standin
from tests.support.pyindex import Index

ROOT = standin.ROOT
UV = ROOT / ".venv" / "bin" / "uv"
pytestmark = [pytest.mark.skipif(not standin.have_nix(), reason="needs nix"), pytest.mark.slow]


class Home:
    """A HOME with projects; each onboard run sees only it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.home = tmp / "home"
        self.home.mkdir()

    def project(self, name: str, web: str = standin.WEB) -> Path:
        p = self.tmp / name
        (p / "profiles").mkdir(parents=True)
        (p / ".git").mkdir()
        (p / "profiles" / "base.yaml").write_text(standin.BASE)
        (p / "profiles" / "web.yaml").write_text(web)
        return p

    def env(self, **extra: str) -> dict[str, str]:
        h = self.home
        env = standin.onboard_standin_env(HOME=str(h), XDG_CACHE_HOME=str(h / ".cache"),
                                          XDG_STATE_HOME=str(h / ".local/state"), XDG_CONFIG_HOME=str(h / ".config"),
                                          PYTHONPATH=str(ROOT), NO_COLOR="1")
        for k in ("ONBOARD_CACHE_DIR", "ONBOARD_STATE_DIR", "ONBOARD_NIX_BACKEND", "CI"):
            env.pop(k, None)
        env.update(extra)
        return env

    def onboard(self, p: Path, *args: str, prefix: tuple[str, ...] = (), **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "onboard", *args], capture_output=True, text=True,
                              env=self.env(**extra), cwd=str(p), timeout=300, stdin=subprocess.DEVNULL)

    def build(self, p: Path, name: str = "web", **extra: str) -> None:
        r = self.onboard(p, "shell", name, "--print-env", **extra)
        assert r.returncode == 0, r.stderr

    def record(self, p: Path, out: Path, name: str = "web", **extra: str) -> dict:
        r = self.onboard(p, "verify", name, "--out", str(out), **extra)
        assert r.returncode == 0, r.stdout + r.stderr
        return json.loads(out.read_text())


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def test_nothing_built_says_how_to_build(home):
    p = home.project("a")
    r = home.onboard(p, "verify", "web")
    assert r.returncode == 1 and "onboard shell web --print-env" in r.stderr


def test_two_projects_give_records_that_compare_equal(home, tmp_path):
    a, b = home.project("a"), home.project("b")
    home.build(a)
    home.build(b)
    ra = home.record(a, tmp_path / "a.json")
    rb = home.record(b, tmp_path / "b.json")
    assert ra["closure"] == rb["closure"] and len(ra["closure"]) >= 4
    assert all(v.startswith("sha256-") for v in ra["closure"].values())
    assert ra["local"]["project"] != rb["local"]["project"]
    r = home.onboard(a, "verify", "web", "--against", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the same environment" in r.stdout
    r = home.onboard(a, "--json", "verify", "web", "--against", str(tmp_path / "b.json"))
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1 and doc["command"] == "verify" and doc["same"] is True
    # a different Nix alone is context; --strict counts it
    rb["context"]["nix"] = "nix (Nix) 2.99.0"
    (tmp_path / "b.json").write_text(json.dumps(rb))
    assert home.onboard(a, "verify", "web", "--against", str(tmp_path / "b.json")).returncode == 0
    r = home.onboard(a, "verify", "web", "--against", str(tmp_path / "b.json"), "--strict")
    assert r.returncode == 1 and "2.99.0" in r.stdout


def test_a_changed_pin_names_the_pin_and_the_package(home, tmp_path):
    a = home.project("a")
    home.build(a)
    home.record(a, tmp_path / "before.json")
    other = tmp_path / "nixpkgs"
    shutil.copytree(standin.STANDIN, other, ignore=shutil.ignore_patterns("uv-bin"))
    nix = other / "default.nix"
    text = nix.read_text()
    assert 'pname = "hello"; version = "2.12"' in text
    nix.write_text(text.replace('pname = "hello"; version = "2.12"', 'pname = "hello"; version = "2.13"'))
    home.build(a, ONBOARD_NIXPKGS_OVERRIDE=str(other))
    r = home.onboard(a, "--json", "verify", "web", "--against", str(tmp_path / "before.json"),
                     ONBOARD_NIXPKGS_OVERRIDE=str(other))
    assert r.returncode == 1, r.stderr
    diffs = json.loads(r.stdout)["comparison"]["differences"]
    assert diffs[0]["group"] == "pin" and diffs[0]["what"] == "nixpkgs override"
    pkgs = [(d["what"], d["here"], d["there"]) for d in diffs if d["group"] == "package"]
    assert pkgs == [("hello", "2.13", "2.12")]
    assert not [d for d in diffs if d["group"] == "profile"]


def test_a_changed_package_is_named(home, tmp_path):
    a = home.project("a")
    home.build(a)
    home.record(a, tmp_path / "before.json")
    (a / "profiles" / "web.yaml").write_text(standin.WEB.replace("[postgresql_16, redis]", "[postgresql_15, redis]"))
    r = home.onboard(a, "verify", "web")
    assert r.returncode == 1 and "changed since its environment was built" in r.stderr
    home.build(a)
    r = home.onboard(a, "--json", "verify", "web", "--against", str(tmp_path / "before.json"))
    diffs = json.loads(r.stdout)["comparison"]["differences"]
    assert ("postgresql", "15.7", "16.3") in [(d["what"], d["here"], d["there"]) for d in diffs]
    assert {d["group"] for d in diffs} <= {"profile", "package", "store path"}
    assert not [d for d in diffs if d["group"] == "pin"]


def _can_unshare() -> bool:
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(shutil.which("unshare") is None or not _can_unshare(), reason="needs a private mount namespace")
def test_a_tampered_store_path_is_named(home, tmp_path):
    a = home.project("a")
    home.build(a)
    rec = home.record(a, tmp_path / "r.json")
    hello = next(p for p in rec["closure"] if p.endswith("-hello-2.12"))
    copy = tmp_path / "copy"
    shutil.copytree(hello, copy, symlinks=True)
    for d, _dirs, files in os.walk(copy):
        os.chmod(d, 0o755)
    script = copy / "bin" / "hello"
    if script.is_symlink():
        script.unlink()
    script.write_text("#!/bin/sh\necho tampered\n")
    prog = f'mount --bind "$1" "$2" && shift 2 && exec "$@"'
    r = home.onboard(a, "verify", "web", prefix=("unshare", "--mount", "--propagation", "private",
                                                 "sh", "-c", prog, "sh", str(copy), hello))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"store path {hello}: its contents do not match" in r.stdout
    assert "Hello" in Path(hello, "bin", "hello").read_text() or Path(hello, "bin", "hello").is_symlink()
    assert home.onboard(a, "verify", "web").returncode == 0  # outside the namespace: untouched


# -- a locked Python -------------------------------------------------------------------------

PY = ("name: py\n" + standin.PIN + "python:\n  version: \"3.12\"\n  lock: uv.lock\n")


@pytest.fixture
def pyproj(home, tmp_path):
    if not UV.exists():
        pytest.skip("needs .venv/bin/uv")
    dest = standin.STANDIN / "uv-bin"
    if not dest.exists() or dest.stat().st_size != UV.stat().st_size:
        shutil.copy2(UV, dest)
    index = Index(tmp_path / "index")
    index.add("tinyalpha", "1.0")
    index.add("tinybeta", "2.0")
    index.start()
    p = tmp_path / "pyp"
    (p / "profiles").mkdir(parents=True)
    (p / "profiles" / "py.yaml").write_text(PY)
    subprocess.run(["git", "init", "-q", str(p)], check=True)

    def lock(deps: str) -> None:
        (p / "pyproject.toml").write_text(f'[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.8"\n'
                                          f"dependencies = [{deps}]\n")
        env = {"PATH": os.environ["PATH"], "HOME": str(home.home), "UV_NO_CONFIG": "1",
               "UV_CACHE_DIR": str(tmp_path / "uvcache")}
        r = subprocess.run([str(UV), "lock", "-q", "--index-url", index.url], cwd=p, env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

    try:
        yield p, lock
    finally:
        index.stop()


def test_the_venv_is_checked_file_by_file_and_the_lock_compared(home, pyproj, tmp_path):
    p, lock = pyproj
    lock('"tinyalpha==1.0"')
    home.build(p, "py")
    rec = home.record(p, tmp_path / "one.json", "py")
    assert rec["python"]["packages"] == {"tinyalpha": "1.0"}
    assert "tinyalpha/__init__.py" in rec["python"]["files"]
    site = next((p / ".venv").resolve().glob("lib/python*/site-packages"))
    (site / "tinyalpha" / "__init__.py").write_text("VERSION = 'edited'\n")
    fake = site / "sneaky-9.0.dist-info"
    fake.mkdir()
    (fake / "METADATA").write_text("Name: sneaky\nVersion: 9.0\n")
    (fake / "RECORD").write_text("sneaky-9.0.dist-info/METADATA,,\nsneaky.py,,\n")
    (site / "sneaky.py").write_text("")
    (site / "stray.py").write_text("")
    r = home.onboard(p, "verify", "py")
    assert r.returncode == 1
    assert "tinyalpha/__init__.py was changed" in r.stdout
    assert "sneaky 9.0 is installed but not in the lock" in r.stdout
    assert "stray.py is in the virtualenv but no locked wheel installs it" in r.stdout
    assert "sneaky.py" not in r.stdout.replace("sneaky-9.0", "")
    r = home.onboard(p, "--json", "verify", "py", "--against", str(tmp_path / "one.json"))
    diffs = json.loads(r.stdout)["comparison"]["differences"]
    assert ("venv file", "tinyalpha/__init__.py") in [(d["group"], d["what"]) for d in diffs]
    # a new lock: named as the lock and the package it adds
    lock('"tinyalpha==1.0", "tinybeta==2.0"')
    home.build(p, "py")
    r = home.onboard(p, "--json", "verify", "py", "--against", str(tmp_path / "one.json"))
    assert r.returncode == 1
    diffs = json.loads(r.stdout)["comparison"]["differences"]
    assert diffs[0]["group"] == "lock", diffs
    assert {d["group"] for d in diffs} <= {"lock", "python package", "package", "store path"}, diffs
    assert ("python package", "tinybeta", "2.0", "") in [(d["group"], d["what"], d["here"], d["there"]) for d in diffs]
    assert home.onboard(p, "verify", "py").returncode == 0, "a fresh venv for the new lock is intact"


def test_a_fallback_and_a_held_generation_are_said(home, tmp_path):
    a = home.project("a")
    home.build(a)
    web = a / "profiles" / "web.yaml"
    web.write_text(standin.WEB + "packages: [\n")  # does not load: the shell falls back
    assert home.onboard(a, "shell", "web", "--", "true").returncode == 0
    r = home.onboard(a, "verify", "web")
    assert r.returncode == 0, r.stderr
    assert "last good environment" in r.stderr and "ONBOARD_ENV_STALE=1" in r.stderr
    web.write_text(standin.WEB)
    assert home.onboard(a, "switch", "web").returncode == 0
    web.write_text(standin.WEB.replace("[postgresql_16, redis]", "[postgresql_16]"))
    assert home.onboard(a, "switch", "web").returncode == 0
    assert home.onboard(a, "rollback").returncode == 0
    r = home.onboard(a, "--json", "verify")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["record"]["environment"]["generation"] == 1
    assert any(p.endswith("-redis-7.2.4") for p in doc["record"]["closure"])
    assert "held at generation 1" in r.stderr


_FAST = """
import sys
from onboard.cli.main import main
rc = main(sys.argv[1:])
heavy = sorted(m for m in ("yaml", "onboard.core.profiles.loader", "onboard.core.profiles.render") if m in sys.modules)
print("RC", rc, "HEAVY", ",".join(heavy) or "-")
"""


def _fast(home: Home, p: Path, *args: str) -> tuple[int, str]:
    r = subprocess.run([sys.executable, "-c", _FAST, *args], capture_output=True, text=True, env=home.env(),
                       cwd=str(p), timeout=300, stdin=subprocess.DEVNULL)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RC ")][-1].split()
    return int(line[1]), line[3]


def test_a_fresh_environment_is_recorded_from_its_build_without_loading_the_profile(home, tmp_path):
    """The build's facts.json describes the environment while its identity holds: verify
    reads no YAML and renders nothing, and its record is the one the profile itself gives."""
    p = home.project("a")
    home.build(p)
    rc, heavy = _fast(home, p, "verify", "web", "--out", str(tmp_path / "fast.json"))
    assert (rc, heavy) == (0, "-")
    fast = json.loads((tmp_path / "fast.json").read_text())
    # a comment-only edit keeps the identity, but the stats changed: the profile is loaded
    web = p / "profiles" / "web.yaml"
    web.write_text(web.read_text() + "# a comment\n")
    rc, heavy = _fast(home, p, "verify", "web", "--out", str(tmp_path / "slow.json"))
    assert rc == 0 and "yaml" in heavy
    slow = json.loads((tmp_path / "slow.json").read_text())
    for key in ("profile", "rendered", "pin", "closure", "shell"):
        assert fast[key] == slow[key], key
    assert fast["rendered"]["files"] and fast["profile"]["resolved"]["packages"]
    # a real change: `onboard shell` would build first, and verify says so
    web.write_text(web.read_text().replace("packages: [", "packages: [jq, ", 1))
    r = home.onboard(p, "verify", "web")
    assert r.returncode == 1 and "changed since its environment was built" in r.stderr, r.stderr


def test_early_checks_leave_no_nix_process_when_the_command_stops_first(home, tmp_path):
    """The checks started before argparse are killed when the command ends without them
    (here: a usage error after `verify`)."""
    p = home.project("a")
    home.build(p)
    code = ("import os, sys\nfrom onboard.core.verify import early\nearly.start(['web'])\n"
            "print(' '.join(str(s.pid) for _r, _c, _o, procs in early.STARTED for s in procs.values()))\n"
            "sys.exit(2)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=home.env(), cwd=str(p),
                       timeout=120)
    pids = [int(x) for x in r.stdout.split()]
    assert len(pids) == 2, r.stdout + r.stderr
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or \
            Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z", f"nix process {pid} left running"


@pytest.mark.skipif(shutil.which("unshare") is None or not _can_unshare() or os.geteuid() != 0,
                    reason="needs (namespace) root for a private mount namespace")
def test_two_isolated_stores_that_each_build_it_are_the_same_environment(home, tmp_path):
    """Each store builds the environment itself: the shell's own record in the store (what
    `nix print-dev-env --profile` keeps, which carries the time it was made: EPOCHREALTIME)
    differs, and is machine-local, labelled so in the record and not compared."""
    import tempfile

    a = home.project("a")
    home.build(a)
    ra = home.record(a, tmp_path / "a.json")
    root = ra["shell"]["outputs"][0]
    assert ra["local"]["machine_local"] == {root: "the shell's record of its build (nix print-dev-env --profile)"}
    base = Path(tempfile.mkdtemp(prefix="ob-verify2-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        (base / "nix").mkdir()
        b = base / "b"
        shutil.copytree(a, b)
        h2 = base / "home"
        ns = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
              'mount --bind "$1" /nix && shift && exec "$@"', "sh", str(base / "nix"))
        extra = dict(HOME=str(h2), XDG_CACHE_HOME=str(h2 / ".cache"), XDG_STATE_HOME=str(h2 / ".local/state"),
                     XDG_CONFIG_HOME=str(h2 / ".config"), NIX_REMOTE="")
        r = home.onboard(b, "shell", "web", "--print-env", prefix=ns, **extra)
        assert r.returncode == 0, r.stderr
        assert os.listdir(base / "nix" / "store"), "the build did not use the empty store"
        r = home.onboard(b, "--json", "verify", "web", "--against", str(tmp_path / "a.json"), prefix=ns, **extra)
        doc = json.loads(r.stdout)
        rb = doc["record"] if "record" in doc else None
        assert r.returncode == 0 and doc["same"] is True, r.stdout + r.stderr
        if rb is not None:  # built again there: the same path, another NAR hash, said as machine-local
            assert rb["closure"].keys() == ra["closure"].keys()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
