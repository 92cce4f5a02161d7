"""System helpers for actions that change users, groups and processes: name-service
lookups (getent, so LDAP/NIS entries count too), the backup files shadow's tools rewrite,
proxy variables, and stopping a process started earlier. The actions themselves live with
their capability (Nix's build users, group and daemon: onboard.core.nixinstall.actions).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Optional

from onboard.core.engine.action import Context
from onboard.core.engine.fsutil import atomic_write, read_bytes


#: backups that shadow's tools rewrite on every change; put back on revert so /etc is as it was
SHADOW_BACKUPS = ("passwd-", "group-", "shadow-", "gshadow-", ".pwd.lock")


def getent(db: str, key: str | int) -> Optional[list[str]]:
    """One entry of a name service database (passwd, group), split on ':', or None."""
    try:
        proc = subprocess.run(["getent", db, str(key)], capture_output=True, text=True, timeout=10,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return _getent_py(db, key)
    except subprocess.SubprocessError:
        return None
    if proc.returncode != 0 or not proc.stdout.strip():
        return None
    return proc.stdout.splitlines()[0].split(":")


def _getent_py(db: str, key: str | int) -> Optional[list[str]]:
    import grp
    import pwd

    try:
        if db == "group":
            g = grp.getgrgid(int(key)) if str(key).isdigit() else grp.getgrnam(str(key))
            return [g.gr_name, "x", str(g.gr_gid), ",".join(g.gr_mem)]
        p = pwd.getpwuid(int(key)) if str(key).isdigit() else pwd.getpwnam(str(key))
        return [p.pw_name, "x", str(p.pw_uid), str(p.pw_gid), p.pw_gecos, p.pw_dir, p.pw_shell]
    except KeyError:
        return None


def nologin_shell() -> str:
    for cand in ("/usr/sbin/nologin", "/sbin/nologin", "/usr/bin/nologin", "/bin/false"):
        if os.path.exists(cand):
            return cand
    return "/sbin/nologin"


def snapshot_shadow_backups(ctx: Context, etc: str, tag: str = "") -> dict[str, Any]:
    """Save the backup files shadow's tools rewrite (passwd-, group-, ...) before an action that runs
    them; `restore_shadow_backups` puts them back. Every snapshot has backups of its own (`tag`
    names the action), so two actions of one run never share one."""
    saved: dict[str, Any] = {}
    token = f"{tag + '-' if tag else ''}{os.getpid()}-{os.urandom(4).hex()}"
    for name in SHADOW_BACKUPS:
        p = Path(etc) / name
        data = read_bytes(p)
        if data is None:
            saved[name] = None
            continue
        dest = ctx.backups() / f"etc-{name.strip('.')}-{token}"
        atomic_write(dest, data, mode=0o600)
        st = p.stat()
        saved[name] = {"backup": str(dest), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}
    return saved


def restore_shadow_backups(saved: dict[str, Any], etc: str) -> None:
    for name, info in saved.items():
        p = Path(etc) / name
        if info is None:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            continue
        data = read_bytes(info["backup"])
        if data is None:
            continue
        atomic_write(p, data, mode=info["mode"], uid=info["uid"], gid=info["gid"])
        try:
            os.unlink(info["backup"])
        except FileNotFoundError:
            pass


PROXY_VARS = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")


def proxy_env(environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    environ = dict(os.environ) if environ is None else environ
    return {k: environ[k] for k in PROXY_VARS if environ.get(k)}


def proc_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def proc_is(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return needle in cmd


def read_pidfile(path: str) -> Optional[int]:
    try:
        text = Path(path).read_text().strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() else None


def stop_process(pid: int, needle: str, timeout: float = 10.0) -> bool:
    """SIGTERM (then SIGKILL) the process group of `pid` if it still is `needle`. True when gone."""
    if not (proc_alive(pid) and proc_is(pid, needle)):
        return True
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + (timeout if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not proc_alive(pid):
                return True
            time.sleep(0.05)
    return not proc_alive(pid)


def socket_alive(path: str) -> bool:
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


__all__ = ["getent", "nologin_shell", "snapshot_shadow_backups", "restore_shadow_backups", "PROXY_VARS",
           "proxy_env", "proc_alive", "proc_is", "read_pidfile", "stop_process", "socket_alive"]
