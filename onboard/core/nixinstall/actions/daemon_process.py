"""nix-daemon run by onboard itself where there is no init system (containers, WSL)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from onboard.core import procs
from onboard.core.actions.system import (PROXY_VARS, proc_alive, proc_is, read_pidfile, socket_alive,
                                         stop_process)
from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.engine.fsutil import atomic_write, read_bytes
from onboard.core.nixinstall import layout


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

    def _intent(self) -> dict[str, Any]:
        return procs.intent(self.program, self.name, under=layout.STORE)

    def _running(self, tracked: Optional[dict[str, Any]] = None) -> Optional[int]:
        """The daemon onboard started: the pid file's process if it runs this release's nix-daemon
        (started after the recorded intent, when there is one), else a process the record matches."""
        pid = read_pidfile(self.pidfile)
        rec = tracked or dict(self._intent(), after=0)
        if procs.matches(pid, rec):
            return pid
        found = procs.find(tracked) if tracked else []
        return found[0] if found else None

    def check(self, ctx: Context) -> bool:
        return self._running() is not None and os.path.exists(self.socket)

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        # the intent is in the receipt before the spawn: a crash right after it can still find the daemon
        return {"socket_existed": os.path.lexists(self.socket) and self._running() is None,
                "tracked": self._intent()}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        tracked = record.setdefault("tracked", self._intent())
        pid = self._running(tracked)
        if pid is not None:  # started by an earlier run that was killed before it recorded the pid
            procs.adopt(tracked, pid)
            if read_pidfile(self.pidfile) != pid:
                atomic_write(self.pidfile, f"{pid}\n".encode(), mode=0o644)
            record["pid"] = pid
            ctx.log(f"{self.name} is already running (pid {pid}), started by onboard earlier")
        else:
            if os.path.lexists(self.socket) and not socket_alive(self.socket):
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
                proc = procs.spawn(tracked, [self.program, *self.args], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, env=env, cwd="/")
            except OSError as exc:
                raise ActionError(f"cannot start {self.program}: {exc.strerror or exc}") from exc
            finally:
                if self.log:
                    out.close()  # type: ignore[union-attr]
            pid = proc.pid
            atomic_write(self.pidfile, f"{pid}\n".encode(), mode=0o644)
            record["pid"] = pid
            ctx.log(f"started {self.name} (pid {pid})")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(self.socket) and socket_alive(self.socket):
                return
            if not proc_alive(pid):
                break
            time.sleep(0.05)
        tail = ""
        if self.log:
            tail = (read_bytes(self.log) or b"").decode("utf-8", "replace").strip()[-400:]
        procs.stop(tracked, extra=[pid])
        raise ActionError(f"{self.name} did not start listening on {self.socket}" + (f": {tail}" if tail else ""),
                          hint=f"read {self.log}" if self.log else "")

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record:
            return
        tracked = record.get("tracked")
        if tracked:  # every process the record matches, and only those
            left = procs.stop(tracked, extra=[p for p in (read_pidfile(self.pidfile), record.get("pid")) if p])
        else:  # a receipt from before tracked processes: its pid, if it still is nix-daemon
            left = [p for p in {read_pidfile(self.pidfile), record.get("pid")}
                    if p and not stop_process(p, self.name)]
        if left:
            raise ActionError(f"could not stop {self.name} (pid {left[0]})", hint=f"kill {left[0]} as root")
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
