"""The locked Python's part of building and entering an environment (called by profiles/build.py).

- `after_build(profile, model, directory, root)`: the environment was built; sync the venv of
  its lock identity and record the plan (before the manifest, the build's commit point: a
  failed sync is a failed build, which the one fallback policy handles);
- `on_entry(directory)`: a fresh cached environment whose venv is missing gets it made again,
  from the store, offline;
- `explain(profile, exc)`: a Nix fixed-output failure (a wrong hash) said as the lock's
  package, the two hashes and the fix.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Optional

from onboard.core.profiles.nixrun import EnvError
from onboard.core.python import venv

if TYPE_CHECKING:
    from onboard.core.profiles.envsh import EnvModel
    from onboard.core.profiles.model import Profile

__all__ = ["after_build", "on_entry", "explain"]


def _error(exc: venv.SyncError) -> EnvError:
    return EnvError(exc.message, exc.hint, exc.log)


def after_build(profile: "Profile", model: "EnvModel", directory: str, root: Optional[str],
                sync: bool = True) -> None:
    import os

    variables = {k: str(v) for k, (_t, v) in model.variables.items() if isinstance(v, str)}
    plan = venv.plan_from_env(variables, root or os.getcwd()) if profile.python and profile.python.locked \
        else None
    if plan is not None and profile.python is not None and profile.python.editable and profile.python.lock:
        from onboard.core.python.editable import project_of

        plan.editable = project_of(profile.python.lock)
    if plan is not None and sync:
        try:
            venv.sync(plan)
        except venv.SyncError as exc:
            raise _error(exc) from None
    venv.write_plan(directory, plan)


def on_entry(directory: str) -> None:
    try:
        venv.ensure(directory)
    except venv.SyncError as exc:
        raise _error(exc) from None


_MISMATCH = re.compile(r"hash mismatch in fixed-output derivation '([^']+)'")
_HASHES = re.compile(r"(specified|wanted|got):\s*(\S+)")


def explain(profile: "Profile", exc: EnvError) -> None:
    """Rewrite `exc` when Nix refused a download of the lock by its hash, or a native build
    (python-native.py) said what the profile lacks."""
    py = profile.python
    if py is None or py.selection is None:
        return
    text = exc.message + "\n" + "\n".join(exc.log)
    if _native(profile, exc, text):
        return
    m = _MISMATCH.search(text)
    if not m:
        return
    drv = m.group(1)
    hit = next((c for c in py.selection.chosen if drv.endswith("-" + c.artifact.filename + ".drv")
                or c.artifact.filename in drv), None)
    if hit is None:
        return
    got = dict((k, v) for k, v in _HASHES.findall(text[m.start():]))
    lock = py.lock or py.requirements or "the lock"
    exc.message = (f"the download of {hit.name} {hit.version} ({hit.artifact.filename}) does not match its hash "
                   f"in {lock}: the lock says sha256:{hit.artifact.sha256}"
                   + (f" (Nix: {got['specified']})" if "specified" in got else
                      f" (Nix: {got['wanted']})" if "wanted" in got else "")
                   + (f", the file has {got['got']}" if "got" in got else ""))
    exc.hint = (f"lock again where the file comes from (onboard lock, or uv lock), or check that the index "
                f"serves the same {hit.artifact.filename}")
    line = 0
    if py.selection is not None:
        for ch in py.selection.chosen:
            if ch is hit:
                line = _lock_line(lock, hit.name)
    exc.where = f"{lock}:{line}" if line else lock


_NATIVE = "onboard-native: "


def _native(profile: "Profile", exc: EnvError, text: str) -> bool:
    """The native builder's own words (`onboard-native: error: ...` and its continuation lines)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        at = line.find(_NATIVE + "error: ")
        if at < 0:
            continue
        said = [line[at + len(_NATIVE + "error: "):]]
        for more in lines[i + 1:]:
            j = more.find(_NATIVE)
            if j < 0 or more[j + len(_NATIVE):].startswith("error: "):
                break
            said.append(more[j + len(_NATIVE):])
        exc.message = "building the locked Python's native code: " + "\n".join(said)
        exc.hint = "change the profile as said, then enter again"
        exc.log = [ln for ln in exc.log if _NATIVE not in ln]
        exc.where = _python_line(profile)
        return True
    return False


def _python_line(profile: "Profile") -> str:
    """file:line of the `python:` key of the profile (or the base that has it)."""
    for src in [profile.path, *profile.sources]:
        try:
            with open(src, encoding="utf-8") as fh:
                for i, line in enumerate(fh, 1):
                    if re.match(r"^python\s*:", line):
                        return f"{src}:{i}"
        except OSError:
            continue
    return profile.path


def _lock_line(path: str, name: str) -> int:
    try:
        with open(path, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip() in (f'name = "{name}"', ) or line.startswith(f"{name}=="):
                    return i
    except OSError:
        pass
    return 0
