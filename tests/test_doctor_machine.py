"""onboard.core.machine fed by fake trees: os-release, /proc, /sys, /etc, a Nix root."""

from __future__ import annotations

import os
import socket

import pytest

from onboard.core import machine
from tests.support.doctor_fakes import executable, fake_nix_tree, os_root, proc_root, write


@pytest.mark.parametrize("name,expect", [
    ("debian", ("debian", "12", "Debian GNU/Linux 12 (bookworm)", [])),
    ("ubuntu", ("ubuntu", "22.04", "Ubuntu 22.04.3 LTS", ["debian"])),
    ("nixos", ("nixos", "23.11", "NixOS 23.11 (Tapir)", [])),
    ("alpine", ("alpine", "3.19.1", "Alpine Linux v3.19", [])),
    ("mint", ("linuxmint", "21.2", "Linux Mint 21.2", ["ubuntu", "debian"])),
])
def test_os_release_parses(tmp_path, name, expect):
    info = machine.os_release(str(os_root(tmp_path, name)))
    assert (info.id, info.version_id, info.pretty_name, info.id_like) == expect
    assert info.source == str(tmp_path / "etc/os-release")


def test_os_release_falls_back_to_usr_lib_and_to_nothing(tmp_path):
    info = machine.os_release(str(os_root(tmp_path / "a", "debian", where="usr/lib/os-release")))
    assert info.id == "debian" and info.source.endswith("usr/lib/os-release")
    empty = machine.os_release(str(os_root(tmp_path / "b", None)))
    assert empty.id == "" and empty.source == ""


def test_os_release_quoting_and_comments():
    data = machine.parse_os_release('# comment\nNAME="A \\"quoted\\" name"\nID=\'single\'\n\nBROKEN\n')
    assert data == {"NAME": 'A "quoted" name', "ID": "single"}


@pytest.mark.parametrize("release,version", [
    ("4.4.0-19041-Microsoft", 1),
    ("5.15.90.1-microsoft-standard-WSL2", 2),
    ("4.19.128-microsoft-standard", 2),
    ("6.1.0-13-amd64", 0),
])
def test_is_wsl(tmp_path, release, version):
    assert machine.is_wsl(str(proc_root(tmp_path, osrelease=release))) == version


def test_init_system(tmp_path):
    root = tmp_path / "root"
    (root / "run/systemd/system").mkdir(parents=True)
    assert machine.init_system(str(root), str(proc_root(tmp_path / "p1", comm="bash"))) == "systemd"
    bare = tmp_path / "bare"
    bare.mkdir()
    assert machine.init_system(str(bare), str(proc_root(tmp_path / "p2", comm="openrc-init"))) == "other"
    assert machine.init_system(str(bare), str(proc_root(tmp_path / "p3", comm="init"))) == "other"
    assert machine.init_system(str(bare), str(proc_root(tmp_path / "p4", comm="sleep"))) == "none"
    # docker --init runs a tiny "init" that supervises nothing
    (bare / ".dockerenv").touch()
    assert machine.init_system(str(bare), str(proc_root(tmp_path / "p5", comm="init"))) == "none"


def test_in_container(tmp_path):
    def root(name):
        r = tmp_path / name
        r.mkdir()
        return r

    plain = proc_root(tmp_path / "proc", cgroup="0::/init.scope\n")
    assert machine.in_container(str(plain), str(root("none"))) == ""
    d = root("docker")
    (d / ".dockerenv").touch()
    assert machine.in_container(str(plain), str(d)) == "docker"
    p = root("podman")
    write(p / "run/.containerenv", "engine=podman\n")
    assert machine.in_container(str(plain), str(p)) == "podman"
    n = root("nspawn")
    write(n / "run/systemd/container", "systemd-nspawn\n")
    assert machine.in_container(str(plain), str(n)) == "systemd-nspawn"
    env_proc = proc_root(tmp_path / "proc-lxc", environ="PATH=/bin\0container=lxc\0")
    assert machine.in_container(str(env_proc), str(root("lxc"))) == "lxc"
    cg_proc = proc_root(tmp_path / "proc-cg", cgroup="12:memory:/docker/0123abcd\n")
    assert machine.in_container(str(cg_proc), str(root("cg"))) == "docker"


def test_selinux_mode(tmp_path):
    sys_e = write(tmp_path / "s1/fs/selinux/enforce", "1").parents[2]
    sys_p = write(tmp_path / "s2/fs/selinux/enforce", "0").parents[2]
    etc_d = write(tmp_path / "e1/selinux/config", "SELINUX=disabled\n").parents[1]
    nothing = tmp_path / "n"
    nothing.mkdir()
    assert machine.selinux_mode(str(sys_e), str(nothing)) == "enforcing"
    assert machine.selinux_mode(str(sys_p), str(nothing)) == "permissive"
    assert machine.selinux_mode(str(nothing), str(etc_d)) == "disabled"
    assert machine.selinux_mode(str(nothing), str(nothing)) == "absent"


def test_existing_nix_none(tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    assert machine.existing_nix(str(tmp_path / "nix"), str(tmp_path / "etc"), home=str(tmp_path),
                                path=str(empty_bin)) is None


def test_existing_nix_official_single_user(tmp_path):
    t = fake_nix_tree(tmp_path, version="2.18.1")
    facts = machine.existing_nix(str(t["nix_root"]), str(t["etc"]), home=str(tmp_path / "home"),
                                 path=str(tmp_path / "empty"), dpkg_info=str(tmp_path / "dpkg"))
    assert facts is not None
    assert facts.version == "2.18.1"
    assert facts.mode == "single"
    assert facts.source == "official"
    assert set(facts.binaries) == {"nix", "nix-env", "nix-store", "nix-daemon"}
    assert facts.binaries["nix"] == str(t["nix_root"] / "var/nix/profiles/default/bin/nix")
    assert facts.store_owner == "root"
    assert facts.nix_conf == str(t["etc"] / "nix/nix.conf")


def test_existing_nix_daemon_by_socket_and_by_config(tmp_path):
    t = fake_nix_tree(tmp_path / "a", socket_file=True)
    facts = machine.existing_nix(str(t["nix_root"]), str(t["etc"]), home=str(tmp_path), path="")
    assert facts.mode == "daemon"
    t = fake_nix_tree(tmp_path / "b", build_users_group=True)
    facts = machine.existing_nix(str(t["nix_root"]), str(t["etc"]), home=str(tmp_path), path="")
    assert facts.mode == "daemon"
    # build-users-group but a store owned by a user: that is a single-user store
    t = fake_nix_tree(tmp_path / "c", build_users_group=True, owner=4242)
    facts = machine.existing_nix(str(t["nix_root"]), str(t["etc"]), home=str(tmp_path), path="")
    assert facts.mode == "single" and facts.store_owner == user_name(4242)


def user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def test_existing_nix_from_a_debian_package(tmp_path):
    bindir = tmp_path / "usr/bin"
    nix = executable(bindir, "nix", 'echo "nix (Nix) 2.8.0"')
    dpkg = tmp_path / "dpkg"
    write(dpkg / "nix-bin.list", f"/.\n/usr\n{nix}\n")
    facts = machine.existing_nix(str(tmp_path / "nix"), str(tmp_path / "etc"), home=str(tmp_path),
                                 path=str(bindir), dpkg_info=str(dpkg))
    assert facts.source == "distro" and facts.version == "2.8.0" and facts.mode == "single"
    # the same binary, not listed by dpkg: its origin is unknown
    facts = machine.existing_nix(str(tmp_path / "nix"), str(tmp_path / "etc"), home=str(tmp_path),
                                 path=str(bindir), dpkg_info=str(tmp_path / "nodpkg"))
    assert facts.source == "unknown"


def test_existing_nix_broken_binary_has_no_version(tmp_path):
    bindir = tmp_path / "bin"
    executable(bindir, "nix", "exit 3")
    facts = machine.existing_nix(str(tmp_path / "nix"), str(tmp_path / "etc"), home=str(tmp_path),
                                 path=str(bindir))
    assert facts is not None and facts.version == ""


def test_privileges_and_shell_on_this_machine():
    assert machine.is_root() == (os.geteuid() == 0)
    if machine.is_root():
        assert machine.can_sudo()
    shell = machine.login_shell()
    assert shell == "" or os.path.isabs(shell)


def test_existing_nix_installed_by_onboard(tmp_path):
    """An applied onboard receipt whose choices installed Nix marks a store-path nix as onboard's."""
    from onboard.core.choices import Choices
    from onboard.core.engine.receipt import Receipt

    t = fake_nix_tree(tmp_path)
    args = (str(t["nix_root"]), str(t["etc"]))
    kw = {"home": str(tmp_path / "home"), "path": ""}
    receipt = Receipt(name="onboard", status="applying", meta={"choices": Choices(mode="single").to_dict()})
    receipt.save()
    assert machine.existing_nix(*args, **kw).source == "official"  # not finished: not ours yet
    receipt.status = "applied"
    receipt.save()
    assert machine.existing_nix(*args, **kw).source == "onboard"
    Receipt(name="onboard", status="applied", meta={"choices": Choices(mode="skip").to_dict()}).save()
    assert machine.existing_nix(*args, **kw).source == "official"
