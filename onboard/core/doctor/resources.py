"""Memory and free disk space where the Nix store lives (or will live)."""

from __future__ import annotations

import os
from typing import Any

from onboard.core.doctor.model import Check, CheckResult, Inputs, check

GIB = 1024 ** 3
MEM_FAIL, MEM_WARN = 1 * GIB, 2 * GIB
DISK_FAIL, DISK_WARN = 2 * GIB, 8 * GIB


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit in ("B", "KiB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def meminfo(proc_root: str = "/proc") -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    with open(os.path.join(proc_root, "meminfo")) as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


@check("memory", "Memory")
def check_memory(c: Check, inp: Inputs) -> CheckResult:
    try:
        info = meminfo(inp.proc_root)
    except OSError as exc:
        return c.result("warn", f"cannot read meminfo: {exc.strerror}", "check that /proc is mounted")
    total = info.get("MemTotal", 0)
    avail = info.get("MemAvailable", info.get("MemFree", 0))
    details: dict[str, Any] = {"total_bytes": total, "available_bytes": avail}
    text = f"{human(total)} total, {human(avail)} available"
    if total < MEM_FAIL:
        return c.result("fail", f"{text}: evaluating nixpkgs needs about 1 GiB",
                        "use a machine with at least 2 GiB of memory, or add swap", **details)
    if total < MEM_WARN or avail < MEM_FAIL:
        return c.result("warn", f"{text}: large evaluations may be slow or run out of memory",
                        "close other programs or add swap", **details)
    return c.result("ok", text, **details)


def nearest_existing(path: str) -> str:
    """`path` itself, or its closest parent that exists."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def disk_free(path: str) -> tuple[str, int, int]:
    """(the path measured, free bytes for unprivileged users, total bytes)."""
    where = nearest_existing(path)
    st = os.statvfs(where)
    return where, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


@check("disk", "Free disk for /nix")
def check_disk(c: Check, inp: Inputs) -> CheckResult:
    target = os.path.join(inp.nix_root, "store")
    try:
        where, free, total = disk_free(target)
    except OSError as exc:
        return c.result("warn", f"cannot measure free space at {inp.nix_root}: {exc.strerror}",
                        "check the path exists and is readable")
    details: dict[str, Any] = {"path": where, "free_bytes": free, "total_bytes": total}
    on = f"on {where}" if where == target else f"on {where} (where {target} would be created)"
    text = f"{human(free)} free {on}"
    if free < DISK_FAIL:
        return c.result("fail", f"{text}: a dev shell needs a few GiB",
                        f"free at least {human(DISK_WARN)} on that filesystem, or mount a larger disk "
                        f"at {inp.nix_root}", **details)
    if free < DISK_WARN:
        return c.result("warn", f"{text}: enough for a small shell, tight for a real stack",
                        f"free up space (aim for {human(DISK_WARN)}), or run `onboard gc` later", **details)
    return c.result("ok", text, **details)
