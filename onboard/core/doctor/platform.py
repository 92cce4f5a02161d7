"""Operating system and distribution, CPU architecture, kernel version."""

from __future__ import annotations

import os
import re
from typing import Any

from onboard.core import machine
from onboard.core.doctor.model import Check, CheckResult, Inputs, check

# distribution id -> (display name, lowest version that is fine, as a tuple; () = any)
SUPPORTED: dict[str, tuple[str, tuple[int, ...]]] = {
    "debian": ("Debian", (11,)),
    "ubuntu": ("Ubuntu", (20, 4)),
    "fedora": ("Fedora", (38,)),
    "rhel": ("RHEL", (8,)),
    "centos": ("CentOS Stream", (8,)),
    "rocky": ("Rocky Linux", (8,)),
    "almalinux": ("AlmaLinux", (8,)),
    "arch": ("Arch Linux", ()),
    "opensuse-leap": ("openSUSE Leap", (15,)),
    "opensuse-tumbleweed": ("openSUSE Tumbleweed", ()),
    "nixos": ("NixOS", ()),
}
# families reached through ID_LIKE (Linux Mint, Pop!_OS, Manjaro, ...): supported, version not checked
FAMILIES = ("debian", "ubuntu", "fedora", "rhel", "arch", "suse")
SUPPORTED_TEXT = "Debian 11+, Ubuntu 20.04+, Fedora, RHEL/Rocky/Alma 8+, Arch, openSUSE, NixOS"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@check("os", "Operating system")
def check_os(c: Check, inp: Inputs) -> CheckResult:
    if inp.root == "/" and os.uname().sysname != "Linux":
        return c.result("fail", f"{os.uname().sysname} is not supported yet",
                        "run onboard on Linux (or in WSL2 on Windows)", kernel=os.uname().sysname)
    info = machine.os_release(inp.root)
    details: dict[str, Any] = {"id": info.id, "version_id": info.version_id, "pretty_name": info.pretty_name,
                               "id_like": info.id_like, "os_release": info.source}
    if not info.source:
        return c.result("warn", "no /etc/os-release: the distribution is unknown",
                        f"onboard is tested on {SUPPORTED_TEXT}; it may still work here", **details)
    name = info.pretty_name or f"{info.id} {info.version_id}".strip()
    if info.id == "nixos":
        return c.result("ok", f"{name}: Nix is managed by the system; onboard sets up profiles only",
                        **details)
    if info.id in SUPPORTED:
        label, lowest = SUPPORTED[info.id]
        have = _version_tuple(info.version_id)
        if lowest and have and have < lowest:
            want = ".".join(f"{p:02d}" if i else str(p) for i, p in enumerate(lowest)) \
                if info.id == "ubuntu" else ".".join(map(str, lowest))
            return c.result("warn", f"{name} is older than {label} {want}",
                            f"upgrade to {label} {want} or newer; older releases are untested", **details)
        return c.result("ok", f"{name} (supported)", **details)
    family = next((f for f in info.id_like if f in FAMILIES), "")
    if family:
        return c.result("ok", f"{name} (a {family} derivative: supported)", family=family, **details)
    return c.result("fail", f"{name} is not a supported distribution",
                    f"use one of {SUPPORTED_TEXT}, e.g. in a container or VM", **details)


ARCHES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


@check("arch", "CPU architecture")
def check_arch(c: Check, inp: Inputs) -> CheckResult:
    raw = inp.arch if inp.arch is not None else os.uname().machine
    arch = ARCHES.get(raw.lower())
    if arch:
        return c.result("ok", f"{arch}: Nix ships binaries for it", arch=arch, machine=raw)
    return c.result("fail", f"{raw} has no official Nix binaries",
                    "use an x86_64 or aarch64 machine", arch=raw, machine=raw)


@check("kernel", "Kernel")
def check_kernel(c: Check, inp: Inputs) -> CheckResult:
    release = inp.kernel
    if release is None:
        try:
            with open(os.path.join(inp.proc_root, "sys/kernel/osrelease")) as fh:
                release = fh.read().strip()
        except OSError:
            release = os.uname().release if inp.proc_root == "/proc" else ""
    if not release:
        return c.result("warn", "kernel version unknown", "check that /proc is mounted", release="")
    have = _version_tuple(release)
    if have < (3, 10):
        return c.result("fail", f"Linux {release} is too old for Nix (needs 3.10 or newer)",
                        "upgrade the kernel", release=release)
    if have < (4, 19):
        return c.result("warn", f"Linux {release} is old: build sandboxing may be unavailable",
                        "upgrade to a kernel 4.19 or newer", release=release)
    return c.result("ok", f"Linux {release}", release=release)
