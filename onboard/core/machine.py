"""Facts about the machine: OS, init system, WSL, containers, SELinux, an existing Nix, privileges.

Standard library only, fast, and free of side effects. Every function takes optional root
directories so tests (and `onboard doctor`) can point it at fake trees.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from typing import Optional

# -- OS ----------------------------------------------------------------------------------


@dataclass
class OsInfo:
    id: str = ""
    version_id: str = ""
    pretty_name: str = ""
    id_like: list[str] = field(default_factory=list)
    source: str = ""  # the file it was read from; "" when none was found


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
        # os-release(5): backslash escapes for $, ", \ and `
        out, i = [], 0
        while i < len(value):
            if value[i] == "\\" and i + 1 < len(value):
                i += 1
            out.append(value[i])
            i += 1
        value = "".join(out)
    return value


def parse_os_release(text: str) -> dict[str, str]:
    data: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        data[key.strip()] = _unquote(value)
    return data


def os_release(root: str = "/") -> OsInfo:
    """/etc/os-release, falling back to /usr/lib/os-release; an empty OsInfo when neither exists."""
    for rel in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, rel)
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                data = parse_os_release(fh.read())
        except OSError:
            continue
        return OsInfo(id=data.get("ID", "linux").lower(), version_id=data.get("VERSION_ID", ""),
                      pretty_name=data.get("PRETTY_NAME", data.get("NAME", "")),
                      id_like=data.get("ID_LIKE", "").lower().split(), source=path)
    return OsInfo()


# -- init system --------------------------------------------------------------------------

# PID 1 names of init systems that supervise services but are not systemd.
_OTHER_INITS = {"init", "openrc-init", "runit", "runit-init", "s6-svscan", "dinit", "upstart",
                "launchd", "busybox", "shepherd"}


def _read(path: str, limit: int = 65536) -> Optional[str]:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def init_system(root: str = "/", proc_root: str = "/proc") -> str:
    """"systemd" when /run/systemd/system exists (as sd_booted() decides), "other" when PID 1
    is another known init, "none" when no init system is usable (containers, WSL without systemd)."""
    if os.path.isdir(os.path.join(root, "run/systemd/system")):
        return "systemd"
    comm = (_read(os.path.join(proc_root, "1/comm")) or "").strip()
    if comm == "systemd":  # PID 1 is systemd but it has not finished booting, or /run is hidden
        return "other"
    if comm in _OTHER_INITS:
        if comm == "init" and in_container(proc_root=proc_root, root=root):
            return "none"  # docker --init / tini-like stubs are called init too
        return "other"
    return "none"


# -- WSL, containers, SELinux ---------------------------------------------------------------


def is_wsl(proc_root: str = "/proc") -> int:
    """0 not WSL, 1 WSL1, 2 WSL2 (from the kernel release string)."""
    release = _read(os.path.join(proc_root, "sys/kernel/osrelease")) or ""
    if not release:
        release = _read(os.path.join(proc_root, "version")) or ""
    lower = release.lower()
    if "microsoft" not in lower and "wsl" not in lower:
        return 0
    if "wsl2" in lower or "microsoft-standard" in lower:
        return 2
    if "Microsoft" in release:  # WSL1 kernels say e.g. 4.4.0-19041-Microsoft
        return 1
    return 2


_CGROUP_HINTS = (("docker", "docker"), ("kubepods", "kubernetes"), ("libpod", "podman"),
                 ("lxc", "lxc"), ("containerd", "containerd"), ("machine.slice", "systemd-nspawn"))


def in_container(proc_root: str = "/proc", root: str = "/") -> str:
    """"" when not in a container, else its kind: docker, podman, lxc, systemd-nspawn, ..."""
    run_container = _read(os.path.join(root, "run/systemd/container"))
    if run_container and run_container.strip():
        return run_container.strip()
    if os.path.exists(os.path.join(root, "run/.containerenv")):
        return "podman"
    if os.path.exists(os.path.join(root, ".dockerenv")):
        return "docker"
    environ = _read(os.path.join(proc_root, "1/environ"))
    if environ:
        for item in environ.split("\0"):
            if item.startswith("container="):
                return item.split("=", 1)[1] or "container"
    cgroup = _read(os.path.join(proc_root, "1/cgroup")) or ""
    for hint, kind in _CGROUP_HINTS:
        if hint in cgroup:
            return kind
    return ""


def selinux_mode(sys_root: str = "/sys", etc_root: str = "/etc") -> str:
    """"enforcing", "permissive", "disabled" (configured off) or "absent"."""
    enforce = _read(os.path.join(sys_root, "fs/selinux/enforce"))
    if enforce is not None:
        return "enforcing" if enforce.strip() == "1" else "permissive"
    config = _read(os.path.join(etc_root, "selinux/config"))
    if config is not None:
        for line in config.splitlines():
            if line.strip().startswith("SELINUX="):
                return "disabled"
    return "absent"


# -- an existing Nix ----------------------------------------------------------------------

NIX_BINARIES = ("nix", "nix-env", "nix-store", "nix-shell", "nix-build", "nix-daemon", "nix-channel",
                "nix-instantiate", "nix-collect-garbage")


@dataclass
class NixFacts:
    version: str = ""
    mode: str = "unknown"  # single | daemon (unknown only for a NixFacts built by hand)
    binaries: dict[str, str] = field(default_factory=dict)
    store_owner: str = ""
    store_group: str = ""
    nix_conf: str = ""  # path of the nix.conf read, "" when none
    source: str = "unknown"  # onboard | distro | official | unknown


def nix_search_path(nix_root: str = "/nix", home: Optional[str] = None,
                    path: Optional[str] = None) -> list[str]:
    home = home if home is not None else os.path.expanduser("~")
    dirs = [d for d in (path if path is not None else os.environ.get("PATH", "")).split(os.pathsep) if d]
    extra = [os.path.join(home, ".nix-profile/bin"),
             os.path.join(nix_root, "var/nix/profiles/default/bin"), "/run/current-system/sw/bin"]
    for d in extra:
        if d not in dirs:
            dirs.append(d)
    return dirs


def _owner_names(st: os.stat_result) -> tuple[str, str]:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return user, group


def _conf_value(text: str, key: str) -> Optional[str]:
    value = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            value = v.strip()
    return value


def _dpkg_owns(path: str, dpkg_info: str = "/var/lib/dpkg/info") -> str:
    """The Debian package whose file list names `path`, or ""."""
    try:
        names = os.listdir(dpkg_info)
    except OSError:
        return ""
    for name in names:
        if not (name.startswith("nix") and name.endswith(".list")):
            continue
        text = _read(os.path.join(dpkg_info, name), limit=1 << 20) or ""
        if path in text.splitlines():
            return name[:-5].split(":")[0]
    return ""


def _onboard_installed_nix() -> bool:
    """True when an applied onboard receipt records a Nix install (its choices name a mode)."""
    import json

    from onboard.core import paths

    try:
        names = sorted(os.listdir(paths.receipts_dir()))
    except OSError:
        return False
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(paths.receipts_dir() / name, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("status") != "applied":
            continue
        choices = (data.get("meta") or {}).get("choices") or {}
        if isinstance(choices, dict) and choices.get("mode") in ("single", "daemon"):
            return True
    return False


def nix_version(nix: str, timeout: float = 2.0) -> str:
    try:
        proc = subprocess.run([nix, "--version"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    words = proc.stdout.strip().split()
    return words[-1] if proc.returncode == 0 and words else ""


def existing_nix(nix_root: str = "/nix", etc_root: str = "/etc", home: Optional[str] = None,
                 path: Optional[str] = None, timeout: float = 2.0,
                 dpkg_info: str = "/var/lib/dpkg/info") -> Optional[NixFacts]:
    """What Nix is already here: None when there is no nix binary and no store."""
    binaries: dict[str, str] = {}
    for d in nix_search_path(nix_root, home, path):
        for name in NIX_BINARIES:
            if name in binaries:
                continue
            cand = os.path.join(d, name)
            if os.path.isfile(cand) and os.access(cand, os.X_OK):
                binaries[name] = cand
    store = os.path.join(nix_root, "store")
    try:
        st = os.stat(store)
    except OSError:
        st = None
    if not binaries and st is None:
        return None
    facts = NixFacts(binaries=binaries)
    if st is not None:
        facts.store_owner, facts.store_group = _owner_names(st)
    if "nix" in binaries:
        facts.version = nix_version(binaries["nix"], timeout)
    conf_text = ""
    for conf in (os.path.join(etc_root, "nix/nix.conf"),):
        text = _read(conf)
        if text is not None:
            facts.nix_conf, conf_text = conf, text
    socket = os.path.join(nix_root, "var/nix/daemon-socket/socket")
    try:
        is_socket = stat.S_ISSOCK(os.stat(socket).st_mode)
    except OSError:
        is_socket = False
    build_group = _conf_value(conf_text, "build-users-group")
    if is_socket:
        facts.mode = "daemon"
    elif st is not None and st.st_uid == 0 and build_group:
        facts.mode = "daemon"
    else:
        facts.mode = "single"  # no daemon to talk to: nix opens the store itself
    # where the nix binary came from
    nix = binaries.get("nix", "")
    real = os.path.realpath(nix) if nix else ""
    in_store = real.startswith(os.path.join(nix_root, "store") + "/")
    if nix and in_store and _onboard_installed_nix():
        facts.source = "onboard"
    elif nix and (_dpkg_owns(nix, dpkg_info) or _dpkg_owns(real, dpkg_info)):
        facts.source = "distro"
    elif nix.startswith("/run/current-system/"):
        facts.source = "distro"
    elif in_store:
        facts.source = "official"
    return facts


# -- privileges and the user's shell --------------------------------------------------------


def is_root() -> bool:
    return os.geteuid() == 0


def can_sudo(timeout: float = 2.0) -> bool:
    """Root, or `sudo -n true` succeeds without a password."""
    if is_root():
        return True
    sudo = shutil.which("sudo")
    if not sudo:
        return False
    try:
        return subprocess.run([sudo, "-n", "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=timeout).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def login_shell() -> str:
    """The user's login shell from the password database, else $SHELL, else ""."""
    import pwd

    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        shell = ""
    return shell or os.environ.get("SHELL", "")
