"""Leaving in the middle of a step (a second Ctrl+C): stop the processes the step started.

The run's thread is not waited for, so whatever it started (Nix, and the builders Nix runs in
sessions of their own) would be left running. Before the TUI leaves, every descendant of this
process is found in /proc (all at once, before any is signalled: once Nix dies its builders
are no longer its children), sent SIGTERM (to its process group when it leads one of its own,
so Nix can stop its builds), and what is still there after a grace period gets SIGKILL. Each
pid is checked against its start time before every signal, so a pid reused by an unrelated
process is never touched. No textual here.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Optional


def _stat(pid: int) -> Optional[tuple[int, str, int]]:
    """(parent pid, state, start time in clock ticks) of a live process, None when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    rest = data[data.rfind(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces
    try:
        return int(rest[1]), rest[0], int(rest[19])
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> dict[int, int]:
    """{pid: start ticks} of every live process below `root` (children, their children, ...)."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st is not None and st[1] != "Z":
            parents.setdefault(st[0], []).append((int(entry), st[2]))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for pid, start in parents.get(todo.pop(), []):
            if pid not in found and pid != root:
                found[pid] = start
                todo.append(pid)
    return found


def _alive(pid: int, start: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z" and st[2] == start


def _signal(pid: int, sig: int, own_group: int) -> None:
    try:
        group = os.getpgid(pid)
        if group == pid and group != own_group:
            os.killpg(group, sig)  # the process and what it started in its group
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_children(grace: float = 2.0, root: Optional[int] = None) -> list[int]:
    """Stop every descendant of `root` (this process): SIGTERM, then SIGKILL after `grace`
    seconds for what is left. Returns the pids that could not be stopped (normally none).
    Meant for leaving: it also collects this process's exited children."""
    root = os.getpid() if root is None else root
    own_group = os.getpgid(0)
    known: dict[int, int] = {}
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 1.0)):
        signalled: set[int] = set()
        deadline = time.monotonic() + wait
        while True:
            # all at once, before any is signalled; a process started meanwhile is found next time
            known.update({p: s for p, s in descendants(root).items() if p not in known})
            live = {p: s for p, s in known.items() if _alive(p, s)}
            if not live:
                return []
            for pid, start in live.items():
                if pid not in signalled and _alive(pid, start):
                    _signal(pid, sig, own_group)
                    signalled.add(pid)
            if time.monotonic() >= deadline:
                break
            time.sleep(0.02)
            _reap()
    return sorted(p for p, s in known.items() if _alive(p, s))


def _reap() -> None:
    """Collect this process's own exited children (else they linger as zombies until exit)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
