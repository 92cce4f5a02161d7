"""The pieces of the Nix install, each against real files, a real loopback server and the
real test tarball: versions table, download, safe unpack, planner, config merging, units."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from onboard.core.actions.system import proxy_env
from onboard.core.choices import Choices
from onboard.core.engine.action import ActionError, Context
from onboard.core.engine.plan import preview
from onboard.core.events import ActionProgress, Collector
from onboard.core.nixinstall import versions
from onboard.core.nixinstall.actions.nixpkgs_config import NixpkgsConfig, insert_before_last_brace, nixpkgs_config_problem
from onboard.core.nixinstall.actions.systemd_units import SystemdUnits, generated_unit
from onboard.core.nixinstall.errors import PlanningError
from onboard.core.nixinstall.planner import MachineView, plan_nix_install
from onboard.core.nixinstall.source import ChecksumError, DownloadError, download, part_path
from onboard.core.nixinstall.release import parse_reginfo, release_info
from onboard.core.nixinstall.unpack import UnpackError, safe_extract
from tests.support.install_server import TarballServer
from tests.support.install_tarball import get_tarball


@pytest.fixture(scope="module")
def tarball():
    return get_tarball()


# -- versions -----------------------------------------------------------------------------------


def test_known_release_for_this_system_has_url_and_hash():
    rel = versions.known_release(table=versions.load_table(override="", team=False))
    assert rel.system == versions.current_system()
    assert rel.url.startswith("https://") and rel.url.endswith(f"-{rel.system}.tar.xz")
    assert len(rel.sha256) == 64
    assert versions.lookup_sha256(rel.filename, versions.load_table(override="", team=False)) == rel.sha256


def test_unknown_version_is_a_clear_error():
    with pytest.raises(PlanningError, match="does not know Nix '9.9.9'.*known versions"):
        versions.known_release("9.9.9", table=versions.load_table(override="", team=False))


def test_team_file_overrides_the_table(tmp_path):
    f = tmp_path / "team.json"
    f.write_text(json.dumps({"default": "2.99.0", "url_template": "https://mirror.example/{version}/{system}.tar.xz",
                             "versions": {"2.99.0": {versions.current_system(): {"sha256": "a" * 64}}}}))
    table = versions.load_table(override=str(f), team=False)
    rel = versions.known_release(table=table)
    assert (rel.version, rel.sha256) == ("2.99.0", "a" * 64)
    assert rel.url.startswith("https://mirror.example/2.99.0/")
    assert "2.24.9" in table["versions"]  # the shipped entries stay


# -- download -----------------------------------------------------------------------------------


def test_download_streams_with_byte_progress(tmp_path, tarball):
    events = Collector()
    with TarballServer() as srv:
        url = srv.add(tarball.path)
        dest = tmp_path / tarball.filename
        download(url, dest, tarball.sha256, emit=events, action_id="dl")
    assert dest.read_bytes() == tarball.path.read_bytes()
    prog = events.of(ActionProgress)
    assert prog and all(p.unit == "bytes" for p in prog)
    assert prog[-1].done == prog[-1].total == dest.stat().st_size
    assert not part_path(dest).exists()


def test_download_resumes_a_partial_file_with_range(tmp_path, tarball):
    data = tarball.path.read_bytes()
    dest = tmp_path / tarball.filename
    part_path(dest).write_bytes(data[:100000])
    with TarballServer() as srv:
        url = srv.add(tarball.path)
        download(url, dest, tarball.sha256)
        assert srv.state.requests[0][1] == "bytes=100000-"
    assert dest.read_bytes() == data


def test_download_retries_a_cut_connection_and_resumes(tmp_path, tarball):
    dest = tmp_path / tarball.filename
    with TarballServer() as srv:
        srv.state.mode = "truncate-once"
        url = srv.add(tarball.path)
        download(url, dest, tarball.sha256, backoff=0)
        ranges = [r for _p, r in srv.state.requests]
    assert ranges[0] == "" and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
    assert dest.read_bytes() == tarball.path.read_bytes()


def test_download_restarts_when_the_server_ignores_range(tmp_path, tarball):
    data = tarball.path.read_bytes()
    dest = tmp_path / tarball.filename
    part_path(dest).write_bytes(b"garbage" * 1000)
    with TarballServer() as srv:
        srv.state.mode = "no-range"
        download(srv.add(tarball.path), dest, tarball.sha256)
    assert dest.read_bytes() == data


@pytest.mark.parametrize("mode,pattern", [("404", "answered 404"), ("500", "answered 500"),
                                          ("truncate", "did not complete after 2 attempts")])
def test_download_errors_are_clear(tmp_path, tarball, mode, pattern):
    dest = tmp_path / "sub" / tarball.filename
    dest.parent.mkdir()
    with TarballServer() as srv:
        srv.state.mode = mode
        with pytest.raises(DownloadError, match=pattern) as info:
            download(srv.add(tarball.path), dest, tarball.sha256, attempts=2, backoff=0)
    assert info.value.hint
    assert not dest.exists()


def test_download_with_wrong_sha256_leaves_nothing(tmp_path, tarball):
    dest = tmp_path / tarball.filename
    with TarballServer() as srv:
        with pytest.raises(ChecksumError, match="does not match its SHA-256"):
            download(srv.add(tarball.path), dest, "0" * 64)
    assert list(tmp_path.iterdir()) == []


# -- safe unpack ----------------------------------------------------------------------------------


def _tar(tmp_path: Path, entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    data = data or {}
    p = tmp_path / "t.tar.xz"
    with tarfile.open(p, "w:xz") as tf:
        for info in entries:
            body = data.get(info.name)
            if body is not None:
                info.size = len(body)
                tf.addfile(info, io.BytesIO(body))
            else:
                tf.addfile(info)
    return p


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    i = tarfile.TarInfo(name)
    i.type, i.linkname, i.mode = kind, link, mode
    return i


def test_unpack_of_the_test_release(tmp_path, tarball):
    top = safe_extract(tarball.path, tmp_path)
    info = release_info(tmp_path / top)
    assert info.nix == tarball.nix_store_path and info.version == tarball.version
    assert info.paths == [tarball.nix_store_path]
    assert os.access(tmp_path / top / "store" / Path(info.nix).name / "bin" / "nix", os.X_OK)
    assert parse_reginfo((tmp_path / top / ".reginfo").read_text()) == info.paths


@pytest.mark.parametrize("entries,pattern", [
    ([_entry("/etc/passwd")], "absolute path"),
    ([_entry("top/../../evil")], "climbs out"),
    ([_entry("top/dev", tarfile.CHRTYPE)], "device file"),
    ([_entry("top/fifo", tarfile.FIFOTYPE)], "FIFO"),
    ([_entry("top/l", tarfile.SYMTYPE, "/etc/shadow")], "points outside /nix/store"),
    ([_entry("top/l", tarfile.SYMTYPE, "../../outside")], "points outside the archive"),
    ([_entry("top/l", tarfile.SYMTYPE, "sub"), _entry("top/l/x")], "through a symlink"),
    ([_entry("top/h", tarfile.LNKTYPE, "etc/passwd")], "not a file of this archive"),
    ([_entry("top/a"), _entry("other/b")], "one top directory"),
])
def test_unpack_refuses_unsafe_entries(tmp_path, entries, pattern):
    archive = _tar(tmp_path, entries, {e.name: b"x" for e in entries if e.type == tarfile.REGTYPE})
    dest = tmp_path / "out"
    with pytest.raises(UnpackError, match=pattern):
        safe_extract(archive, dest)
    assert not dest.exists() or list(dest.iterdir()) == []  # the partial top is gone again


def test_unpack_allows_links_into_the_store_and_drops_setuid(tmp_path):
    entries = [_entry("top/", tarfile.DIRTYPE, mode=0o755), _entry("top/s", mode=0o4755),
               _entry("top/l", tarfile.SYMTYPE, "/nix/store/abc-foo/bin/x"), _entry("top/r", tarfile.SYMTYPE, "s")]
    dest = tmp_path / "out"
    safe_extract(_tar(tmp_path, entries, {"top/s": b"#!/bin/sh\n"}), dest)
    assert os.readlink(dest / "top/l") == "/nix/store/abc-foo/bin/x"
    assert stat.S_IMODE((dest / "top/s").stat().st_mode) == 0o755


# -- planner ----------------------------------------------------------------------------------------


def _view(**kw) -> MachineView:
    kw.setdefault("environ", {"PATH": os.environ.get("PATH", "")})
    return MachineView(**kw)


def test_single_plan_lists_every_path_and_checks_change_nothing(isolated_home):
    before = sorted(p for p in isolated_home.rglob("*"))
    plan = plan_nix_install(Choices(mode="single"), view=_view())
    rows = preview(plan)
    flat = [p for r in rows for p in r["paths"]] + [r["description"] for r in rows]
    for want in ("/nix", "/nix/store", "/nix/var/nix/db", str(isolated_home / ".nix-profile"),
                 str(isolated_home / ".profile"), "releases.nixos.org"):
        assert any(want in p for p in flat), want
    assert sorted(p for p in isolated_home.rglob("*")) == before


def test_daemon_plan_with_systemd_links_units_and_without_runs_the_daemon(isolated_home):
    c = Choices(mode="daemon", build_users=3)
    kinds = [a.kind for a in plan_nix_install(c, view=_view(init="systemd")).actions]
    assert "systemd-units" in kinds and "daemon-process" not in kinds and "build-users" in kinds
    kinds = [a.kind for a in plan_nix_install(c, view=_view(init="none")).actions]
    assert "daemon-process" in kinds and "systemd-units" not in kinds
    with pytest.raises(PlanningError, match="systemd is not running"):
        plan_nix_install(Choices(mode="daemon", init="systemd"), view=_view(init="none"))


def test_daemon_plan_under_sudo_runs_root_commands_with_roots_home(isolated_home, monkeypatch):
    """Under sudo, nix-env as root must not write a root-owned ~/.nix-defexpr into the home of
    the user who ran sudo: root's commands get root's HOME, the user's files stay the user's."""
    if os.geteuid() != 0:
        pytest.skip("sudo is only simulated as root")
    import pwd

    user = pwd.getpwuid(65534)  # nobody: a real account that is not root
    monkeypatch.setenv("SUDO_USER", user.pw_name)
    plan = plan_nix_install(Choices(mode="daemon", build_users=2), view=_view(init="none"))
    by_kind = {a.kind: a for a in plan.actions}
    for kind in ("nix-profile", "nix-self-test", "nix-load-db"):
        assert by_kind[kind].home == str(isolated_home), kind  # HOME as sudo set it (root's)
    assert by_kind["nix-tree"].home == user.pw_dir


def test_an_existing_foreign_nix_is_adopted_or_refused(isolated_home):
    from onboard.core.machine import NixFacts

    facts = NixFacts(version="2.20.0", mode="single", binaries={"nix": "/usr/bin/nix"}, store_owner="alice",
                     source="official")
    plan = plan_nix_install(Choices(mode="single"), view=_view(existing=facts))
    kinds = [a.kind for a in plan.actions]
    assert "nix-tree" not in kinds and "nix-store-paths" not in kinds  # nothing that overwrites it
    assert "nix-conf-block" in kinds and plan.meta["nix"]["adopted"]
    with pytest.raises(PlanningError, match="will not turn it into a daemon-mode install"):
        plan_nix_install(Choices(mode="daemon"), view=_view(existing=facts))
    with pytest.raises(PlanningError, match="will not overwrite it"):
        plan_nix_install(Choices(mode="single", nix_version="2.24.9"), view=_view(existing=facts))


def test_a_tarball_without_a_known_hash_needs_sha256(tmp_path):
    f = tmp_path / "custom-nix.tar.xz"
    f.write_bytes(b"x")
    with pytest.raises(PlanningError, match="SHA-256 of custom-nix.tar.xz"):
        plan_nix_install(Choices(mode="single", tarball=str(f)), view=_view())
    with pytest.raises(PlanningError, match="no such file"):
        plan_nix_install(Choices(mode="single", tarball=str(tmp_path / "nope.tar.xz"), sha256="a" * 64),
                         view=_view())


def test_read_only_rc_file_stops_planning(isolated_home):
    rc = isolated_home / ".bash_profile"
    rc.write_text("export A=1\n")
    rc.chmod(0o444)
    with pytest.raises(PlanningError, match=r"\.bash_profile is read-only") as info:
        plan_nix_install(Choices(mode="single"), view=_view())
    assert "chmod u+w" in info.value.hint


def test_substituters_from_the_team_are_validated(isolated_home):
    from onboard.core.nixinstall.configs import NixSettings, nix_conf_lines

    lines = nix_conf_lines(True, NixSettings(["https://cache.example.org"], ["cache.example.org-1:abc="]))
    assert lines == ["build-users-group = nixbld", "experimental-features = nix-command flakes",
                     "extra-substituters = https://cache.example.org",
                     "extra-trusted-public-keys = cache.example.org-1:abc="]
    with pytest.raises(PlanningError, match="not a URL"):
        nix_conf_lines(False, NixSettings(["cache\nsandbox = false"], []))


# -- nixpkgs config.nix -----------------------------------------------------------------------------


def test_config_nix_merge_and_byte_exact_revert(tmp_path):
    p = tmp_path / "config.nix"
    original = "# mine\n{\n  packageOverrides = pkgs: { };\n}\n"
    p.write_text(original)
    a = NixpkgsConfig(path=str(p), lines=['allowUnfreePredicate = pkg: builtins.elem (pkg.pname) [ "vscode" ];'])
    ctx = Context(backup_dir=tmp_path / "bk")
    assert not a.check(ctx)
    rec = a.snapshot(ctx)
    a.execute(ctx, rec)
    rec.update(a.settle(ctx, rec))
    text = p.read_text()
    assert text.startswith("# mine\n{\n  packageOverrides") and text.rstrip().endswith("}")
    assert "allowUnfreePredicate" in text and a.check(ctx)
    a.revert(ctx, rec)
    assert p.read_text() == original


def test_config_nix_that_cannot_be_merged_is_never_clobbered(tmp_path):
    assert nixpkgs_config_problem("{ allowUnfree = false; }") == "it already sets allowUnfree or allowUnfreePredicate"
    assert "function" in nixpkgs_config_problem("{ pkgs, ... }: { }")
    assert nixpkgs_config_problem("import ./other.nix") == "it is not a plain attribute set { ... }"
    p = tmp_path / "config.nix"
    p.write_text("{ allowUnfree = false; }\n")
    a = NixpkgsConfig(path=str(p), lines=["allowUnfree = true;"])
    with pytest.raises(ActionError, match="will not change"):
        a.snapshot(Context(backup_dir=tmp_path / "bk"))
    assert p.read_text() == "{ allowUnfree = false; }\n"
    assert insert_before_last_brace("", ["allowUnfree = true;"], "m").startswith("{\n# >>> onboard: m >>>")


# -- systemd units -----------------------------------------------------------------------------------


def _fake_profile(tmp_path: Path, with_units: bool) -> Path:
    prof = tmp_path / "profile"
    (prof / "bin").mkdir(parents=True)
    if with_units:
        d = prof / "lib/systemd/system"
        d.mkdir(parents=True)
        for u in ("nix-daemon.socket", "nix-daemon.service"):
            (d / u).write_text(f"[Unit]\nDescription={u}\n")
    return prof


def test_units_generated_when_the_release_has_none(tmp_path):
    units = tmp_path / "units"
    prof = _fake_profile(tmp_path, with_units=False)
    a = SystemdUnits(unit_dir=str(units), profile=str(prof), start=False, proxy={"HTTPS_PROXY": "http://p:3128"})
    ctx = Context(backup_dir=tmp_path / "bk")
    rec = a.snapshot(ctx)
    a.execute(ctx, rec)
    svc = (units / "nix-daemon.service").read_text()
    assert f"ExecStart=@{prof}/bin/nix-daemon nix-daemon --daemon" in svc and "KillMode=process" in svc
    sock = (units / "nix-daemon.socket").read_text()
    assert "ListenStream=/nix/var/nix/daemon-socket/socket" in sock and "WantedBy=sockets.target" in sock
    assert (units / "nix-daemon.service.d/onboard-proxy.conf").read_text() == \
        '[Service]\nEnvironment="HTTPS_PROXY=http://p:3128"\n'
    assert a.check(ctx)
    a.revert(ctx, rec)
    assert not units.exists()


def test_units_linked_from_the_profile_and_started_with_systemctl(tmp_path):
    log = tmp_path / "calls"
    fake = tmp_path / "systemctl"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n[ \"$1\" = is-active ] && exit 3\nexit 0\n")
    fake.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    prof = _fake_profile(tmp_path, with_units=True)
    a = SystemdUnits(unit_dir=str(units), profile=str(prof), start=True, systemctl=str(fake))
    ctx = Context(backup_dir=tmp_path / "bk")
    rec = a.snapshot(ctx)
    a.execute(ctx, rec)
    assert os.readlink(units / "nix-daemon.socket") == f"{prof}/lib/systemd/system/nix-daemon.socket"
    assert log.read_text().splitlines() == ["daemon-reload", "enable nix-daemon.socket", "start nix-daemon.socket",
                                            "restart nix-daemon.service"]
    a.revert(ctx, rec)
    assert list(units.iterdir()) == []
    assert "disable --now nix-daemon.socket" in log.read_text()


def test_an_existing_unit_is_never_replaced(tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    (units / "nix-daemon.service").write_text("[Unit]\nDescription=someone else's\n")
    a = SystemdUnits(unit_dir=str(units), profile=str(_fake_profile(tmp_path, False)), start=False)
    with pytest.raises(ActionError, match="will not replace"):
        a.snapshot(Context(backup_dir=tmp_path / "bk"))


def test_proxy_env_and_generated_unit_shapes():
    assert proxy_env({"HTTPS_PROXY": "http://x", "PATH": "/bin", "no_proxy": ""}) == {"HTTPS_PROXY": "http://x"}
    assert generated_unit("nix-daemon.socket", "/p/bin/nix-daemon").startswith("[Unit]\nDescription=Nix Daemon Socket")


# -- the command line ---------------------------------------------------------------------------------


def test_install_help_names_modes_options_and_components(onboard):
    r = onboard("install", "--help")
    assert r.returncode == 0
    for word in ("single", "daemon", "--sha256", "--tarball", "--dry-run", "direnv", "lorri", "vscode", "neovim",
                 "vim", "emacs", "--build-users"):
        assert word in r.stdout, word


def test_install_dry_run_is_offline_and_changes_nothing(onboard, isolated_home):
    before = sorted(str(p) for p in isolated_home.rglob("*"))
    r = onboard("install", "--mode", "single", "--dry-run", "--yes",
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
                     "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert r.returncode == 0, r.stderr
    assert "/nix" in r.stdout
    assert sorted(str(p) for p in isolated_home.rglob("*")) == before


def test_bad_sha256_is_a_usage_error(onboard):
    r = onboard("install", "--tarball", "/tmp/x.tar.xz", "--sha256", "abc", "--dry-run")
    assert r.returncode == 2 and "64 hex digits" in r.stderr


def test_nix_tree_repair_keeps_the_state_from_before_the_install(tmp_path):
    """A re-run that must repair /nix (a state dir was deleted) keeps the snapshot of /nix
    from before the install, so uninstall still removes what the install put there."""
    from onboard.core.engine.plan import Plan, apply_plan, revert_receipt
    from onboard.core.engine.receipt import load_receipt
    from onboard.core.nixinstall.actions.nix_tree import NixTree

    root = tmp_path / "nix"
    tree = NixTree(root=str(root), dirs=[str(root / "var" / "nix" / "db")], home=str(tmp_path / "h"))
    assert apply_plan(Plan("t", [tree])).ok
    (root / "store" / "abc-installed").mkdir()  # what the install then put in the store
    (root / "var" / "nix" / "db").rmdir()  # drift: a state dir went missing
    assert apply_plan(Plan("t", [tree])).ok
    assert (root / "var" / "nix" / "db").is_dir()
    assert revert_receipt(load_receipt("t")).ok
    assert not root.exists(), "uninstall kept what the install made after a repair"


def test_uninstall_refuses_to_walk_into_a_mount_inside_nix(tmp_path):
    """Something mounted inside /nix after the install (a build tmpfs, a bind mount) is never
    emptied by uninstall: it stops before removing anything and says what to unmount."""
    import subprocess
    import sys

    from onboard.core.nixinstall.actions.nix_tree import mounts_below
    from tests.conftest import ROOT

    info = tmp_path / "mountinfo"
    info.write_text(f"22 1 0:21 / {tmp_path}/nix rw - ext4 /dev/x rw\n"
                    f"23 22 0:22 / {tmp_path}/nix/var/data rw - tmpfs tmpfs rw\n"
                    f"24 1 0:23 / {tmp_path}/other rw - tmpfs tmpfs rw\n")
    assert mounts_below(str(tmp_path / "nix"), str(info)) == [f"{tmp_path}/nix/var/data"]
    if os.geteuid() != 0:
        return
    root = tmp_path / "nix"
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from onboard.core.engine.plan import Plan, apply_plan, revert_receipt
from onboard.core.engine.receipt import load_receipt
from onboard.core.nixinstall.actions.nix_tree import NixTree
tree = NixTree(root={str(root)!r}, dirs=[{str(root / "var")!r}], home={str(tmp_path / "h")!r})
assert apply_plan(Plan("t", [tree])).ok
os.makedirs({str(root / "var" / "data")!r})
os.system("mount -t tmpfs tmpfs {root / 'var' / 'data'}")
open({str(root / "var" / "data" / "precious")!r}, "w").write("keep")
out = revert_receipt(load_receipt("t"))
print("OK" if not out.ok and os.path.exists({str(root / "var" / "data" / "precious")!r}) else "BAD", out.errors)
"""
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable, "-c", script],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith("OK") and "mounted inside" in r.stdout, r.stdout + r.stderr
