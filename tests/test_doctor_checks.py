"""Each doctor check fed controlled inputs: fake os-release, /proc, /sys, Nix trees, PATH dirs,
rc files, and local proxies on 127.0.0.1."""

from __future__ import annotations

import os
import time

import pytest

from onboard.core.doctor import (CheckFinished, CheckResult, CheckStarted, Inputs, UnknownCheck, check_ids,
                                 recommend_mode, run_checks)
from onboard.core.events import Collector
from tests.support.doctor_fakes import (TcpServer, closed_port, executable, fake_nix_tree, os_root,
                                        proc_root, write)


def one(cid: str, **overrides) -> CheckResult:
    (res,) = run_checks(only=[cid], overrides=overrides, timeout=10)
    assert res.id == cid
    return res


# -- OS, arch, kernel ----------------------------------------------------------------------------

@pytest.mark.parametrize("name,status,words", [
    ("debian", "ok", "supported"),
    ("ubuntu", "ok", "Ubuntu 22.04"),
    ("ubuntu-old", "warn", "older than Ubuntu 20.04"),
    ("nixos", "ok", "managed by the system"),
    ("mint", "ok", "ubuntu derivative"),
    ("alpine", "fail", "not a supported distribution"),
    (None, "warn", "unknown"),
])
def test_os_check(tmp_path, name, status, words):
    res = one("os", root=str(os_root(tmp_path, name)))
    assert res.status == status, res
    assert words in res.summary
    assert bool(res.fix) == (status != "ok")


@pytest.mark.parametrize("machine_name,status,arch", [
    ("x86_64", "ok", "x86_64"), ("arm64", "ok", "aarch64"), ("armv7l", "fail", "armv7l"),
    ("riscv64", "fail", "riscv64")])
def test_arch_check(machine_name, status, arch):
    res = one("arch", arch=machine_name)
    assert (res.status, res.details["arch"]) == (status, arch)


@pytest.mark.parametrize("release,status", [("3.2.0-4-amd64", "fail"), ("4.4.0-210-generic", "warn"),
                                            ("6.1.0-13-amd64", "ok")])
def test_kernel_check_from_fake_proc(tmp_path, release, status):
    res = one("kernel", proc_root=str(proc_root(tmp_path, osrelease=release)))
    assert res.status == status and res.details["release"] == release


# -- init, WSL, container, SELinux ------------------------------------------------------------------

def _roots(tmp_path, systemd=False, docker=False, osrelease="6.1.0-13-amd64", comm="systemd"):
    root = tmp_path / "root"
    root.mkdir(parents=True)
    if systemd:
        (root / "run/systemd/system").mkdir(parents=True)
    if docker:
        (root / ".dockerenv").touch()
    return {"root": str(root), "proc_root": str(proc_root(tmp_path / "proc", osrelease=osrelease,
                                                          comm=comm if systemd else "sh"))}


def test_wsl1_fails_wsl2_without_systemd_warns_with_systemd_ok(tmp_path):
    res = one("wsl", **_roots(tmp_path / "1", osrelease="4.4.0-19041-Microsoft"))
    assert res.status == "fail" and "wsl --set-version" in res.fix
    res = one("wsl", **_roots(tmp_path / "2", osrelease="5.15.90.1-microsoft-standard-WSL2"))
    assert res.status == "warn" and "systemd=true" in res.fix
    res = one("wsl", **_roots(tmp_path / "3", systemd=True, osrelease="5.15.90.1-microsoft-standard-WSL2"))
    assert res.status == "ok" and res.details == {"version": 2, "systemd": True}
    res = one("wsl", **_roots(tmp_path / "4"))
    assert res.status == "ok" and res.details["version"] == 0


def test_init_and_container_checks(tmp_path):
    plain = _roots(tmp_path / "a", systemd=True)
    assert one("init", **plain).status == "ok"
    assert one("container", **plain).status == "ok"
    docker = _roots(tmp_path / "b", docker=True)
    init = one("init", **docker)
    assert init.status == "warn" and "docker container" in init.summary and "--mode single" in init.fix
    cont = one("container", **docker)
    assert cont.status == "warn" and cont.details["kind"] == "docker"


def test_selinux_check(tmp_path):
    write(tmp_path / "sys/fs/selinux/enforce", "1")
    res = one("selinux", sys_root=str(tmp_path / "sys"), etc_root=str(tmp_path / "etc"))
    assert res.status == "warn" and res.details["mode"] == "enforcing" and res.fix
    res = one("selinux", sys_root=str(tmp_path / "nosys"), etc_root=str(tmp_path / "etc"))
    assert res.status == "ok" and res.details["mode"] == "absent"


# -- privileges, memory, disk ---------------------------------------------------------------------

def test_privileges_check():
    assert one("privileges", root_user=True).status == "ok"
    assert one("privileges", root_user=False, sudo=True).summary == "passwordless sudo works"
    res = one("privileges", root_user=False, sudo=False)
    assert res.status == "warn" and "single-user" in res.summary
    assert one("privileges").status in ("ok", "warn")  # this machine, for real


@pytest.mark.parametrize("kb,status", [((512_000, 400_000), "fail"), ((1_800_000, 1_500_000), "warn"),
                                       ((16_000_000, 12_000_000), "ok")])
def test_memory_check_from_fake_meminfo(tmp_path, kb, status):
    res = one("memory", proc_root=str(proc_root(tmp_path, meminfo_kb=kb)))
    assert res.status == status
    assert res.details["total_bytes"] == kb[0] * 1024


def test_disk_check_measures_nearest_existing_parent(tmp_path):
    res = one("disk", nix_root=str(tmp_path / "not" / "there" / "nix"))
    assert res.details["path"] == str(tmp_path)
    assert "would be created" in res.summary
    st = os.statvfs(tmp_path)
    assert res.details["total_bytes"] == st.f_blocks * st.f_frsize
    # other processes write to this disk meanwhile: the free space only has to be close
    assert abs(res.details["free_bytes"] - st.f_bavail * st.f_frsize) < 256 * 1024 ** 2


# -- Nix and /nix -------------------------------------------------------------------------------------

def test_nix_check_absent(tmp_path):
    res = one("nix", nix_root=str(tmp_path / "nix"), etc_root=str(tmp_path / "etc"),
              home=str(tmp_path), path=str(tmp_path / "empty"))
    assert res.status == "ok" and res.details["present"] is False


def test_nix_check_reports_version_mode_binaries(tmp_path):
    t = fake_nix_tree(tmp_path, version="2.18.1", socket_file=True)
    res = one("nix", nix_root=str(t["nix_root"]), etc_root=str(t["etc"]), home=str(tmp_path),
              path=str(tmp_path / "empty"))
    assert res.status == "ok"
    assert "Nix 2.18.1" in res.summary and "daemon" in res.summary and "official installer" in res.summary
    assert res.details["mode"] == "daemon"
    assert sorted(res.details["binaries"]) == ["nix", "nix-daemon", "nix-env", "nix-store"]


def test_nix_check_old_nix_and_broken_nix_warn(tmp_path):
    t = fake_nix_tree(tmp_path / "old", version="2.3.16")
    res = one("nix", nix_root=str(t["nix_root"]), etc_root=str(t["etc"]), home=str(tmp_path), path="")
    assert res.status == "warn" and "older than 2.4" in res.summary
    bindir = tmp_path / "bin"
    executable(bindir, "nix", "exit 1")
    res = one("nix", nix_root=str(tmp_path / "nonix"), etc_root=str(tmp_path / "etc"),
              home=str(tmp_path), path=str(bindir))
    assert res.status == "warn" and "did not answer" in res.summary


def test_nix_dir_ownership(tmp_path):
    assert one("nix-dir", nix_root=str(tmp_path / "absent")).details["exists"] is False
    root_owned = fake_nix_tree(tmp_path / "r")["nix_root"]
    res = one("nix-dir", nix_root=str(root_owned), uid=0)
    assert res.status == "ok" and "owned by root" in res.summary
    user_owned = fake_nix_tree(tmp_path / "u", owner=4242)["nix_root"]
    res = one("nix-dir", nix_root=str(user_owned), uid=0)
    assert res.status == "fail" and "chown" in res.fix
    res = one("nix-dir", nix_root=str(user_owned), uid=4242)
    assert res.status == "ok" and "single-user layout" in res.summary
    # root-owned, group-writable store without the sticky bit
    (root_owned / "store").chmod(0o775)
    res = one("nix-dir", nix_root=str(root_owned), uid=0)
    assert res.status == "warn" and "chmod 1775" in res.fix
    not_dir = write(tmp_path / "file-nix", "")
    assert one("nix-dir", nix_root=str(not_dir)).status == "fail"


# -- shell, direnv, editors -------------------------------------------------------------------------

def test_shell_check_lists_rc_files_and_symlinks(tmp_path):
    home = tmp_path / "home"
    dot = write(tmp_path / "dotfiles/config.fish", "set -x A 1\n")
    (home / ".config/fish").mkdir(parents=True)
    (home / ".config/fish/config.fish").symlink_to(dot)
    res = one("shell", shell="/usr/bin/fish", home=str(home), env={})
    assert res.status == "ok"
    assert "~/.config/fish/config.fish -> " + str(dot) in res.summary
    write(home / ".bashrc", "alias l=ls\r\n")
    res = one("shell", shell="/bin/bash", home=str(home), env={})
    (rc,) = [f for f in res.details["rc_files"] if f["path"].endswith(".bashrc")]
    assert rc["crlf"] is True and rc["final_newline"] is True
    assert "~/.bashrc" in res.summary


def test_shell_check_warns_for_other_shells_and_broken_rc(tmp_path):
    res = one("shell", shell="/bin/tcsh", home=str(tmp_path), env={})
    assert res.status == "warn" and "chsh" in res.fix
    (tmp_path / ".zshrc").symlink_to(tmp_path / "gone")
    res = one("shell", shell="/usr/bin/zsh", home=str(tmp_path), env={})
    assert res.status == "warn" and "~/.zshrc" in res.summary


def test_direnv_and_editors_from_fake_path(tmp_path):
    bindir = tmp_path / "bin"
    executable(bindir, "direnv", 'echo 2.34.0')
    executable(bindir, "code")
    executable(bindir, "nvim")
    write(tmp_path / ".bashrc", 'eval "$(direnv hook bash)"\n')
    res = one("direnv", path=str(bindir), home=str(tmp_path))
    assert res.status == "ok" and res.details["direnv_version"] == "2.34.0"
    assert "no lorri" in res.summary and res.details["hooked_in"] == ["~/.bashrc"]
    res = one("editors", path=str(bindir))
    assert res.details["found"] == {"code": str(bindir / "code"), "nvim": str(bindir / "nvim")}
    assert "VS Code, Neovim" in res.summary
    executable(bindir, "lorri")
    assert "lorri at" in one("direnv", path=str(bindir), home=str(tmp_path)).summary


def test_direnv_missing_and_no_editors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = one("direnv", path=str(empty), home=str(tmp_path))
    assert res.status == "warn" and "apt install direnv" in res.fix
    lonely = tmp_path / "lorri-only"
    executable(lonely, "lorri")
    res = one("direnv", path=str(lonely), home=str(tmp_path))
    assert res.status == "warn" and "lorri needs direnv" in res.summary
    res = one("editors", path=str(empty))
    assert res.status == "ok" and res.details["found"] == {}


# -- network --------------------------------------------------------------------------------------

def test_network_direct_reach_and_unreachable():
    server = TcpServer()
    try:
        res = one("net-releases", env={}, hosts={"releases": f"127.0.0.1:{server.port}", "cache": "x"})
        assert res.status == "ok" and "reachable" in res.summary
    finally:
        server.close()
    res = one("net-cache", env={}, hosts={"releases": "x", "cache": f"127.0.0.1:{closed_port()}"})
    assert res.status == "warn" and "connection refused" in res.summary
    assert "HTTPS_PROXY" in res.fix and "substituters" in res.fix
    res = one("net-releases", env={}, hosts={"releases": "host.invalid", "cache": "x"})
    assert res.status == "warn" and "--tarball" in res.fix


def test_network_through_a_proxy_sends_connect_with_credentials():
    proxy = TcpServer()
    try:
        env = {"HTTPS_PROXY": f"http://me:s%40cret@127.0.0.1:{proxy.port}"}
        res = one("net-cache", env=env)
        assert res.status == "ok", res
        assert res.details["proxy"] == f"http://127.0.0.1:{proxy.port}"  # no password shown
        assert "s@cret" not in res.summary and "s%40cret" not in str(res.details)
        head = proxy.requests[0].decode()
        assert head.startswith("CONNECT cache.nixos.org:443 HTTP/1.1\r\n")
        assert "Proxy-Authorization: Basic bWU6c0BjcmV0" in head  # base64("me:s@cret")
    finally:
        proxy.close()


def test_network_proxy_refusing_or_wanting_auth_fails():
    deny = TcpServer(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
    try:
        res = one("net-releases", env={"https_proxy": f"127.0.0.1:{deny.port}"})
        assert res.status == "fail" and "407" in res.summary and "user:password" in res.fix
        assert "--tarball" in res.fix
    finally:
        deny.close()
    res = one("net-releases", env={"ALL_PROXY": f"http://127.0.0.1:{closed_port()}"})
    assert res.status == "fail" and "connection refused" in res.summary and "ALL_PROXY" in res.fix


def test_no_proxy_goes_direct():
    server = TcpServer()
    try:
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}", "NO_PROXY": "localhost,127.0.0.1"}
        res = one("net-releases", env=env, hosts={"releases": f"127.0.0.1:{server.port}", "cache": "x"})
        assert res.status == "ok" and res.details["proxy"] == ""
    finally:
        server.close()


# -- the runner ---------------------------------------------------------------------------------

def test_events_and_order():
    c = Collector()
    results = run_checks(emit=c, only=["kernel", "os", "arch"])
    assert [r.id for r in results] == ["os", "arch", "kernel"]  # display order, not completion order
    assert sorted(e.id for e in c.of(CheckStarted)) == ["arch", "kernel", "os"]
    finished = c.of(CheckFinished)
    assert sorted(e.result["id"] for e in finished) == ["arch", "kernel", "os"]
    assert all(set(e.result) == {"id", "title", "status", "summary", "fix", "details"} for e in finished)
    assert finished[0].to_dict()["kind"] == "check-finished"


def test_unknown_check_ids_are_named_with_a_suggestion():
    with pytest.raises(UnknownCheck) as err:
        run_checks(only=["os", "kernal"])
    assert "'kernal' (did you mean 'kernel'?)" in str(err.value)
    with pytest.raises(TypeError):
        Inputs.make({"no_such_input": 1})


def test_a_hanging_check_is_reported_not_waited_for():
    hang = TcpServer(reply=None)  # accepts CONNECT and never answers
    try:
        start = time.monotonic()
        (res,) = run_checks(only=["net-releases"], timeout=0.3,
                            overrides={"env": {"HTTPS_PROXY": f"http://127.0.0.1:{hang.port}"},
                                       "net_timeout": 30})
        elapsed = time.monotonic() - start
        assert res.status == "warn" and res.details == {"timed_out": True}
        assert "no answer within 0.3 s" in res.summary
        assert elapsed < 10  # nowhere near the 30 s the check itself would have waited
    finally:
        hang.close()


def test_whole_fake_machine(tmp_path):
    """Every check against one fake Ubuntu machine with systemd, a daemon-mode Nix and a proxy."""
    root = os_root(tmp_path / "root", "ubuntu")
    (root / "run/systemd/system").mkdir(parents=True)
    t = fake_nix_tree(tmp_path / "n", socket_file=True, build_users_group=True)
    bindir = tmp_path / "bin"
    executable(bindir, "direnv", "echo 2.33.0")
    executable(bindir, "emacs")
    proxy = TcpServer()
    try:
        results = run_checks(timeout=10, overrides=Inputs(
            root=str(root), proc_root=str(proc_root(tmp_path / "proc", comm="systemd")),
            sys_root=str(tmp_path / "sys"), etc_root=str(t["etc"]), nix_root=str(t["nix_root"]),
            dpkg_info=str(tmp_path / "dpkg"), home=str(tmp_path / "home"), path=str(bindir),
            env={"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}"}, arch="x86_64", shell="/bin/zsh",
            root_user=True))
    finally:
        proxy.close()
    assert [r.id for r in results] == check_ids()
    assert len(results) >= 12
    bad = [r for r in results if r.status != "ok" and r.id != "disk"]
    assert not bad, bad
    mode, reason = recommend_mode(results)
    assert mode == "daemon" and "daemon-mode Nix is already here" in reason


def _r(cid: str, **details) -> CheckResult:
    return CheckResult(cid, cid, "ok", "", "", details)


@pytest.mark.parametrize("facts,mode,why", [
    ({"init": "systemd", "root": True, "kind": ""}, "daemon", "systemd"),
    ({"init": "none", "root": True, "kind": "docker"}, "single", "docker container"),
    ({"init": "systemd", "root": False, "sudo_installed": False, "kind": ""}, "single", "no root or sudo"),
    ({"init": "systemd", "root": False, "sudo_installed": True, "kind": ""}, "daemon", "password"),
    ({"init": "other", "root": True, "kind": ""}, "single", "no systemd"),
    ({"init": "none", "root": True, "kind": "", "wsl": 2}, "single", "WSL2 without systemd"),
    ({"init": "systemd", "root": True, "kind": "", "selinux": "enforcing"}, "single", "SELinux"),
])
def test_recommend_mode(facts, mode, why):
    results = [_r("init", init=facts["init"]),
               _r("privileges", root=facts["root"], sudo=facts["root"],
                  sudo_installed=facts.get("sudo_installed", True)),
               _r("container", kind=facts["kind"]), _r("wsl", version=facts.get("wsl", 0)),
               _r("selinux", mode=facts.get("selinux", "absent"))]
    got, reason = recommend_mode(results)
    assert got == mode and why in reason


def test_recommend_mode_without_the_needed_checks_says_so():
    mode, reason = recommend_mode([_r("os")])
    assert mode == "single" and "did not run" in reason
