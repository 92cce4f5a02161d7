"""The suite as a normal user: the pytest process re-runs itself inside a user namespace
(`unshare --user --map-root-user --mount`) where it is uid 0, with a /nix of its own.

As a normal user, Debian's nix-bin talks to the nix-daemon socket of the host (group
nix-users, no daemon running) and `unshare --mount` is refused. Inside the user namespace:

- /nix is a bind mount of an empty directory this run owns, so the local store is writable
  and Nix runs single-user (no daemon, NIX_REMOTE unset);
- /etc is a bind mount of a copy of it, owned by the namespace's root as the host's /etc is
  by root: code that checks /etc is writable, or edits it in a test's own namespace, sees
  what it sees as root. The files only real root can read (shadow, gshadow, sudoers) are
  not copied; shadow and gshadow are rebuilt from passwd and group with locked passwords,
  so useradd and groupadd find the files they keep in step. Its nix.conf adds
  `build-users-group =`: only uid 0 is mapped, so Nix builds as that uid instead of as the
  nixbld users (whose uids and gid do not exist there: chown to them fails with EINVAL);
- /tmp is a directory of the run's own: the host's /tmp holds root's pytest-of-root and
  tmux-0, which belong to an unmapped uid there; the paths stay as short as in a root run
  (unix socket paths are limited to 107 bytes);
- USER and LOGNAME say root, as getpwuid(0) does there;
- mount namespaces, chown to uid 0 and useradd/groupadd into a copy of /etc work as for root
  (tests/support/install_ns.py copies this /etc with `cp -a`, as a root run does).

What still needs real root is skipped with a reason (REAL_ROOT_TESTS): chown to
any uid or gid other than 0, e.g. a daemon-mode install that hands /nix to the nixbld users.

The host's /nix, /etc and /tmp are never written: the mounts exist only in the namespace, and the
run's directory is removed when the run ends.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

#: set inside the namespace: the run's directory
MARK = "ONBOARD_TEST_USERNS"

#: start of the reason printed by tests that need real root
REAL_ROOT = "needs real root"

_WHY = ("a non-root run maps only uid 0 in its user namespace (unshare --map-root-user), "
        "so chown to any other uid or gid fails with EINVAL")
_DAEMON = "a daemon-mode install chowns /nix/store to the nixbld group and builds as the nixbld users"

#: tests a non-root run skips (file::function, every parametrization), and why
REAL_ROOT_TESTS = {
    "tests/test_install_e2e.py::test_daemon_mode_without_init_system": _DAEMON,
    "tests/test_install_kill.py::test_daemon_mode_killed_then_resumed_and_uninstalled": _DAEMON,
    "tests/test_install_kill.py::test_daemon_killed_at_its_spawn_is_found_again_by_rerun_and_uninstall": _DAEMON,
    "tests/test_install_e2e.py::test_daemon_mode_with_the_distributions_nixbld_group_restores_etc_byte_for_byte":
        _DAEMON,
    "tests/test_install_e2e.py::test_nix_owned_by_someone_else": "it chowns the test's /nix to nobody (uid 65534)",
    "tests/test_doctor_checks.py::test_nix_dir_ownership": "it chowns a fake /nix to uid 4242",
    "tests/test_doctor_machine.py::test_existing_nix_daemon_by_socket_and_by_config":
        "it chowns a fake /nix to uid 4242",
}


def skip_reason(nodeid: str) -> Optional[str]:
    """The reason a non-root run skips this test, or None."""
    key = nodeid.split("[", 1)[0]
    why = REAL_ROOT_TESTS.get(key)
    return f"{REAL_ROOT} ({key.rsplit('::', 1)[-1]}): {why}; {_WHY}" if why else None


ENTER = r"""
set -e
[ -d /nix ] && mount --bind "$RUN/nix" /nix
mount --bind "$RUN/etc" /etc
[ -z "$KEEP_TMP" ] && mount --bind "$RUN/tmp" /tmp
exec "$@"
"""


def inside() -> bool:
    """True in the user namespace of a non-root run (uid 0 there, but not real root)."""
    return bool(os.environ.get(MARK))


def real_root() -> bool:
    return os.geteuid() == 0 and not inside()


def should_enter() -> bool:
    return os.geteuid() != 0 and not inside()


def why_not() -> Optional[str]:
    """None when `unshare --user --map-root-user --mount` works here, else why not."""
    if not shutil.which("unshare"):
        return "no unshare (util-linux)"
    try:
        r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if r.returncode != 0:
        return (r.stderr.strip() or f"exit {r.returncode}") + \
            " (are unprivileged user namespaces turned off? see kernel.unprivileged_userns_clone)"
    return None


def _nix_version() -> tuple[int, ...]:
    if not shutil.which("nix"):
        return ()
    try:
        out = subprocess.run(["nix", "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    m = re.search(r"(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else ()


def _nix_conf(text: str) -> str:
    """nix.conf for uid 0 of the namespace: no build users (only that uid exists there)."""
    lines = [ln for ln in text.splitlines()
             if not re.match(r"\s*(build-users-group|require-drop-supplementary-groups)\s*=", ln)]
    lines += ["", "# tests: a user namespace maps only uid 0, so Nix builds as that uid, without build users",
              "build-users-group ="]
    if _nix_version() >= (2, 15):
        lines.append("require-drop-supplementary-groups = false")
    return "\n".join(lines) + "\n"


def copy_etc(dest: Path) -> None:
    """A copy of /etc the namespace's root owns (see the module's docstring)."""
    subprocess.run(["cp", "-r", "--no-dereference", "--preserve=mode,timestamps,links", "/etc", str(dest)],
                   check=False, capture_output=True)  # unreadable files are left out
    if not (dest / "passwd").is_file() or not (dest / "group").is_file():
        raise RuntimeError("could not copy /etc/passwd and /etc/group")
    for name, src, fmt in (("shadow", "passwd", "{0}:*:19000:0:99999:7:::\n"),
                           ("gshadow", "group", "{0}:*::{3}\n")):
        if (dest / name).exists() or not os.path.lexists(f"/etc/{name}"):
            continue
        rows = [ln.split(":") for ln in (dest / src).read_text().splitlines() if ln.count(":") >= 3]
        (dest / name).write_text("".join(fmt.format(*r) for r in rows))
        os.chmod(dest / name, 0o640)
    if Path("/etc/nix").is_dir():
        conf = dest / "nix" / "nix.conf"
        conf.parent.mkdir(exist_ok=True)
        try:
            text = conf.read_text()
        except OSError:
            text = "sandbox = false\n"
        conf.write_text(_nix_conf(text))


def _rmtree(path: Path) -> None:
    subprocess.run(["chmod", "-R", "u+w", str(path)], check=False, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def _needs_host_tmp(cwd: Optional[str]) -> bool:
    # and every import path (a venv may see the test dependencies of a checkout in /tmp
    # through a .pth file)
    places = [cwd or os.getcwd(), __file__, sys.executable, sys.prefix, sys.base_prefix,
              *(p for p in sys.path if p)]
    for p in places:
        real = os.path.realpath(p)
        if real == "/tmp" or real.startswith("/tmp/"):
            return True
    return False


def run_inside(argv: Sequence[str], cwd: Optional[str] = None) -> int:
    """Run ARGV in a new user + mount namespace set up as described above; its exit code."""
    run = Path(tempfile.mkdtemp(prefix=f"onboard-tests-{os.getuid()}-"))
    try:
        (run / "nix").mkdir()
        (run / "tmp").mkdir()
        copy_etc(run / "etc")
        (run / "tmp").chmod(0o1777)
        env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TMUX_TMPDIR", "TMUX", "NIX_REMOTE")}
        env.update(RUN=str(run), USER="root", LOGNAME="root", KEEP_TMP="")
        if _needs_host_tmp(cwd):  # the checkout or Python lives in /tmp: keep it, use a TMPDIR instead
            env.update(KEEP_TMP="1", TMPDIR=str(run / "tmp"), TMUX_TMPDIR=str(run / "tmp"))
        env[MARK] = str(run)
        # root's PATH: useradd, groupadd and friends live in sbin, which a user's PATH may lack
        path = env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        env["PATH"] = os.pathsep.join(path + [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path])
        proc = subprocess.Popen(["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private",
                                 "bash", "-c", ENTER, "bash", *argv], env=env, cwd=cwd)
        # Ctrl-C reaches the whole process group, the child reports it; a TERM or HUP sent to
        # this process alone is passed on, so the run never goes on without its directory
        old = {sig: signal.signal(sig, handler) for sig, handler in (
            (signal.SIGINT, signal.SIG_IGN),
            (signal.SIGTERM, lambda sig, _f: proc.send_signal(sig)),
            (signal.SIGHUP, lambda sig, _f: proc.send_signal(sig)))}
        try:
            rc = proc.wait()
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
        return rc if rc >= 0 else 128 - rc
    finally:
        _rmtree(run)


def reexec_pytest(args: Sequence[str], cwd: str) -> int:
    return run_inside([sys.executable, "-m", "pytest", *args], cwd=cwd)
