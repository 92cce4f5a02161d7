"""installer/bootstrap.sh, run for real in a temporary HOME with this checkout as the source.

pip installs the pinned, hash-checked lock from a wheelhouse the test downloads once from the
package index (`--no-index --find-links` through ONBOARD_BOOTSTRAP_PIP_ARGS), so the install
itself needs no network. HOME is compared file by file before the first run and after each
uninstall.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "installer" / "bootstrap.sh"
LOCK = ROOT / "installer" / "requirements.lock"
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, mode and content (or link target)."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def run(*args: str, env: dict, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, cwd=cwd, text=True, capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def ok(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert p.returncode == 0, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    return p


def pins() -> dict[str, str]:
    return {m.group(1).lower().replace("_", "-"): m.group(2)
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", LOCK.read_text(), re.M)}


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """The lock's files for this machine, fetched once with pip (hash-checked on the way) and
    shared by the test workers."""
    import fcntl

    shared = tmp_path_factory.getbasetemp().parent
    wh = shared / "bootstrap-wheelhouse"
    with open(shared / "bootstrap-wheelhouse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (wh / ".complete").exists():
            shutil.rmtree(wh, ignore_errors=True)
            p = subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                                "--no-cache-dir", "--no-deps", "--require-hashes", "--only-binary=:all:",
                                "-r", str(LOCK), "-d", str(wh)], text=True, capture_output=True, timeout=300)
            if p.returncode != 0:
                pytest.fail(f"could not fetch the locked wheels from the package index:\n{p.stderr[-2000:]}")
            (wh / ".complete").write_text("")
    return wh


@pytest.fixture
def env(isolated_home, wheelhouse) -> dict:
    e = dict(os.environ)
    e.pop("CI", None)
    e.pop("ONBOARD_TEAM_CONFIG", None)
    # offline from the wheelhouse; no byte-compiling at install time (Python compiles on import)
    e["ONBOARD_BOOTSTRAP_PIP_ARGS"] = f"--no-index --find-links {wheelhouse} --no-compile"
    e["PIP_CONFIG_FILE"] = os.devnull  # the machine's pip.conf (extra indexes, constraints) stays out
    # pip runs `rustc --version` to describe the machine in its requests; rustup's proxy would
    # create ~/.rustup in the test's empty HOME (a real HOME with rustup has it), so keep it off PATH
    e["PATH"] = os.pathsep.join(d for d in e["PATH"].split(os.pathsep)
                                if d and not os.path.exists(os.path.join(d, "rustup")))
    return e


def test_embedded_lock_matches_requirements_lock():
    text = SCRIPT.read_text()
    begin, end = "# BEGIN requirements.lock\n", "# END requirements.lock\n"
    embedded = text[text.index(begin) + len(begin):text.index(end)]
    assert embedded == LOCK.read_text()
    # every requirement is pinned and carries hashes; the runtime dependencies are all there
    blocks = re.split(r"\n(?=[A-Za-z])", "\n".join(l for l in embedded.splitlines() if not l.startswith("#")))
    for block in filter(None, (b.strip() for b in blocks)):
        assert re.match(r"^[A-Za-z0-9_.-]+==\S+ \\", block), block
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", block), block
    assert {"textual", "rich", "pyyaml", "psutil", "requests", "setuptools"} <= set(pins())


def prepare_home(home: Path) -> dict:
    """Something of the user's already in ~/.local/bin: that directory must survive uninstall."""
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "their-tool").write_text("#!/bin/sh\n")
    return snapshot(home)


def test_install_rerun_and_uninstall_leave_home_as_it_was(isolated_home, env):
    home = isolated_home
    before = prepare_home(home)
    venv = home / ".local" / "share" / "onboard" / "venv"
    launcher = home / ".local" / "bin" / "onboard"
    marker = home / ".local" / "share" / "onboard" / "bootstrap.marker"
    checkout_before = {p for p in ("build", "onboard.egg-info") if (ROOT / p).exists()}

    first = ok(run("--python", BASE_PYTHON, env=env, cwd=home))
    out = first.stdout
    assert f"virtualenv: creating {venv}" in out
    assert "installing pinned, hash-checked dependencies" in out
    assert f"source: {ROOT}" in out
    assert (venv / "pyvenv.cfg").is_file()
    assert os.access(launcher, os.X_OK)
    version = subprocess.run([str(launcher), "--version"], env=env, text=True, capture_output=True)
    assert version.returncode == 0 and re.fullmatch(r"onboard \d+\.\d+\.\d+\S*\n", version.stdout)
    # no terminal: it did not start the TUI, and says what to run, with the team's default profile
    assert "no terminal here, so onboard was not started" in out
    assert "onboard install --profile python-web --yes" in out
    assert f"{home}/.local/bin is not on your PATH" in out
    # the locked versions, from the lock, in the venv
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze",
                                "--disable-pip-version-check"], text=True, capture_output=True, env=env).stdout
    got = {n.lower().replace("_", "-"): v for n, v in (x.split("==") for x in installed.split() if "==" in x)}
    for name, ver in pins().items():
        assert got.get(name) == ver, f"{name}: {got.get(name)} != {ver}"
    # the marker names exactly what was created; the pre-existing ~/.local/bin is not in it
    lines = marker.read_text().splitlines()
    assert f"venv={venv}" in lines and f"launcher={launcher}" in lines
    assert [x for x in lines if x.startswith("created=")] == [
        f"created={home}/.local/share", f"created={home}/.local/share/onboard"]
    launcher_text = launcher.read_text()
    assert launcher_text.startswith("#!/bin/sh\n") and f"exec '{venv}/bin/onboard' \"$@\"" in launcher_text
    assert f"ONBOARD_DEFAULT_TEAM_CONFIG:-'{ROOT}/onboard.yaml'" in launcher_text
    # built from a copy: the checkout got no build/ or *.egg-info
    assert {p for p in ("build", "onboard.egg-info") if (ROOT / p).exists()} == checkout_before

    # re-run: an upgrade in place (same venv, onboard reinstalled, launcher untouched)
    venv_ino = venv.stat().st_ino
    st = launcher.stat()
    init_py = next((venv / "lib").glob("python3*/site-packages/onboard/__init__.py"))
    init_ino = init_py.stat().st_ino
    second = ok(run("--python", BASE_PYTHON, "--no-run", env=env, cwd=home))
    assert f"virtualenv: {venv} (exists: upgrading in place)" in second.stdout
    assert venv.stat().st_ino == venv_ino
    st2 = launcher.stat()
    assert (st2.st_ino, st2.st_mtime_ns, launcher.read_text()) == (st.st_ino, st.st_mtime_ns, launcher_text)
    assert sorted(p.name for p in launcher.parent.iterdir()) == ["onboard", "their-tool"]
    assert init_py.stat().st_ino != init_ino  # onboard itself was installed again
    assert "done. Next: onboard   (or headless: onboard install --profile python-web --yes)" in second.stdout

    # every file the package needs at run time was installed (the terminal UI's stylesheets...)
    site = init_py.parent
    wanted = {str(p.relative_to(ROOT / "onboard")) for p in (ROOT / "onboard").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)}
    assert wanted <= {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}

    # a broken team config: onboard is installed, the problems are shown as file:line:col
    bad = home / "team" / "onboard.yaml"
    bad.parent.mkdir()
    bad.write_text("team: Data\ndefault_profil: web\n")
    broken = run("--python", BASE_PYTHON, "--team-config", str(bad), env=env, cwd=home)
    assert broken.returncode == 1
    assert f"{bad}:2:1: unknown key `default_profil`; did you mean `default_profile`?" in broken.stderr
    assert "the team config has the problems above" in broken.stdout
    shutil.rmtree(home / "team")

    removed = ok(run("--uninstall", env=env, cwd=home))
    assert "onboard is uninstalled" in removed.stdout
    assert snapshot(home) == before
    again = ok(run("--uninstall", env=env, cwd=home))
    assert "nothing to remove" in again.stdout


def test_onboard_uninstall_removes_its_own_venv_last(isolated_home, env):
    """`onboard uninstall`, run by the installed onboard itself, removes its venv and launcher."""
    home = isolated_home
    before = prepare_home(home)
    venv = home / ".local" / "share" / "onboard" / "venv"
    launcher = home / ".local" / "bin" / "onboard"
    # piped into sh on a terminal, as from the wiki: it installs, then starts the terminal UI
    screen = run_on_terminal(f"cat {shlex.quote(str(SCRIPT))} | sh -s -- --from {shlex.quote(str(ROOT))} "
                             f"--python {shlex.quote(BASE_PYTHON)} --profile science", env, home)
    assert "starting onboard with profile science" in screen
    assert "__EXITED__ rc=0" in screen
    assert venv.is_dir()
    dry = subprocess.run([str(launcher), "uninstall", "--dry-run"], env=env, text=True, capture_output=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    assert dry.returncode == 0 and f"remove onboard's virtualenv {venv}" in dry.stdout and venv.is_dir()
    kept = subprocess.run([str(launcher), "uninstall", "--yes", "--keep-onboard"], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
    assert kept.returncode == 0 and venv.is_dir() and launcher.is_file()
    gone = subprocess.run([str(launcher), "uninstall", "--yes"], env=env, text=True, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    assert gone.returncode == 0, gone.stderr
    items = [x for x in gone.stdout.splitlines() if x.startswith(" - ")]
    assert items[-3:] == [  # onboard itself goes last
        f" - remove onboard's virtualenv {venv}",
        f" - remove the onboard launcher {launcher}",
        " - remove the bootstrap's marker and the directories it created (when empty)",
    ]
    assert "everything onboard did is undone" in gone.stderr
    assert snapshot(home) == before


def run_on_terminal(command: str, env: dict, cwd: Path, timeout: float = 240) -> str:
    """Run `command` in a tmux pane (a real terminal); press q once the terminal UI's welcome
    screen shows; return what the pane shows at the end."""
    import time

    sock = f"onboard-bootstrap-{os.getpid()}"
    keep = ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "PATH",
            "ONBOARD_BOOTSTRAP_PIP_ARGS", "PIP_CONFIG_FILE", "NO_COLOR", "NIX_CONFIG")
    envs = " ".join(f"{k}={shlex.quote(env[k])}" for k in keep if k in env)
    inner = f"cd {shlex.quote(str(cwd))} && env -u CI -u COLUMNS -u LINES {envs} TERM=xterm-256color sh -c {shlex.quote(command)}; " \
            "echo __EXITED__ rc=$?; sleep 30"
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-s", "boot", "-x", "100", "-y", "30", inner],
                   check=True, env=env)
    screen, pressed = "", False
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-S", "-200", "-t", "boot"],
                                    capture_output=True, text=True).stdout
            if "__EXITED__" in screen:
                break
            if not pressed and "Welcome" in screen:
                subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "boot", "q"], check=True)
                pressed = True
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    assert pressed, f"no welcome screen on the terminal:\n{screen}"
    return screen


def test_uninstall_refuses_while_onboard_changes_are_recorded(isolated_home, env):
    home = isolated_home
    share = home / ".local" / "share" / "onboard"
    share.mkdir(parents=True)
    (share / "bootstrap.marker").write_text(f"format=1\nvenv={share}/venv\nlauncher={home}/.local/bin/onboard\n")
    receipts = home / ".local" / "state" / "onboard" / "receipts"
    receipts.mkdir(parents=True)
    (receipts / "onboard.json").write_text("{}")
    p = run("--uninstall", env=env, cwd=home)
    assert p.returncode == 1
    assert "onboard's changes to this machine are still recorded (1 receipt(s)" in p.stderr
    assert "onboard uninstall" in p.stderr and (share / "bootstrap.marker").exists()
    p = ok(run("--uninstall", "--keep-changes", env=env, cwd=home))
    assert not (share / "bootstrap.marker").exists() and (receipts / "onboard.json").exists()


def test_refuses_to_overwrite_what_is_not_its_own(isolated_home, env):
    home = isolated_home
    launcher = home / ".local" / "bin" / "onboard"
    launcher.parent.mkdir(parents=True)
    launcher.write_text("#!/bin/sh\necho someone else's onboard\n")
    before = snapshot(home)
    p = run("--python", BASE_PYTHON, "--no-run", env=env, cwd=home)
    assert p.returncode == 1
    assert f"{launcher} exists and was not written by this installer" in p.stderr
    assert snapshot(home) == before  # refused before changing anything


def restricted_path(tmp_path: Path, tools: tuple[str, ...]) -> Path:
    """A PATH directory with only dash and coreutils (and the given extra tools)."""
    d = tmp_path / "bin"
    d.mkdir()
    coreutils = ("cat", "chmod", "cp", "dirname", "id", "ln", "ls", "mkdir", "mktemp", "mv", "rm", "rmdir",
                 "uname", "env", "pwd")
    for name in ("dash",) + coreutils + tools:
        src = shutil.which(name)
        assert src, name
        os.symlink(src, d / name)
    os.symlink(shutil.which("dash"), d / "sh")
    return d


@pytest.mark.parametrize("release, line", [
    ("ID=debian\nVERSION_ID=\"12\"\n", "sudo apt-get update && sudo apt-get install -y python3 python3-venv"),
    ("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"20.04\"\n", "sudo add-apt-repository -y ppa:deadsnakes/ppa"),
    ("ID=fedora\nVERSION_ID=40\n", "sudo dnf install -y python3"),
    ("ID=rocky\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n", "sudo dnf install -y python3.11"),
    ("ID=arch\n", "sudo pacman -S --needed python"),
    ("ID=alpine\n", "sudo apk add python3"),
    ("ID=plan9\n", "https://www.python.org/downloads/"),
])
def test_without_python_it_says_how_to_get_it(tmp_path, isolated_home, release, line):
    bindir = restricted_path(tmp_path, ())
    osr = tmp_path / "os-release"
    osr.write_text(release)
    env = {"HOME": str(isolated_home), "PATH": str(bindir), "ONBOARD_OS_RELEASE": str(osr)}
    p = subprocess.run([str(bindir / "dash"), str(SCRIPT), "--no-run"], env=env, text=True, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 1
    assert "onboard needs Python 3.10 or newer, and none is on PATH" in p.stderr
    assert line in p.stderr
    assert list(isolated_home.iterdir()) == []  # nothing created


def test_a_too_old_python_is_named(tmp_path, isolated_home):
    bindir = restricted_path(tmp_path, ())
    old = bindir / "python3"
    old.write_text("#!/bin/sh\n[ \"$1\" = -c ] && case $2 in *print*) echo 3.8; exit 0;; *) exit 1;; esac\nexit 1\n")
    old.chmod(0o755)
    env = {"HOME": str(isolated_home), "PATH": str(bindir), "ONBOARD_OS_RELEASE": "/nonexistent"}
    p = subprocess.run([str(bindir / "dash"), str(SCRIPT)], env=env, text=True, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30)
    assert p.returncode == 1 and f"too old: {old} (3.8)" in p.stderr


def test_posix_sh_clean():
    assert subprocess.run(["dash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    sc = subprocess.run(["shellcheck", "-s", "sh", str(SCRIPT)], capture_output=True, text=True)
    assert sc.returncode == 0, sc.stdout


def test_help_from_dash_and_from_a_pipe(isolated_home):
    env = dict(os.environ)
    a = subprocess.run(["dash", str(SCRIPT), "--help"], env=env, capture_output=True, text=True)
    assert a.returncode == 0 and a.stdout.startswith("Usage: sh bootstrap.sh [OPTIONS]")
    # curl -fsSL URL | sh -s -- --help
    b = subprocess.run(["sh", "-s", "--", "--help"], input=SCRIPT.read_text(), env=env, capture_output=True,
                       text=True)
    assert b.returncode == 0 and b.stdout == a.stdout
    assert "--uninstall" in a.stdout and "--from" in a.stdout and "--no-run" in a.stdout
    bad = subprocess.run(["dash", str(SCRIPT), "--frmo", "x"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option: --frmo" in bad.stderr
    missing = subprocess.run(["dash", str(SCRIPT), "--profile"], env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "--profile needs a value" in missing.stderr
    assert list(isolated_home.iterdir()) == []


def test_a_cut_short_download_runs_nothing(tmp_path, isolated_home):
    text = SCRIPT.read_text()
    half = text[: text.index("main() {") + 200]  # the function is never called
    p = subprocess.run(["sh", "-s", "--", "--uninstall"], input=half, capture_output=True, text=True,
                       env=dict(os.environ))
    assert "onboard is uninstalled" not in p.stdout and "nothing to remove" not in p.stdout
    assert list(isolated_home.iterdir()) == []
