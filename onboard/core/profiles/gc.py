"""`onboard gc`: drop old generations and their GC roots, drop caches of profiles that are
gone, show what each project still pins (and its size), then run Nix's garbage collector.

The current generation of a project is never dropped. Nix's collector runs in one of
three ways: "all" (`nix-store --gc`: everything nothing roots, the usual), "released"
(only store paths onboard just released and nothing else roots: safe beside other work
on the same store), or "none".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Optional

from onboard.core.engine.fsutil import tree_size
from onboard.core.events import Emitter, LogLine, Notice, discard
from onboard.core.profiles import cache, generations
from onboard.core.profiles.generations import Generation

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
NIX_GC_MODES = ("all", "released", "none")


def parse_age(text: str) -> float:
    """'30d' -> seconds. Units: s, m, h, d, w."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ValueError(f"{text!r} is not an age: write a number and a unit, e.g. 30d, 12h, 2w")
    return float(m.group(1)) * UNITS[m.group(2)]


@dataclass
class StaleEnv:
    name: str
    directory: str
    reason: str
    store_paths: list[str] = field(default_factory=list)


@dataclass
class Pin:
    project: str
    generations: list[int]
    current: Optional[str]
    paths: int = 0
    size: int = 0  # bytes of the closure of everything the project's kept generations hold


@dataclass
class UnusedVenv:
    path: str
    size: int = 0  # bytes


@dataclass
class GcPlan:
    older_than: Optional[float]
    drop: list[Generation] = field(default_factory=list)
    stale_envs: list[StaleEnv] = field(default_factory=list)
    pins: list[Pin] = field(default_factory=list)
    venvs: list[UnusedVenv] = field(default_factory=list)  # no kept generation or environment uses them
    service_data: list = field(default_factory=list)  # services.cleanup.DataDir: shown, never removed here

    @property
    def released_paths(self) -> list[str]:
        out: list[str] = []
        for g in self.drop:
            out += g.store_paths
        for e in self.stale_envs:
            out += e.store_paths
        return sorted(set(out))

    def rows(self) -> list[dict]:
        rows = [{"action": "drop generation", "project": g.project, "generation": g.number,
                 "profile": g.profile, "when": g.to_dict()["when"], "path": g.roots_dir()} for g in self.drop]
        rows += [{"action": "remove cache", "profile": e.name, "path": e.directory, "why": e.reason}
                 for e in self.stale_envs]
        rows += [{"action": "remove venv", "path": v.path, "bytes": v.size} for v in self.venvs]
        return rows


@dataclass
class GcResult:
    dropped: list[Generation] = field(default_factory=list)
    removed_envs: list[StaleEnv] = field(default_factory=list)
    removed_venvs: list[UnusedVenv] = field(default_factory=list)
    nix_gc: str = "none"
    deleted_paths: int = 0
    freed: str = ""
    errors: list[str] = field(default_factory=list)


def closure_size(paths: list[str]) -> tuple[int, int]:
    """(number of store paths, total bytes) of the closure of `paths`."""
    live = [p for p in paths if os.path.exists(p)]
    if not live:
        return 0, 0
    try:
        r = subprocess.run(["nix-store", "--query", "--requisites", *live], capture_output=True, text=True)
        req = [line for line in r.stdout.split() if line]
        if r.returncode != 0 or not req:
            return 0, 0
        s = subprocess.run(["nix-store", "--query", "--size", *req], capture_output=True, text=True)
        sizes = [int(x) for x in s.stdout.split() if x.isdigit()]
        return len(req), sum(sizes)
    except OSError:
        return 0, 0


def plan_gc(older_than: Optional[float] = None, now: Optional[float] = None, sizes: bool = True,
            project: Optional[str] = None) -> GcPlan:
    """What `onboard gc` will do. Without `older_than` every generation but the current
    one goes; with it, only those made more than `older_than` seconds ago. With `project`,
    only that project's generations and caches."""
    now = time.time() if now is None else now
    plan = GcPlan(older_than=older_than)
    only = os.path.abspath(project) if project else None
    for project in generations.projects():
        if only is not None and os.path.abspath(project) != only:
            continue
        gens = generations.list_generations(project)
        keep = []
        for g in gens:
            if not g.current and (older_than is None or now - g.time > older_than):
                plan.drop.append(g)
            else:
                keep.append(g)
        cur = next((g for g in gens if g.current), None)
        pin = Pin(project=project, generations=[g.number for g in keep], current=cur.profile if cur else None)
        if sizes:
            pin.paths, pin.size = closure_size(sorted({p for g in keep for p in g.store_paths}))
        plan.pins.append(pin)
    for _owner, name, d in cache.env_dirs(legacy=True) if only is None else []:
        m = cache.read_manifest(d)
        plan.stale_envs.append(StaleEnv(name, d, "laid out by an older onboard (one cache for every project)",
                                        list(m.store_paths) if m else []))
    for owner, name, d in cache.env_dirs():
        if only is not None and owner != cache.path_key(only):
            continue
        m = cache.read_manifest(d)
        if m is None:
            if os.path.exists(os.path.join(d, cache.LORRI_NIX)):
                continue  # rendered for lorri mode, which builds it itself
            if not os.path.exists(os.path.join(d, ".lock")) or _unlocked(d):
                plan.stale_envs.append(StaleEnv(name, d, "never finished building"))
        elif not m.profile or not os.path.exists(m.profile):
            plan.stale_envs.append(StaleEnv(name, d, f"its profile {m.profile or '?'} is gone", list(m.store_paths)))
        elif m.project and not os.path.isdir(m.project):
            plan.stale_envs.append(StaleEnv(name, d, f"its project {m.project} is gone", list(m.store_paths)))
    from onboard.core.services.cleanup import all_data_dirs

    plan.service_data = all_data_dirs(only or "")
    if only is None:  # venvs are shared by lock identity: only a store-wide gc knows which are unused
        plan.venvs = [UnusedVenv(v, tree_size(v) if sizes else 0) for v in unused_venvs(plan, now)]
    return plan


VENV_GRACE = 120.0  # seconds: a venv this new may belong to a build about to record it


def used_venvs(plan: GcPlan) -> set[str]:
    """The venvs a kept generation recorded or a kept environment's plan names."""
    from onboard.core.python import venv as pyvenv

    dropped = {(g.project, g.number) for g in plan.drop}
    used: set[str] = set()
    for project in generations.projects():
        for g in generations.list_generations(project):
            if (g.project, g.number) in dropped:
                continue
            p = pyvenv.read_plan(g.roots_dir())
            used.update(v for v in (g.venv, p.venv if p else "") if v)
    stale = {e.directory for e in plan.stale_envs}
    for _owner, _name, d in cache.env_dirs():
        p = pyvenv.read_plan(d)
        if p is not None and d not in stale:
            used.add(p.venv)
    return {os.path.abspath(v) for v in used}


def unused_venvs(plan: GcPlan, now: float) -> list[str]:
    from onboard.core.python import venv as pyvenv

    root = pyvenv.venvs_root()
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    used = used_venvs(plan)
    out = []
    for n in names:
        path = os.path.join(root, n)
        try:
            young = now - os.lstat(path).st_mtime < VENV_GRACE
        except OSError:
            continue
        if path not in used and not young and os.path.isdir(path) and not os.path.islink(path):
            out.append(path)
    return out


def _try_lock(directory: str) -> "int | None | bool":
    """The env dir's build lock, taken without waiting: an fd, None when there is no lock
    file, False when a build holds it."""
    import fcntl

    try:
        fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    return fd


def _unlocked(directory: str) -> bool:
    """No build holds the env dir's lock right now."""
    import fcntl

    try:
        fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_env_dir(directory: str) -> None:
    generations.forget_auto_roots([directory])
    shutil.rmtree(directory, ignore_errors=True)
    cache_env_root = cache.envs_root()
    for d in (os.path.dirname(directory), cache_env_root, cache.cache_root()):
        try:
            os.rmdir(d)
        except OSError:
            break


def run_gc(plan: GcPlan, nix_gc: str = "all", emit: Emitter = discard) -> GcResult:
    if nix_gc not in NIX_GC_MODES:
        raise ValueError(f"nix_gc must be one of {', '.join(NIX_GC_MODES)}")
    res = GcResult(nix_gc=nix_gc)
    by_project: dict[str, list[int]] = {}
    for g in plan.drop:
        by_project.setdefault(g.project, []).append(g.number)
    for project, numbers in by_project.items():
        try:
            res.dropped += generations.delete_generations(project, numbers)
        except OSError as exc:
            res.errors.append(f"{project}: {exc}")
    for e in plan.stale_envs:
        fd = _try_lock(e.directory)
        if fd is False:  # a build started since the plan was made: leave it alone
            emit(LogLine(line=f"kept the cache of profile {e.name}: a build is using it", level="warn"))
            continue
        try:
            m = cache.read_manifest(e.directory)
            if m is not None and m.profile and os.path.exists(m.profile):
                emit(LogLine(line=f"kept the cache of profile {e.name}: it was rebuilt meanwhile"))
                continue
            remove_env_dir(e.directory)
        finally:
            if isinstance(fd, int):
                os.close(fd)
        res.removed_envs.append(e)
        emit(LogLine(line=f"removed the cache of profile {e.name} ({e.reason})"))
    if plan.venvs:
        again = set(unused_venvs(GcPlan(older_than=None, drop=list(res.dropped),
                                        stale_envs=list(res.removed_envs)), time.time()))
        for v in plan.venvs:
            if v.path not in again:  # recorded or made since the plan: kept
                emit(LogLine(line=f"kept the virtualenv {v.path}: it is in use"))
                continue
            shutil.rmtree(v.path, ignore_errors=True)
            res.removed_venvs.append(v)
            emit(LogLine(line=f"removed the virtualenv {v.path} (no generation or environment uses it)"))
    if nix_gc == "all":
        argv = ["nix-store", "--gc"]
    elif nix_gc == "released":
        dead = _dead_among(plan.released_paths)
        argv = ["nix-store", "--delete", *dead] if dead else []
    else:
        argv = []
    if argv:
        emit(LogLine(line="running " + " ".join(argv[:2]) + (f" ({len(argv) - 2} paths)" if len(argv) > 2 else "")))
        r = subprocess.run(argv, capture_output=True, text=True)
        text = (r.stdout + "\n" + r.stderr).strip()
        for line in text.splitlines():
            hit = re.match(r"(\d+) store paths deleted, (.*) freed", line.strip())
            if hit:
                res.deleted_paths, res.freed = int(hit.group(1)), hit.group(2)
        if r.returncode != 0:
            res.errors.append(f"{' '.join(argv[:2])} failed: {text.splitlines()[-1] if text else r.returncode}")
            emit(Notice(level="warn", message=res.errors[-1]))
    return res


def _dead_among(paths: list[str]) -> list[str]:
    """The store paths in the closure of `paths` that nothing roots any more, referrers
    first (the order `nix-store --delete` needs)."""
    live = [p for p in paths if os.path.exists(p)]
    if not live:
        return []
    r = subprocess.run(["nix-store", "--query", "--requisites", *live], capture_output=True, text=True)
    closure = set(r.stdout.split())
    d = subprocess.run(["nix-store", "--gc", "--print-dead"], capture_output=True, text=True)
    dead = [p for p in d.stdout.split() if p in closure]
    # requisites lists dependencies before dependants: delete in reverse
    order = {p: i for i, p in enumerate(r.stdout.split())}
    return sorted(dead, key=lambda p: -order.get(p, 0))
