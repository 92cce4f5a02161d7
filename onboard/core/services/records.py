"""What is known of a project's services without starting anything: the supervisor's records,
the processes that carry the project's token, each service's status and log, and the data
directories (with their size) that `uninstall` and `gc` list. control.py, which starts and
stops them, re-exports these; the front ends call control.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Optional

from onboard.core import procs
from onboard.core.profiles.model import Profile
from onboard.core.services import registry, state
from onboard.core.services.model import ServiceSpec, specs


def _data_dir(root: str, s: ServiceSpec, data_root: str = "") -> str:
    if data_root:
        return os.path.join(data_root, s.name)
    return state.data_dir(root, s.name, s.data_dir)


def supervisor_pids(root: str) -> list[int]:
    rec = state.read_json(state.path(root, "supervisor.json"))
    if not isinstance(rec, dict):
        return []
    pids = set(procs.find(rec))
    pid = (rec.get("proc") or {}).get("pid")
    if pid and procs.matches(pid, rec):
        pids.add(pid)
    return sorted(pids)


def running(root: str) -> bool:
    return bool(supervisor_pids(root))


def read_status(root: str) -> dict[str, Any]:
    doc = state.read_json(state.path(root, "status.json"))
    return doc if isinstance(doc, dict) else {}


def strays(root: str) -> dict[int, str]:
    """Every live process carrying this project's services token: pid -> service name."""
    needle = f"{state.TOKEN_VAR}={state.token(root)}".encode()
    name_key = f"{state.NAME_VAR}=".encode()
    out: dict[int, str] = {}
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        parts = data.split(b"\0")
        if needle in parts:
            name = next((p[len(name_key):].decode("utf-8", "replace") for p in parts if p.startswith(name_key)), "")
            if procs.start_ticks(int(entry)) is not None:
                out[int(entry)] = name
    return out


def _stop_strays(root: str, timeout: float = 15.0) -> list[int]:
    """Stop what is left of this project's services (after a SIGKILL of the supervisor)."""
    left = strays(root)
    if not left:
        return []
    run = state.read_json(state.path(root, "run.json")) or {}
    kinds = {s["name"]: s for s in run.get("services", [])} if isinstance(run, dict) else {}
    for pid, name in left.items():
        svc = kinds.get(name)
        sig = signal.SIGTERM
        if svc:
            sig = getattr(signal, svc.get("stop") or "", None) or registry.by_id(svc["kind"]).impl().STOP
        _signal_group(pid, int(sig))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap()
        left = strays(root)
        if not left:
            return []
        time.sleep(0.02)
    for pid in left:
        _signal_group(pid, signal.SIGKILL)
    time.sleep(0.05)
    _reap()
    return sorted(strays(root))


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except OSError:
        pass
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def tail(path: str, n: int = 10) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 16384))
            data = fh.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-n:]


def status(root: str, profile: Optional[Profile] = None, alive: Optional[bool] = None) -> list[dict[str, Any]]:
    """Each service: name, kind, state, pid, port, data_dir, uptime, log, last lines of the log.
    `alive`: whether the supervisor runs, when the caller knows (else /proc is looked at)."""
    alive = running(root) if alive is None else alive
    st = read_status(root) if alive else {}
    kept = state.ports(root)
    rows: dict[str, dict[str, Any]] = {}
    for s in specs(profile.services) if profile else []:
        rows[s.name] = {"name": s.name, "kind": s.kind, "state": "stopped", "pid": None,
                        "port": kept.get(s.name) if s.port is not None else None,
                        "data_dir": _data_dir(root, s), "uptime": None, "log": state.log_file(root, s.name),
                        "message": ""}
    for name, e in (st.get("services") or {}).items():
        ready_at = e.get("ready_at") or 0
        rows[name] = {"name": name, "kind": e.get("kind"), "state": e.get("state"), "pid": e.get("pid"),
                      "port": e.get("port"), "data_dir": e.get("data_dir"),
                      "uptime": round(time.time() - ready_at, 1) if ready_at and e.get("state") == "ready"
                      else None, "log": e.get("log"), "message": e.get("message") or ""}
    for r in rows.values():
        r["log_tail"] = tail(r["log"] or "", 5)
        r["profile"] = st.get("profile") or (profile.name if profile else "")
        r["ephemeral"] = bool(st.get("ephemeral"))
    return list(rows.values())


def dir_size(path: str) -> int:
    from onboard.core.engine.fsutil import tree_size

    return tree_size(path)


DATA_RECORD = "data.json"  # every data directory an up used: {service: [path, ...]}


def _record_data_dirs(root: str, dirs: dict[str, str]) -> None:
    """Remember the data directories (a profile's `data_dir` may be anywhere), so uninstall
    and gc can list them after the profile changed or went."""
    rec = state.read_json(state.path(root, DATA_RECORD))
    rec = rec if isinstance(rec, dict) else {}
    changed = False
    for name, path in dirs.items():
        known = rec.setdefault(name, [])
        if path not in known:
            known.append(path)
            changed = True
    if changed:
        state.write_json(state.path(root, DATA_RECORD), rec)


def data_dirs(root: str) -> list[tuple[str, str, int]]:
    """(service, data dir, size in bytes) of every service with data: in this project's
    state, and wherever a profile's `data_dir` put it."""
    out = []
    seen: set[str] = set()
    sdir = state.services_dir(root)
    try:
        names = sorted(os.listdir(sdir))
    except OSError:
        return []
    for n in names:
        d = os.path.join(sdir, n, "data")
        if os.path.isdir(d):
            out.append((n, d, dir_size(d)))
            seen.add(d)
    rec = state.read_json(state.path(root, DATA_RECORD))
    for n, paths in sorted(rec.items()) if isinstance(rec, dict) else []:
        for d in paths if isinstance(paths, list) else []:
            if isinstance(d, str) and d not in seen and os.path.isdir(d):
                out.append((n, d, dir_size(d)))
                seen.add(d)
    return out
