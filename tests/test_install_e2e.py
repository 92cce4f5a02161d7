"""End to end: onboard installs Nix for real inside a private mount namespace (empty /nix, a
copy of /etc, a temporary HOME), the installed Nix builds a derivation, and uninstall
leaves all three trees byte for byte as they were. Then the bad inputs, each a clear error
with nothing half-installed."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.support.install_fixtures import (BUILD_EXPR, ONBOARD_LOGS, assert_unchanged, can_sandbox,
                                            sandbox)  # noqa: F401
from tests.support.install_ns import Sandbox, daemon_pid, diff, snapshot
from tests.support.install_server import TarballServer
from tests.support.install_tarball import get_tarball

pytestmark = [pytest.mark.slow, can_sandbox]


@pytest.fixture(scope="module")
def tarball():
    return get_tarball()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_single_user_install_builds_and_uninstalls_to_nothing(sandbox: Sandbox, tarball):
    before = sandbox.snapshots()
    r = sandbox.onboard("install", "--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256,
                        "--allow-unfree", "vscode", "--yes")
    assert r.returncode == 0, r.stderr[-3000:]
    home = sandbox.home
    assert os.readlink(home / ".nix-profile") == "/nix/var/nix/profiles/per-user/root/profile"
    assert "# >>> onboard: nix >>>" in (home / ".profile").read_text()
    assert "allowUnfreePredicate" in (home / ".config/nixpkgs/config.nix").read_text()
    assert "experimental-features = nix-command flakes" in (home / ".config/nix/nix.conf").read_text()
    # a login shell finds the installed nix, which really builds
    expr = BUILD_EXPR.format(tag="single")
    r = sandbox.sh(f"bash -lc 'command -v nix-build; cat $(nix-build --no-out-link -E \"$0\")' '{expr}'")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"{home}/.nix-profile/bin/nix-build"
    assert r.stdout.splitlines()[-1] == "single 0"
    # running it again changes nothing
    r = sandbox.onboard("install", "--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256,
                        "--allow-unfree", "vscode", "--yes")
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count(" = ") >= 10 and "skipped" in r.stderr
    # the dry run of uninstall names every path, link and rc block
    r = sandbox.onboard("uninstall", "--dry-run")
    assert r.returncode == 0
    for want in ("/nix/store", "/nix/var/nix/db", f"{home}/.nix-profile", f"{home}/.profile", f"{home}/.zshenv",
                 "conf.d/nix.fish", "nixpkgs/config.nix", ".config/nix/nix.conf"):
        assert want in r.stdout, want
    assert (sandbox.nix / "store").exists()
    r = sandbox.onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stderr[-2000:]
    assert_unchanged(before, sandbox.snapshots())


def test_daemon_mode_without_init_system(sandbox: Sandbox, tarball):
    before = sandbox.snapshots()
    with TarballServer() as srv:
        url = srv.add(tarball.path)
        r = sandbox.onboard("install", "--mode", "daemon", "--init", "none", "--build-users", "3", "--tarball", url,
                            "--sha256", tarball.sha256, "--yes")
    assert r.returncode == 0, r.stderr[-3000:]
    etc = sandbox.etc
    assert re.search(r"^nixbld:x:30000:nixbld1,nixbld2,nixbld3$", (etc / "group").read_text(), re.M)
    assert "nixbld3:x:30003:30000:Nix build user 3:/var/empty:" in (etc / "passwd").read_text()
    assert "build-users-group = nixbld" in (etc / "nix/nix.conf").read_text()
    assert (etc / "bash.bashrc").read_text().startswith("# >>> onboard: nix >>>")
    st = (sandbox.nix / "store").stat()
    assert oct(st.st_mode & 0o7777) == "0o1775" and st.st_uid == 0 and st.st_gid == 30000
    pid = daemon_pid(sandbox)
    assert pid and _alive(pid)
    # a build through the daemon runs as one of the build users
    expr = BUILD_EXPR.format(tag="daemon")
    r = sandbox.sh(f"NIX_REMOTE=daemon /nix/var/nix/profiles/default/bin/nix-build --no-out-link -E '{expr}' "
                   "| xargs cat")
    assert r.returncode == 0, r.stderr
    uid = int(r.stdout.split()[-1])
    assert 30001 <= uid <= 30003
    r = sandbox.onboard("uninstall", "--dry-run")
    for want in ("user nixbld1", "user nixbld3", "group nixbld", "process nix-daemon", "/etc/bash.bashrc",
                 "/etc/profile.d/nix.sh", "/etc/nix/nix.conf", "/nix/store"):
        assert want in r.stdout, want
    r = sandbox.onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stderr[-2000:]
    assert not _alive(pid)
    assert_unchanged(before, sandbox.snapshots())


# -- bad inputs: a clear error, and nothing half-installed -------------------------------------------


def _fails_cleanly(sb: Sandbox, before: dict, r: subprocess.CompletedProcess, pattern: str,
                   allow_home: str = "") -> None:
    assert r.returncode == 1, (r.stdout[-1000:], r.stderr[-2000:])
    assert re.search(pattern, r.stderr), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    after = sb.snapshots()
    if allow_home:  # (also kept on purpose: what the message names)
        parents = {allow_home.rsplit("/", i)[0] for i in range(allow_home.count("/") + 1)}
        after["home"] = {k: v for k, v in after["home"].items()
                         if not (k in parents or k.startswith(allow_home + "/"))}
    assert_unchanged(before, after, allow_home=ONBOARD_LOGS)


@pytest.mark.parametrize("mode,sha,pattern", [
    ("ok", "0" * 64, r"does not match its SHA-256"),
    ("truncate", None, r"did not complete after \d+ attempts: the connection broke after"),
    ("404", None, r"answered 404"),
    ("500", None, r"answered 500"),
])
def test_download_problems(sandbox: Sandbox, tarball, mode, sha, pattern):
    before = sandbox.snapshots()
    with TarballServer() as srv:
        srv.state.mode = mode
        url = srv.add(tarball.path)
        r = sandbox.onboard("install", "--mode", "single", "--tarball", url, "--sha256", sha or tarball.sha256,
                            "--yes")
    if mode != "truncate":
        _fails_cleanly(sandbox, before, r, pattern)
        return
    # the message says the download resumes: the undo keeps the partial file, and uninstall removes it
    assert "resumes where it stopped" in r.stderr, r.stderr[-2000:]
    _fails_cleanly(sandbox, before, r, pattern, allow_home=".cache/onboard")
    assert list((sandbox.home / ".cache/onboard/downloads").glob("*.part"))
    r = sandbox.onboard("uninstall", "--yes")
    assert r.returncode == 0, r.stderr[-2000:]
    assert_unchanged(before, sandbox.snapshots())


def test_disk_full_on_nix(tmp_path, tarball):
    sb = Sandbox(tmp_path / "sb", nix_tmpfs="2m")
    try:
        before = sb.snapshots()
        r = sb.onboard("install", "--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256,
                       "--yes")
        _fails_cleanly(sb, before, r, r"no space left on the disk holding /nix")
        # inside the namespace the small /nix is empty again
        r = sb.sh("find /nix -mindepth 1 | head")
        assert r.stdout == ""
    finally:
        sb.cleanup()


def test_read_only_rc_file(sandbox: Sandbox, tarball):
    rc = sandbox.home / ".bash_profile"
    rc.write_text("# mine\n")
    rc.chmod(0o444)
    before = sandbox.snapshots()
    r = sandbox.onboard("install", "--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256,
                        "--yes")
    _fails_cleanly(sandbox, before, r, r"will not edit .*\.bash_profile: .* is read-only")


def test_nix_owned_by_someone_else(sandbox: Sandbox, tarball):
    os.chown(sandbox.nix, 65534, 65534)
    before = sandbox.snapshots()
    r = sandbox.onboard("install", "--mode", "single", "--tarball", str(tarball.path), "--sha256", tarball.sha256,
                        "--yes")
    _fails_cleanly(sandbox, before, r, r"/nix exists and is owned by nobody")
    r = sandbox.onboard("install", "--mode", "daemon", "--init", "none", "--tarball", str(tarball.path),
                        "--sha256", tarball.sha256, "--yes")
    _fails_cleanly(sandbox, before, r, r"/nix is owned by nobody, not root")


def test_build_gid_collision_is_found_before_any_change(sandbox: Sandbox, tarball):
    with open(sandbox.etc / "group", "a") as fh:
        fh.write("builders:x:30000:\n")
    before = sandbox.snapshots()
    r = sandbox.onboard("install", "--mode", "daemon", "--init", "none", "--tarball", str(tarball.path),
                        "--sha256", tarball.sha256, "--yes")
    _fails_cleanly(sandbox, before, r, r"gid 30000 .* already used by the group 'builders'")


def test_daemon_mode_with_the_distributions_nixbld_group_restores_etc_byte_for_byte(tmp_path, tarball):
    """Debian's nix-bin made nixbld (and nixbld1..10): onboard adds two users to that group, and
    uninstall leaves /etc as it was, the backup files shadow's tools rewrite (passwd-, ...) included."""
    sb = Sandbox(tmp_path / "sb", drop_nixbld=False)
    try:
        if not re.search(r"^nixbld:", (sb.etc / "group").read_text(), re.M):
            with open(sb.etc / "group", "a") as fh:
                fh.write("nixbld:x:994:\n")
        backups = {n: (sb.etc / n).read_bytes() for n in ("passwd-", "group-", "shadow-", "gshadow-")
                   if (sb.etc / n).exists()}
        before = sb.snapshots()
        r = sb.onboard("install", "--mode", "daemon", "--init", "none", "--build-users", "12", "--tarball",
                       str(tarball.path), "--sha256", tarball.sha256, "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        assert "nixbld12:" in (sb.etc / "passwd").read_text()
        assert "create the group nixbld" not in sb.onboard("uninstall", "--dry-run").stdout  # not onboard's
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        for name, data in backups.items():
            assert (sb.etc / name).read_bytes() == data, f"/etc/{name} differs after uninstall"
        assert_unchanged(before, sb.snapshots())
    finally:
        sb.cleanup()


def test_an_adopted_nix_is_left_as_it_was(tmp_path):
    """A Nix that was already here (Debian's, in use: its store has a build) is kept and configured;
    onboard's self-test of it writes nothing to its /nix, and uninstall leaves /nix, /etc and HOME
    as they were."""
    sb = Sandbox(tmp_path / "sb", drop_nixbld=False)
    try:
        expr = BUILD_EXPR.format(tag="mine")
        r = sb.sh(f"mkdir -p /nix/store && nix-build --no-out-link -E '{expr}' && nix-instantiate --eval -E 1")
        assert r.returncode == 0, r.stderr[-2000:]
        before = sb.snapshots()
        r = sb.onboard("install", "--mode", "single", "--yes")
        assert r.returncode == 0, r.stderr[-3000:]
        assert snapshot(sb.nix) == before["nix"], diff(before["nix"], snapshot(sb.nix))[:10]
        assert "keep the Nix" in r.stdout and "self-test ok: evaluated" in _log_text(sb)
        r = sb.onboard("uninstall", "--yes")
        assert r.returncode == 0, r.stderr[-2000:]
        assert_unchanged(before, sb.snapshots())
    finally:
        sb.cleanup()


def _log_text(sb: Sandbox) -> str:
    logs = sb.home / ".local/state/onboard/logs"
    return "".join(p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""
