"""Running `uv lock` for a project, and what changed in its uv.lock (the core of `onboard lock`).

`find_uv()` says which uv runs: $ONBOARD_UV, else `uv` on PATH (the profile's pinned uv
will take its place). uv runs with `--no-config` and without the caller's UV_* settings
(the cache directory and index credentials excepted), so only the project's pyproject.toml
and the team config's index settings decide the lock. It writes uv.lock and nothing else in
the project. Nothing here prints: `relock` returns what happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from onboard.core.python.model import FIX_INIT, FIX_UV_LOCK
from onboard.core.python.uvlock import read_uv_lock
from onboard.core.schema import Problem

__all__ = ["find_uv", "uv_env", "lock_argv", "Change", "version_changes", "LockRun", "relock", "ENV_UV"]

ENV_UV = "ONBOARD_UV"
_KEEP_UV = ("UV_CACHE_DIR", "UV_KEYRING_PROVIDER", "UV_NATIVE_TLS")


def find_uv(env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The uv to run: $ONBOARD_UV, else `uv` on PATH; None when there is none."""
    env = os.environ if env is None else env
    named = env.get(ENV_UV, "").strip()
    if named:
        return named
    return shutil.which("uv", path=env.get("PATH"))


def uv_env(env: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The environment uv runs in: the caller's without UV_* settings (a few kept: the cache,
    the keyring provider and index credentials UV_INDEX_<NAME>_USERNAME/PASSWORD)."""
    src = os.environ if env is None else env
    out = {}
    for k, v in src.items():
        if k.startswith("UV_") and k not in _KEEP_UV and not (
                k.startswith("UV_INDEX_") and k.endswith(("_USERNAME", "_PASSWORD"))):
            continue
        out[k] = v
    out["UV_NO_PROGRESS"] = "1"
    return out


def lock_argv(uv: str, index_url: str = "", extra_index_urls: Sequence[str] = (), upgrade: bool = False,
              upgrade_packages: Sequence[str] = ()) -> list[str]:
    argv = [uv, "lock", "--no-config"]
    if index_url:
        argv += ["--index-url", index_url]
    for url in extra_index_urls:
        argv += ["--extra-index-url", url]
    if upgrade:
        argv.append("--upgrade")
    for name in upgrade_packages:
        argv += ["--upgrade-package", name]
    return argv


@dataclass(frozen=True)
class Change:
    name: str
    old: str  # "" when added
    new: str  # "" when removed

    def __str__(self) -> str:
        if not self.old:
            return f"+ {self.name} {self.new}"
        if not self.new:
            return f"- {self.name} {self.old}"
        return f"  {self.name} {self.old} -> {self.new}"


def version_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[Change]:
    """Packages added, removed or at another version, sorted by name."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, ""), new.get(name, "")
        if a != b:
            out.append(Change(name, a, b))
    return out


@dataclass
class LockRun:
    argv: list[str] = field(default_factory=list)
    ok: bool = False
    changes: list[Change] = field(default_factory=list)
    created: bool = False  # there was no uv.lock before
    problems: list[Problem] = field(default_factory=list)
    output: str = ""  # uv's own words (stderr), for a failure


def _versions(path: str, problems: list[Problem]) -> dict[str, str]:
    if not os.path.isfile(path):
        return {}
    lock, probs = read_uv_lock(path)
    if lock is None:
        problems.extend(probs)
        return {}
    return lock.versions()


def relock(project: str, uv: Optional[str], index_url: str = "", extra_index_urls: Sequence[str] = (),
           upgrade: bool = False, upgrade_packages: Sequence[str] = (), timeout: float = 600,
           env: Optional[Mapping[str, str]] = None) -> LockRun:
    """Run `uv lock` in `project` and compare the old and new uv.lock."""
    run = LockRun()
    pyproject = os.path.join(project, "pyproject.toml")
    lock_path = os.path.join(project, "uv.lock")
    if not os.path.isfile(pyproject):
        run.problems.append(Problem(pyproject, 0, 0, f"no pyproject.toml in {project}: make one with `{FIX_INIT}` "
                                                     f"there, add the dependencies (`uv add NAME`), then run "
                                                     "`onboard lock` again"))
        return run
    if not uv:
        run.problems.append(Problem("", 0, 0, f"no uv to run `{FIX_UV_LOCK}`: install uv (`pip install uv`) "
                                              f"or name it with ${ENV_UV}"))
        return run
    run.created = not os.path.exists(lock_path)
    old = _versions(lock_path, [])  # a broken old lock is what a new one replaces
    run.argv = lock_argv(uv, index_url, extra_index_urls, upgrade, upgrade_packages)
    try:
        proc = subprocess.run(run.argv, cwd=project, env=uv_env(env), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        run.problems.append(Problem("", 0, 0, f"cannot run uv: no such program `{uv}`"))
        return run
    except subprocess.TimeoutExpired:
        run.problems.append(Problem("", 0, 0, f"`uv lock` did not finish within {int(timeout)} seconds"))
        return run
    run.output = (proc.stderr or "").strip()
    if proc.returncode != 0:
        last = [ln for ln in run.output.splitlines() if ln.strip()]
        run.problems.append(Problem(pyproject, 0, 0, "`uv lock` failed: " + (" ".join(last[-3:]) if last else
                                                                           f"exit status {proc.returncode}")))
        return run
    new = _versions(lock_path, run.problems)
    run.changes = version_changes(old, new)
    run.ok = not run.problems
    return run
