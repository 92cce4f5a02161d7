"""Processes onboard starts itself (nix-daemon without an init system; later, services) and must
find again after a crash: the one tracked-process record.

The record lives in an action's receipt record. `intent()` is written there *before* the process
is spawned (the engine saves the record before execute), so a SIGKILL between the spawn and the
moment the pid is known still leaves enough to find the process: it runs the recorded executable
and started after the intent, on this boot. Once spawned, `spawn()` adds the pid, its start time
and its executable. `find()` returns only processes that match that record, so a pid that another
program reused is never taken for onboard's (and never stopped).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any, Optional, Sequence

#: clock ticks per second, the unit of a process's start time in /proc/PID/stat
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def now_ticks() -> int:
    """Now, in the clock /proc/PID/stat's start times use (ticks since boot)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * _TICKS)


def start_ticks(pid: int) -> Optional[int]:
    """When `pid` started (ticks since boot), or None when there is no such live process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if not fields or fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])  # field 22 of stat; the list starts at field 3 (state)
    except (IndexError, ValueError):
        return None


def exe_of(pid: int) -> str:
    """The executable `pid` runs (resolved), or "" when it cannot be read."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""
    return exe[: -len(" (deleted)")] if exe.endswith(" (deleted)") else exe


def argv0_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().split(b"\0", 1)[0].decode("utf-8", "replace")
    except OSError:
        return ""


def cwd_of(pid: int) -> str:
    """The working directory of `pid`, or "" when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def intent(program: str, name: str = "", under: str = "") -> dict[str, Any]:
    """What to record before spawning `program`: its executable, the process name and when.
    `under` (e.g. /nix/store) is where the executable must live for a process to match."""
    return {"program": program, "exe": os.path.realpath(program), "name": name or os.path.basename(program),
            "under": under, "boot": boot_id(), "after": now_ticks() - 1}


def _is_match(pid: int, rec: dict[str, Any]) -> bool:
    start = start_ticks(pid)
    if start is None or not rec.get("exe"):
        return False
    if rec.get("boot") and rec["boot"] != boot_id():
        return False  # a record from before a reboot matches nothing
    exe = exe_of(pid)
    if exe != rec["exe"]:
        return False
    under = rec.get("under") or ""
    if under and not exe.startswith(under.rstrip("/") + "/"):
        return False
    if rec.get("name") and os.path.basename(argv0_of(pid)) != rec["name"]:
        return False
    if rec.get("cwd") and cwd_of(pid) != rec["cwd"]:
        return False  # e.g. a service: its own data directory
    return start >= int(rec.get("after", 0))  # (the recorded pid started after it too)


def find(rec: Optional[dict[str, Any]]) -> list[int]:
    """Live processes that match the record, the oldest first (a daemon before its workers)."""
    if not rec:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid() and _is_match(int(entry), rec):
            found.append((start_ticks(int(entry)) or 0, int(entry)))
    return [pid for _start, pid in sorted(found)]


def matches(pid: Optional[int], rec: Optional[dict[str, Any]]) -> bool:
    """True when `pid` is a live process that the record matches."""
    return bool(pid and rec and _is_match(pid, rec))


def spawn(rec: dict[str, Any], argv: Sequence[str], **popen_kw: Any) -> subprocess.Popen:
    """Start the process of an intent already saved, in a session of its own, and record its pid,
    start time and executable in `rec`. OSError when it cannot be started."""
    proc = subprocess.Popen(list(argv), start_new_session=True, **popen_kw)
    rec["proc"] = {"pid": proc.pid, "start": start_ticks(proc.pid), "exe": exe_of(proc.pid) or rec.get("exe")}
    return proc


def adopt(rec: dict[str, Any], pid: int) -> None:
    """Record `pid` (found by `find`) as the record's process."""
    rec["proc"] = {"pid": pid, "start": start_ticks(pid), "exe": exe_of(pid)}


def stop(rec: Optional[dict[str, Any]], extra: Sequence[int] = (), timeout: float = 10.0,
         sig_first: int = signal.SIGTERM) -> list[int]:
    """Stop every process the record matches (its process group, when it leads one), `sig_first`
    (SIGTERM) then SIGKILL; `extra` pids are stopped only if the record matches them too. The
    pids that are still running."""
    if not rec:
        return []
    targets = sorted(set(find(rec)) | {p for p in extra if matches(p, rec)})
    for sig, wait in ((sig_first, timeout), (signal.SIGKILL, 5.0)):
        for pid in targets:
            if not matches(pid, rec):
                continue  # gone (or, after all, not ours): never signalled
            _signal(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(targets)
            targets = [p for p in targets if matches(p, rec)]
            if not targets:
                return []
            time.sleep(0.05)
    return targets


def _signal(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def _reap(pids: Sequence[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


__all__ = ["intent", "spawn", "adopt", "find", "matches", "stop", "start_ticks", "exe_of", "cwd_of", "boot_id"]
