"""What the Nix install's actions share: the environment to run the installed Nix in, the
release unpacked in the staging directory, and the check before editing a user's file.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any, Optional

from onboard.core.engine.action import ActionError, Context
from onboard.core.engine.fsutil import resolve_target
from onboard.core.nixinstall import layout
from onboard.core.nixinstall.release import ReleaseInfo, release_info
from onboard.core.nixinstall.unpack import UnpackError


UNPACKED_MARKER = ".onboard-unpacked"


def nix_env(home: str, daemon: bool = False, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment for running the installed Nix: the right HOME and store."""
    env = {k: v for k, v in os.environ.items() if k not in ("NIX_REMOTE", "NIX_PATH")}
    env["HOME"] = home
    if daemon:
        env["NIX_REMOTE"] = "daemon"
    if extra:
        env.update(extra)
    return env


def run_nix(ctx: Context, argv: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess:
    saved = ctx.env
    ctx.env = env
    try:
        return ctx.run(argv, **kw)
    finally:
        ctx.env = saved


def unpacked_release(staging: str, store_dir: str = layout.STORE) -> Optional[ReleaseInfo]:
    """The release unpacked in `staging`, or None when it is not (completely) there."""
    marker = Path(staging) / UNPACKED_MARKER
    try:
        sha, top = marker.read_text().split("\n")[:2]
    except (FileNotFoundError, ValueError):
        return None
    try:
        return release_info(Path(staging) / top, store_dir)
    except (UnpackError, OSError):
        return None


def need_release(staging: str, store_dir: str = layout.STORE) -> ReleaseInfo:
    info = unpacked_release(staging, store_dir)
    if info is None:
        try:
            top = (Path(staging) / UNPACKED_MARKER).read_text().split("\n")[1]
        except (OSError, IndexError):
            top = ""
        if top:  # unpacked, but not (any more) a release onboard accepts: say why
            try:
                release_info(Path(staging) / top, store_dir)
            except OSError:
                pass
        raise ActionError(f"the unpacked Nix release is missing from {staging}",
                          hint="run the install again: it unpacks the release first")
    return info


def writable_problem(path: str) -> Optional[str]:
    """Why onboard must not write `path` (read-only file, in the store, read-only fs), or None."""
    target = resolve_target(path)
    if str(target).startswith(layout.STORE + "/"):
        return f"{path} is a link into the Nix store (managed by another tool, e.g. home-manager)"
    if target.exists():
        if not target.is_file():
            return f"{target} is not a regular file"
        st = target.stat()
        if not st.st_mode & stat.S_IWUSR:
            return f"{target} is read-only (mode {stat.S_IMODE(st.st_mode):o})"
        if not os.access(target, os.W_OK):
            return f"{target} is not writable by you"
        parent = target.parent
    else:
        parent = target.parent
        while not parent.exists():
            parent = parent.parent
    if not os.access(parent, os.W_OK):
        return f"{parent} is not writable by you"
    return None


class Preflight:
    """Refuse, before any change, to edit a file the user protected."""

    path: str

    def _preflight(self) -> None:
        problem = writable_problem(self.path)
        if problem:
            raise ActionError(f"onboard will not edit {self.path}: {problem}",
                              hint=f"make it writable (chmod u+w {resolve_target(self.path)}) or move it "
                                   "aside, then run again")
