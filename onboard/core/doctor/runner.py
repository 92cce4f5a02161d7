"""Run the checks concurrently, emit an event as each one finishes, and recommend an install mode."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Iterable, Optional

from onboard.core.doctor.model import REGISTRY, Check, CheckFinished, CheckResult, CheckStarted, Inputs
from onboard.core.events import Emitter, discard

# check modules, in the order their rows are shown
MODULES = ("platform", "init_system", "privileges", "resources", "nix", "security", "virtualization", "shell",
           "direnv", "editors", "network")
_loaded = False


def load_checks() -> dict[str, Check]:
    """Import every check module (registration order is display order)."""
    global _loaded
    if not _loaded:
        import importlib

        for name in MODULES:
            importlib.import_module(f"onboard.core.doctor.{name}")
        _loaded = True
    return REGISTRY


def check_ids() -> list[str]:
    return list(load_checks())


class UnknownCheck(ValueError):
    def __init__(self, unknown: list[str], known: list[str]) -> None:
        import difflib

        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u, known, n=1)
            hints.append(f"{u!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        super().__init__(f"unknown check {', '.join(hints)}; known checks: {', '.join(known)}")
        self.unknown = unknown


def _run_one(chk: Check, inp: Inputs) -> CheckResult:
    try:
        return chk.fn(inp)
    except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
        return CheckResult(chk.id, chk.title, "warn", f"the check itself failed: {type(exc).__name__}: {exc}",
                           "this is a bug in onboard; please report it", {"error": repr(exc)})


def run_checks(emit: Emitter = discard, only: Optional[Iterable[str]] = None, timeout: float = 1.5,
               overrides: "Inputs | dict[str, Any] | None" = None) -> list[CheckResult]:
    """Run the checks in threads. Events are emitted from the calling thread: CheckStarted for
    each check, then CheckFinished as each completes. A check still running after `timeout`
    seconds is reported as a warning (its thread is left to finish on its own)."""
    registry = load_checks()
    known = list(registry)
    wanted = known if only is None else [i.strip() for i in only if i.strip()]
    unknown = [i for i in wanted if i not in registry]
    if unknown:
        raise UnknownCheck(unknown, known)
    wanted = [i for i in known if i in set(wanted)]
    inp = Inputs.make(overrides)
    done: "queue.Queue[tuple[str, CheckResult]]" = queue.Queue()
    for cid in wanted:
        chk = registry[cid]
        emit(CheckStarted(id=cid, title=chk.title))
        threading.Thread(target=lambda c=chk: done.put((c.id, _run_one(c, inp))), daemon=True,
                         name=f"doctor-{cid}").start()
    results: dict[str, CheckResult] = {}
    deadline = time.monotonic() + timeout
    while len(results) < len(wanted):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            cid, res = done.get(timeout=left)
        except queue.Empty:
            break
        results[cid] = res
        emit(CheckFinished(result=res.to_dict()))
    for cid in wanted:
        if cid not in results:
            chk = registry[cid]
            res = CheckResult(cid, chk.title, "warn", f"no answer within {timeout:g} s",
                              "run `onboard doctor --only " + cid + "` again; a slow disk, DNS or sudo "
                              "may be hanging", {"timed_out": True})
            results[cid] = res
            emit(CheckFinished(result=res.to_dict()))
    return [results[cid] for cid in wanted]


def recommend_mode(results: Iterable[CheckResult]) -> tuple[str, str]:
    """("single" | "daemon", why) from the doctor's findings."""
    by_id = {r.id: r for r in results}

    def d(cid: str) -> dict:
        r = by_id.get(cid)
        return r.details if r else {}

    nix = d("nix")
    if nix.get("present") and nix.get("mode") in ("single", "daemon") and nix.get("source") == "onboard":
        return nix["mode"], f"Nix is already installed by onboard in {nix['mode']}-user mode"
    if d("wsl").get("version") == 1:
        return "single", "WSL1 cannot run Nix well in any mode; single-user is the least that can work"
    root = d("privileges")
    init = d("init").get("init")
    kind = d("container").get("kind")
    missing = [cid for cid in ("init", "privileges", "container") if cid not in by_id]
    if missing:
        return "single", (f"not enough was checked to recommend daemon mode ({', '.join(missing)} did not "
                          "run); single-user mode works everywhere")
    if kind and init != "systemd":
        return "single", f"in a {kind} container without systemd there is no service manager for nix-daemon"
    if d("wsl").get("version") == 2 and init != "systemd":
        return "single", "WSL2 without systemd cannot run nix-daemon as a service"
    if init is not None and init != "systemd":
        return "single", "no systemd to run nix-daemon as a service"
    if root and not (root.get("root") or root.get("sudo")):
        if root.get("sudo_installed"):
            return "daemon", ("systemd is here and sudo can give root (it will ask for your password); "
                              "daemon mode isolates builds and shares the store between users")
        return "single", "no root or sudo: daemon mode needs root to create build users and a service"
    if d("selinux").get("mode") == "enforcing":
        return "single", ("SELinux is enforcing: systemd may refuse the nix-daemon units in /nix/store; "
                          "single-user mode avoids them")
    if nix.get("present") and nix.get("mode") == "daemon":
        return "daemon", "a daemon-mode Nix is already here; keep the same layout"
    return "daemon", ("root or sudo and systemd are available: daemon mode isolates builds in build "
                      "users and shares one store between all users")
