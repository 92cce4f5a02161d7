"""The plan step that builds a profile's environment (its dev shell) with the Nix of this run.

It is the last step of `onboard install`, `onboard apply` and the guided setup's Apply, so the
biggest part of day one is shown in the plan, in `--dry-run` and in the progress view, and
`onboard shell NAME` afterwards only loads what is built. The build itself is
`profiles.build.ensure_env` (the same as `onboard shell`'s): nothing here builds on its own.

- Which Nix: the one this plan installs or keeps (`nix_bindir`, taken by the planner from the
  Nix part of the same plan and so recorded in the receipt); its store path is resolved when
  the step runs and recorded in the receipt's result. Empty (`--mode skip`): the `nix` on PATH.
- Already so: the cached environment is fresh (the same stat checks `onboard shell` makes).
- A failure changes nothing that came before: the steps before stay done, and the error says
  what is in place and how to retry.
- Revert: an environment this step created is removed from onboard's cache (its GC root with
  it, so Nix may collect its store paths); one that was there before this run is left as it
  is (it belongs to earlier runs or to `onboard shell`).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional, cast

from onboard.core.engine.action import Action, ActionError, Context, register
from onboard.core.events import Event

#: log lines of a failed build kept in the step's error (the log file has all of them)
TAIL = 20


@register
@dataclass
class BuildProfileEnv(Action):
    """Build the environment of a profile (`onboard shell NAME` then enters it at once)."""

    kind = "profile-env"
    profile: str = ""
    project: str = ""  # the project root the environment belongs to ("" none)
    directory: str = ""  # its cache directory (the planner computes it)
    profile_file: str = ""  # the profile's file, as found when planned
    nix_bindir: str = ""  # the Nix of this run ("" the one on PATH)
    daemon: bool = False  # that Nix talks to nix-daemon
    summary: str = ""

    def target(self) -> str:
        return self.profile

    def describe(self) -> str:
        return self.summary or (f"build the environment of profile {self.profile} with Nix (its dev shell, "
                                "ready for `onboard shell`)")

    def paths(self) -> list[str]:
        return [self.directory] if self.directory else []

    # -- the Nix of this run ---------------------------------------------------------------------
    @contextmanager
    def _nix(self) -> Iterator[str]:
        """PATH (and NIX_REMOTE) for the Nix of this run, restored afterwards; yields the store
        path of its `nix` ("" when not found)."""
        saved = {k: os.environ.get(k) for k in ("PATH", "NIX_REMOTE")}
        try:
            if self.nix_bindir:
                os.environ["PATH"] = self.nix_bindir + os.pathsep + os.environ.get("PATH", "")
            if self.daemon:
                os.environ.setdefault("NIX_REMOTE", "daemon")
            found = shutil.which("nix") or shutil.which("nix-shell") or ""
            yield os.path.realpath(found) if found else ""
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def check(self, ctx: Context) -> bool:
        from onboard.core.profiles import cache

        if not self.directory:
            return False
        m = cache.read_manifest(self.directory)
        if m is None:
            return False
        with self._nix():
            try:
                return not cache.stale_reason(m, self.directory, profile_file=self.profile_file or None)
            except OSError:
                return False

    def snapshot(self, ctx: Context) -> dict[str, Any]:
        existed = bool(self.directory) and os.path.lexists(self.directory)
        # the highest folder of the cache path that is new: revert removes up to it, if empty
        top = ""
        d = self.directory
        while d and not existed and not os.path.lexists(d) and _inside_cache(d, cache_home=True):
            top, d = d, os.path.dirname(d)
        return {"existed": existed, "top": top}

    def execute(self, ctx: Context, record: dict[str, Any]) -> None:
        from pathlib import Path

        from onboard.core import project as projects
        from onboard.core.profiles import build
        from onboard.core.profiles.loader import load_profile
        from onboard.core.schema import SchemaError

        root = self.project or None
        dirs = projects.profile_dirs(root)
        try:
            profile = load_profile(self.profile, dirs=[Path(d) for d in dirs])
        except SchemaError as exc:
            raise ActionError(f"cannot load profile {self.profile}: {exc}",
                              "fix the profile (onboard profiles validate) and retry") from None
        with self._nix() as nix:
            if not nix:
                raise ActionError("Nix is not on PATH" + (f" (looked in {self.nix_bindir} first)"
                                                          if self.nix_bindir else ""),
                                  "install it with `onboard install`, then retry")
            record["nix"] = nix
            ctx.log(f"building with {nix}")
            try:
                result = build.ensure_env(profile, emit=_Retag(ctx), project=root, dirs=dirs,
                                          allow_fallback=False)
            except build.EnvError as exc:
                for line in exc.log[-TAIL:]:
                    ctx.log(line, level="error")
                where = f"{exc.where}: " if exc.where else ""
                raise ActionError(f"building the environment of profile {self.profile} failed: "
                                  f"{where}{exc.message}",
                                  exc.hint or f"fix the cause, then retry (or `onboard shell {self.profile}`)"
                                  ) from None
        record["env_sh"] = result.env_sh
        record["built"] = directory_of(result.env_sh) or self.directory
        ctx.log(f"ready: `onboard shell {self.profile}` loads {result.env_sh}")

    def repair_keeps_snapshot(self, ctx: Context, record: dict[str, Any]) -> bool:
        return True  # rebuilt: whether it existed before the first run stays the truth

    def revert(self, ctx: Context, record: dict[str, Any]) -> None:
        if not record or record.get("existed"):
            return  # not made by this step: the environment stays
        target = record.get("built") or self.directory
        if not target or not _inside_cache(target):
            return
        shutil.rmtree(target, ignore_errors=True)
        top = record.get("top") or ""
        d = os.path.dirname(target)
        while top and d.startswith(top) and _inside_cache(d, cache_home=True):
            try:
                os.rmdir(d)  # only an empty folder this step made
            except OSError:
                break
            d = os.path.dirname(d)


def directory_of(path: str) -> str:
    return os.path.dirname(path) if path else ""


def _inside_cache(path: str, cache_home: bool = False) -> bool:
    """Only a directory of onboard's environment cache is ever removed (with `cache_home`:
    of onboard's cache folder, whose env/ folder this step may have made)."""
    from onboard.core.profiles import cache

    root = os.path.realpath(cache.cache_root() if cache_home else cache.envs_root())
    real = os.path.realpath(path)
    return real != root and real.startswith(root + os.sep)


class _Retag:
    """The build reports as its own one-step plan (action id "env:NAME"); inside this step,
    its progress and log lines are this step's, and its start/finish are not separate steps."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __call__(self, event: Event) -> None:
        kind = event.kind
        if kind in ("action-started", "action-failed", "plan-started", "plan-finished"):
            return  # the engine says these for the step itself
        if kind == "action-finished":
            message = getattr(event, "message", "")
            if message:
                self.ctx.log(message)
            return
        if dataclasses.is_dataclass(event) and hasattr(event, "action_id"):
            event = cast(Any, dataclasses.replace)(event, action_id=self.ctx.action_id)
        self.ctx.emit(event)


def plan_step(profile: str, project: str, nix_bindir: str, daemon: bool) -> Optional[BuildProfileEnv]:
    """The step for `profile` (None without one). Raises ValueError with every problem of a
    profile that cannot be loaded, so a plan never promises to build one that cannot be."""
    if not profile:
        return None
    from pathlib import Path

    from onboard.core import project as projects
    from onboard.core.profiles import build
    from onboard.core.profiles.loader import load_profile
    from onboard.core.schema import SchemaError

    root = project or None
    dirs = projects.profile_dirs(root)
    try:
        p = load_profile(profile, dirs=[Path(d) for d in dirs])
    except SchemaError as exc:
        raise ValueError(f"the profile {profile} cannot be built:\n{exc}") from None
    return BuildProfileEnv(profile=p.name, project=root or "", directory=build.location(p.name, root, p.path),
                           profile_file=os.path.realpath(p.path) if p.path else "",
                           nix_bindir=nix_bindir, daemon=daemon)


__all__ = ["BuildProfileEnv", "plan_step"]
