"""Where a Nix install puts things, and for whom."""

from __future__ import annotations

import os
import pwd
import grp
from dataclasses import dataclass
from pathlib import Path

from onboard.core import paths

NIX_ROOT = "/nix"
STORE = "/nix/store"
STATE = "/nix/var/nix"
ONBOARD_DIR = "/nix/var/onboard"  # the unpacked release (.reginfo, install script) and the daemon's pid
STAGING = ONBOARD_DIR + "/release"
DEFAULT_PROFILE = STATE + "/profiles/default"
DAEMON_SOCKET = STATE + "/daemon-socket/socket"
DAEMON_PIDFILE = ONBOARD_DIR + "/nix-daemon.pid"
DAEMON_LOG = "/nix/var/log/nix/onboard-nix-daemon.log"
ETC_NIX_CONF = "/etc/nix/nix.conf"
SYSTEMD_DIR = "/etc/systemd/system"

#: what Nix itself creates in a home directory; removed on uninstall when it was not there before
HOME_ITEMS = (".nix-profile", ".nix-defexpr", ".nix-channels", ".cache/nix", ".local/state/nix")


@dataclass(frozen=True)
class Who:
    """The person Nix is installed for: under sudo, the user who ran sudo."""

    user: str
    uid: int
    gid: int
    group: str
    home: str
    via_sudo: bool = False

    @property
    def is_root(self) -> bool:
        return self.uid == 0


def who() -> Who:
    euid = os.geteuid()
    sudo_user = os.environ.get("SUDO_USER", "")
    if euid == 0 and sudo_user and sudo_user != "root":
        try:
            pw = pwd.getpwnam(sudo_user)
        except KeyError:
            pw = None
        if pw is not None:
            return Who(user=pw.pw_name, uid=pw.pw_uid, gid=pw.pw_gid, group=_group_name(pw.pw_gid),
                       home=pw.pw_dir, via_sudo=True)
    try:
        pw = pwd.getpwuid(euid)
        name, gid = pw.pw_name, pw.pw_gid
    except KeyError:
        name, gid = str(euid), os.getegid()
    return Who(user=name, uid=euid, gid=gid, group=_group_name(gid), home=str(paths.home()))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def user_profile(user: str) -> str:
    return f"{STATE}/profiles/per-user/{user}/profile"


def home_path(home: str, rel: str) -> str:
    return str(Path(home) / rel)
