"""System changes: a group, build users, systemd units, a daemon process.

Ids are checked with getent (so LDAP/NIS users count too) before anything changes; a
collision is a clear error. Revert removes only what onboard created.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import atomic_write, read_bytes, sha256_bytes
from onboard.core.events import ActionProgress

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


def _snapshot_shadow_backups(ctx: Context, etc: str) -> dict[str, Any]:
    saved: dict[str, Any] = {}
    for name in SHADOW_BACKUPS:
        p = Path(etc) / name
        data = read_bytes(p)
        if data is None:
            saved[name] = None
            continue
        dest = ctx.backups() / f"etc-{name.strip('.')}-{os.getpid()}"
        atomic_write(dest, data, mode=0o600)
        st = p.stat()
        saved[name] = {"backup": str(dest), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}
    return saved


def _restore_shadow_backups(saved: dict[str, Any], etc: str) -> None:
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


@register
@dataclass
class CreateGroup(Action):
    """A system group (nixbld for Nix's build users)."""

    kind = "group"
    needs_root = True
    name: str = ""
    gid: int = 0
    etc: str = "/etc"
    summary: str = ""

    def target(self) -> str:
        return f"group {self.name} (gid {self.gid})"

    def describe(self) -> str:
        return self.summary or f"create the group {self.name} (gid {self.gid})"

    def check(self, ctx: Context) -> bool:
        return getent("group", self.name) is not None

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        other = getent("group", self.gid)
        if other is not None and other[0] != self.name:
            raise ActionError(f"gid {self.gid} is already used by the group {other[0]!r}",
                              hint="free it, or pick another id range for Nix's build group")
        return {"shadow_backups": _snapshot_shadow_backups(ctx, self.etc)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        if getent("group", self.name) is None:
            ctx.run(["groupadd", "--system", "--gid", str(self.gid), self.name])

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        entry = getent("group", self.name)
        if entry is not None and entry[2] == str(self.gid):
            ctx.run(["groupdel", self.name])
        _restore_shadow_backups(record.get("shadow_backups", {}), self.etc)


@register
@dataclass
class BuildUsers(Action):
    """Nix's build users nixbld1..N: no password, no login shell, home /var/empty."""

    kind = "build-users"
    needs_root = True
    prefix: str = "nixbld"
    count: int = 32
    first_uid: int = 30001
    group: str = "nixbld"
    gid: int = 30000
    home: str = "/var/empty"
    shell: str = ""
    summary: str = ""

    def names(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(1, self.count + 1)]

    def target(self) -> str:
        return f"users {self.prefix}1..{self.prefix}{self.count}"

    def describe(self) -> str:
        return self.summary or (f"create {self.count} build users {self.prefix}1..{self.prefix}{self.count} "
                                f"(uid {self.first_uid}..{self.first_uid + self.count - 1}, group {self.group})")

    def paths(self) -> list[str]:
        return [f"user {n}" for n in self.names()]

    def _gid(self) -> int:
        entry = getent("group", self.group)
        return int(entry[2]) if entry else self.gid

    def check(self, ctx: Context) -> bool:
        gid = self._gid()
        for n in self.names():
            e = getent("passwd", n)
            if e is None or int(e[3]) != gid:
                return False
        return True

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        existing, problems = user_plan_problems(self.prefix, self.count, self.first_uid, self._gid())
        if problems:
            raise ActionError("; ".join(problems[:5]),
                              hint="free those ids or names, or pick another id range for the build users")
        return {"existing_users": existing}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        shell = self.shell or nologin_shell()
        gid = self._gid()
        for i, n in enumerate(self.names(), 1):
            if getent("passwd", n) is None:
                ctx.run(["useradd", "--system", "--no-create-home", "--no-log-init", "--no-user-group",
                         "--home-dir", self.home, "--shell", shell, "--uid", str(self.first_uid + i - 1),
                         "--gid", str(gid), "--groups", self.group, "--comment", f"Nix build user {i}",
                         "--password", "!", n])
            ctx.emit(ActionProgress(action_id=ctx.action_id, done=i, total=self.count, unit="users", text=n))

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "existing_users" not in record:
            return
        keep = set(record["existing_users"])
        for i, n in enumerate(self.names(), 1):
            if n in keep:
                continue
            e = getent("passwd", n)
            if e is not None and int(e[2]) == self.first_uid + i - 1:
                ctx.run(["userdel", n])


def user_plan_problems(prefix: str, count: int, first_uid: int, gid: int) -> tuple[list[str], list[str]]:
    """Which build users already exist (and fit), and every id or name collision."""
    existing, problems = [], []
    for i in range(1, count + 1):
        name, uid = f"{prefix}{i}", first_uid + i - 1
        e = getent("passwd", name)
        if e is not None:
            if int(e[3]) != gid:
                problems.append(f"the user {name} exists but its group is not the build group (gid {gid})")
            else:
                existing.append(name)
            continue
        other = getent("passwd", uid)
        if other is not None:
            problems.append(f"uid {uid} (for {name}) is already used by the user {other[0]!r}")
    return existing, problems


# -- systemd -------------------------------------------------------------------------------------

UNITS = ("nix-daemon.socket", "nix-daemon.service")


def generated_unit(name: str, daemon_bin: str, state_dir: str = "/nix/var/nix",
                   store_dir: str = "/nix/store") -> str:
    """Unit files for a release that ships none (the same settings as Nix's own)."""
    if name.endswith(".socket"):
        return ("[Unit]\nDescription=Nix Daemon Socket\nBefore=multi-user.target\n"
                f"RequiresMountsFor={store_dir}\n"
                f"ConditionPathIsReadWrite={state_dir}/daemon-socket\n\n"
                f"[Socket]\nListenStream={state_dir}/daemon-socket/socket\n\n"
                "[Install]\nWantedBy=sockets.target\n")
    return ("[Unit]\nDescription=Nix Daemon\nDocumentation=man:nix-daemon https://nixos.org/manual\n"
            f"RequiresMountsFor={store_dir}\nRequiresMountsFor={state_dir}\n"
            f"ConditionPathIsReadWrite={state_dir}/daemon-socket\n\n"
            f"[Service]\nExecStart=@{daemon_bin} nix-daemon --daemon\nKillMode=process\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def proxy_dropin(env: dict[str, str]) -> str:
    lines = ["[Service]"] + [f'Environment="{k}={v}"' for k, v in sorted(env.items())]
    return "\n".join(lines) + "\n"


PROXY_VARS = ("http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")


def proxy_env(environ: Optional[dict[str, str]] = None) -> dict[str, str]:
    environ = dict(os.environ) if environ is None else environ
    return {k: environ[k] for k in PROXY_VARS if environ.get(k)}


@register
@dataclass
class SystemdUnits(Action):
    """nix-daemon.socket and .service in /etc/systemd/system, linked from the Nix profile (or
    generated when the release has none), a proxy drop-in when a proxy is set, then started."""

    kind = "systemd-units"
    needs_root = True
    unit_dir: str = "/etc/systemd/system"
    profile: str = "/nix/var/nix/profiles/default"
    proxy: dict[str, str] = field(default_factory=dict)
    start: bool = True
    systemctl: str = "systemctl"
    summary: str = ""

    @property
    def dropin(self) -> str:
        return f"{self.unit_dir}/nix-daemon.service.d/onboard-proxy.conf"

    def target(self) -> str:
        return f"{self.unit_dir}/nix-daemon.socket"

    def describe(self) -> str:
        what = "link and start" if self.start else "place"
        return self.summary or f"{what} the nix-daemon systemd units (socket-activated)"

    def paths(self) -> list[str]:
        out = [f"{self.unit_dir}/{u}" for u in UNITS]
        if self.proxy:
            out.append(self.dropin)
        if self.start:
            out.append(f"{self.unit_dir}/sockets.target.wants/nix-daemon.socket")
        return out

    def _wanted(self, unit: str) -> tuple[str, str]:
        """("link", source) when the profile ships the unit, else ("file", content)."""
        src = f"{self.profile}/lib/systemd/system/{unit}"
        if os.path.exists(src):
            return "link", src
        return "file", generated_unit(unit, f"{self.profile}/bin/nix-daemon")

    def _placed(self, unit: str) -> bool:
        dest = f"{self.unit_dir}/{unit}"
        how, what = self._wanted(unit)
        if how == "link":
            return os.path.islink(dest) and os.readlink(dest) == what
        return not os.path.islink(dest) and read_bytes(dest) == what.encode()

    def _active(self) -> bool:
        try:
            return subprocess.run([self.systemctl, "is-active", "--quiet", "nix-daemon.socket"],
                                  stdin=subprocess.DEVNULL, timeout=20).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    def check(self, ctx: Context) -> bool:
        if not all(self._placed(u) for u in UNITS):
            return False
        if self.proxy and read_bytes(self.dropin) != proxy_dropin(self.proxy).encode():
            return False
        return not self.start or self._active()

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        existed = {}
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if os.path.lexists(dest) and not self._placed(u):
                raise ActionError(f"{dest} already exists; onboard will not replace another nix-daemon unit",
                                  hint="remove the other Nix install's units first, or use --mode skip")
            existed[u] = os.path.lexists(dest)
        if self.proxy and os.path.lexists(self.dropin) and \
                read_bytes(self.dropin) != proxy_dropin(self.proxy).encode():
            raise ActionError(f"{self.dropin} already exists", hint="move it aside and run again")
        return {"existed": existed, "dropin_dir_existed": os.path.isdir(os.path.dirname(self.dropin)),
                "unit_dir_existed": os.path.isdir(self.unit_dir)}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        os.makedirs(self.unit_dir, exist_ok=True)
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if self._placed(u):
                continue
            how, what = self._wanted(u)
            if how == "link":
                tmp = dest + ".onboard-tmp"
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(what, tmp)
                os.replace(tmp, dest)
            else:
                atomic_write(dest, what.encode(), mode=0o644)
            record.setdefault("placed", {})[u] = how
        if self.proxy:
            os.makedirs(os.path.dirname(self.dropin), exist_ok=True)
            atomic_write(self.dropin, proxy_dropin(self.proxy).encode(), mode=0o644)
        if self.start:
            ctx.run([self.systemctl, "daemon-reload"])
            ctx.run([self.systemctl, "enable", "nix-daemon.socket"])
            ctx.run([self.systemctl, "start", "nix-daemon.socket"])
            ctx.run([self.systemctl, "restart", "nix-daemon.service"], check=False)

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if "existed" not in record:
            return
        if self.start:
            ctx.run([self.systemctl, "disable", "--now", "nix-daemon.socket"], check=False)
            ctx.run([self.systemctl, "stop", "nix-daemon.service"], check=False)
        for u in UNITS:
            dest = f"{self.unit_dir}/{u}"
            if record["existed"].get(u) or not os.path.lexists(dest):
                continue
            how, what = self._wanted(u)
            if os.path.islink(dest) or sha256_bytes(read_bytes(dest) or b"") == sha256_bytes(what.encode()) \
                    or (read_bytes(dest) or b"").startswith(b"[Unit]\nDescription=Nix Daemon"):
                os.unlink(dest)
            else:
                ctx.notice(f"kept {dest}: it was changed after onboard wrote it")
        if self.proxy and os.path.lexists(self.dropin):
            os.unlink(self.dropin)
        if not record.get("dropin_dir_existed"):
            try:
                os.rmdir(os.path.dirname(self.dropin))
            except OSError:
                pass
        if not record.get("unit_dir_existed"):
            try:
                os.rmdir(self.unit_dir)
            except OSError:
                pass
        if self.start:
            ctx.run([self.systemctl, "daemon-reload"], check=False)


# -- a daemon process without an init system ----------------------------------------------------


def _proc_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _proc_is(pid: int, needle: str) -> bool:
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
    if not (_proc_alive(pid) and _proc_is(pid, needle)):
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
            if not _proc_alive(pid):
                return True
            time.sleep(0.05)
    return not _proc_alive(pid)


@register
@dataclass
class DaemonProcess(Action):
    """nix-daemon started by onboard itself (no init system: containers, WSL without systemd),
    with a pid file; reverted by stopping it."""

    kind = "daemon-process"
    needs_root = True
    program: str = ""
    args: list[str] = field(default_factory=list)
    pidfile: str = ""
    socket: str = ""
    log: str = ""
    env_keys: list[str] = field(default_factory=list)
    name: str = "nix-daemon"
    summary: str = ""

    def target(self) -> str:
        return f"process {self.name} (pid file {self.pidfile})"

    def describe(self) -> str:
        return self.summary or f"start {self.name} (no init system: onboard runs it; pid in {self.pidfile})"

    def paths(self) -> list[str]:
        return [f"process {self.name}", self.pidfile, self.socket, self.log]

    def _running(self) -> Optional[int]:
        pid = read_pidfile(self.pidfile)
        if pid and _proc_alive(pid) and _proc_is(pid, self.name):
            return pid
        return None

    def check(self, ctx: Context) -> bool:
        return self._running() is not None and os.path.exists(self.socket)

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        return {"socket_existed": os.path.lexists(self.socket) and self._running() is None}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        pid = self._running()
        if pid is None:
            if os.path.lexists(self.socket) and not _socket_alive(self.socket):
                os.unlink(self.socket)  # left by a daemon that is gone
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/root"}
            for k in ["LANG", "LC_ALL", "TZ", "NIX_CONFIG", "NIX_SSL_CERT_FILE", *PROXY_VARS, *self.env_keys]:
                if os.environ.get(k):
                    env[k] = os.environ[k]
            os.makedirs(os.path.dirname(self.pidfile), exist_ok=True)
            if self.log:
                os.makedirs(os.path.dirname(self.log), exist_ok=True)
            out = open(self.log, "ab") if self.log else subprocess.DEVNULL
            try:
                proc = subprocess.Popen([self.program, *self.args], stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, env=env, cwd="/", start_new_session=True)
            except OSError as exc:
                raise ActionError(f"cannot start {self.program}: {exc}") from exc
            finally:
                if self.log:
                    out.close()  # type: ignore[union-attr]
            pid = proc.pid
            atomic_write(self.pidfile, f"{pid}\n".encode(), mode=0o644)
            record["pid"] = pid
            ctx.log(f"started {self.name} (pid {pid})")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(self.socket) and _socket_alive(self.socket):
                return
            if not _proc_alive(pid):
                break
            time.sleep(0.05)
        tail = ""
        if self.log:
            tail = (read_bytes(self.log) or b"").decode("utf-8", "replace").strip()[-400:]
        stop_process(pid, self.name)
        raise ActionError(f"{self.name} did not start listening on {self.socket}" + (f": {tail}" if tail else ""),
                          hint=f"read {self.log}" if self.log else "")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        for pid in {read_pidfile(self.pidfile), record.get("pid")}:
            if pid and not stop_process(pid, self.name):
                raise ActionError(f"could not stop {self.name} (pid {pid})", hint=f"kill {pid} as root")
        for p in (self.pidfile, self.log):
            if p:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass
        if not record.get("socket_existed"):
            try:
                os.unlink(self.socket)
            except FileNotFoundError:
                pass


def _socket_alive(path: str) -> bool:
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


__all__ = ["CreateGroup", "BuildUsers", "SystemdUnits", "DaemonProcess", "getent", "user_plan_problems",
           "generated_unit", "proxy_env", "proxy_dropin", "stop_process", "read_pidfile"]
