"""Exact sync: the virtualenv of one lock identity, made by uv from the wheelhouse in the store.

After the environment is built (and on entry when the venv of its identity is missing), onboard
makes `STATE/venvs/<lock identity>-<python hash>` with the profile's Nix Python
(`uv venv --python`), runs `uv pip sync --no-index --find-links WHEELHOUSE/wheels
--require-hashes WHEELHOUSE/requirements.txt` into it (packages not in the lock are removed),
offline and with a clean environment: no PIP_* or UV_* from the caller, UV_NO_CONFIG (no
uv.toml anywhere), UV_PYTHON_DOWNLOADS=never, UV_OFFLINE, a private UV_CACHE_DIR. The marker
`.onboard-synced` is written last; only then does ROOT/.venv (a link) point at it. A failed
sync leaves the link where it was (the last good venv) and raises SyncError.

The packages of `python.from_nix` are made visible by one `_onboard_from_nix.pth` file in the
venv's site-packages listing their Nix site-packages (not system site-packages: the venv sees
those and nothing else of the interpreter's environment); uv leaves it alone.

`PLAN` (a small key=value file in the environment's cache directory) records what the entry
needs; the warm path only stats the marker it names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Mapping, Optional

__all__ = ["PLAN", "MARKER", "SyncError", "VenvPlan", "plan_from_env", "read_plan", "write_plan", "venv_dir",
           "venvs_root", "sync", "ensure", "uv_clean_env"]

PLAN = "python-venv"
MARKER = ".onboard-synced"
PTH = "_onboard_from_nix.pth"
_FIELDS = ("venv", "link", "wheelhouse", "python", "uv", "lock", "site")
_OPTIONAL = ("editable",)


class SyncError(Exception):
    def __init__(self, message: str, hint: str = "", log: Optional[list[str]] = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.log = message, hint, list(log or [])


@dataclass
class VenvPlan:
    venv: str  # the venv of this identity (absolute)
    link: str  # ROOT/.venv
    wheelhouse: str
    python: str
    uv: str
    lock: str  # the lock identity
    site: str = ""  # from_nix site-packages, ':'-separated
    editable: str = ""  # the project installed editable after the sync (python.editable)

    @property
    def marker(self) -> str:
        return os.path.join(self.venv, MARKER)


def _state_dir() -> str:
    override = os.environ.get("ONBOARD_STATE_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_STATE_HOME")
    base = xdg if xdg and os.path.isabs(xdg) else os.path.expanduser("~/.local/state")
    return os.path.join(base, "onboard")


def venvs_root() -> str:
    """Where every lock identity's venv lives (`onboard gc` removes those nothing uses)."""
    return os.path.join(_state_dir(), "venvs")


def venv_dir(lock: str, python: str) -> str:
    """The same name the shellHook computes: <identity[:32]>-<store hash of the Python>."""
    pkg = python[:-len("/bin/python3")] if python.endswith("/bin/python3") else os.path.dirname(python)
    return os.path.join(venvs_root(), f"{lock[:32]}-{os.path.basename(pkg).split('-')[0]}")


def plan_from_env(variables: Mapping[str, str], root: str) -> Optional[VenvPlan]:
    """The plan from the built environment's variables; None when the shell has no locked Python."""
    wh = variables.get("ONBOARD_WHEELHOUSE")
    if not wh:
        return None
    python, lock = variables.get("ONBOARD_PYTHON", ""), variables.get("ONBOARD_PYTHON_LOCK", "")
    link = os.path.join(root, variables.get("ONBOARD_PYTHON_VENV_LINK", ".venv"))
    return VenvPlan(venv=venv_dir(lock, python), link=link, wheelhouse=wh, python=python,
                    uv=variables.get("ONBOARD_PYTHON_UV", ""), lock=lock, site=variables.get("ONBOARD_PYTHON_SITE", ""))


def write_plan(directory: str, plan: Optional[VenvPlan]) -> None:
    path = os.path.join(directory, PLAN)
    if plan is None:
        try:
            os.unlink(path)
        except OSError:
            pass
        return
    text = "".join(f"{k}={getattr(plan, k)}\n" for k in _FIELDS + _OPTIONAL)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_plan(directory: str) -> Optional[VenvPlan]:
    try:
        with open(os.path.join(directory, PLAN), encoding="utf-8") as fh:
            pairs = dict(line.rstrip("\n").split("=", 1) for line in fh if "=" in line)
    except OSError:
        return None
    if any(k not in pairs for k in _FIELDS):
        return None
    return VenvPlan(**{k: pairs[k] for k in _FIELDS + _OPTIONAL if k in pairs})


def uv_clean_env(cache_dir: str) -> dict[str, str]:
    """The whole environment uv runs with: nothing of the caller's pip or uv settings."""
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8",
           "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never", "UV_OFFLINE": "1", "UV_NO_PROGRESS": "1",
           "UV_CACHE_DIR": cache_dir, "NO_COLOR": "1"}
    for k in ("TMPDIR",):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def _cache_dir() -> str:
    from onboard.core import paths

    return str(paths.cache_dir() / "uv")


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SyncError(f"{what}: cannot run {argv[0]}: {getattr(exc, 'strerror', None) or exc}",
                        "rebuild the environment: onboard shell NAME (it brings uv from the package set)")
    if r.returncode != 0:
        log = [ln for ln in (r.stderr + r.stdout).splitlines() if ln.strip()]
        raise SyncError(f"{what} failed: " + (log[-1] if log else f"exit status {r.returncode}"),
                        "the venv was left as it was; fix the lock (uv lock) and enter again", log)


def _requirements(plan: VenvPlan) -> str:
    try:
        with open(os.path.join(plan.wheelhouse, "requirements.txt"), encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise SyncError(f"the wheelhouse {plan.wheelhouse} cannot be read ({exc.strerror})",
                        "rebuild the environment: onboard shell NAME")


def sync(plan: VenvPlan) -> None:
    """Make the venv of `plan` when it is missing or incomplete, then point the link at it."""
    if not os.path.isfile(plan.marker):
        _make(plan)
    _relink(plan)


def _make(plan: VenvPlan, seed: bool = True) -> None:
    text = _requirements(plan)
    env = uv_clean_env(_cache_dir())
    if os.path.lexists(plan.venv):
        shutil.rmtree(plan.venv, ignore_errors=True)  # a half-made venv of this identity
    os.makedirs(os.path.dirname(plan.venv), exist_ok=True)
    _run([plan.uv, "venv", "--no-config", "--quiet", "--python", plan.python, plan.venv], env,
         "making the virtualenv")
    python = os.path.join(plan.venv, "bin", "python")
    if plan.site:
        _write_pth(plan, python)
    source = _seed_source(plan) if seed and text.strip() else None
    if source is not None and _seed(source, plan.venv):
        # the packages both locks share are there already: uv only applies the difference;
        # then every file is checked against its wheel's RECORD, as `onboard verify` does
        try:
            _sync_and_finish(plan, text, env, python)
        except SyncError:
            return _make(plan, seed=False)
        from onboard.core.verify.venvcheck import check_venv

        if check_venv(plan.venv, plan.wheelhouse, plan.lock, editable=bool(plan.editable)).problems:
            return _make(plan, seed=False)  # the earlier venv was changed by hand: start clean
        _mark(plan)
        return
    _sync_and_finish(plan, text, env, python)
    _mark(plan)


def _sync_and_finish(plan: VenvPlan, text: str, env: dict[str, str], python: str) -> None:
    if text.strip():
        _run([plan.uv, "pip", "sync", "--no-config", "--quiet", "--offline", "--no-index", "--find-links",
              os.path.join(plan.wheelhouse, "wheels"), "--require-hashes", "--python", python,
              os.path.join(plan.wheelhouse, "requirements.txt")], env, "syncing the virtualenv with uv")
    if plan.editable:
        _run([plan.uv, "pip", "install", "--no-config", "--quiet", "--offline", "--no-deps", "--no-index",
              "--no-build-isolation", "--python", python, "-e", plan.editable], env,
             f"installing the project {plan.editable} editable")


def _mark(plan: VenvPlan) -> None:
    with open(plan.marker, "w", encoding="utf-8") as fh:
        fh.write(f"{plan.lock}\n{plan.wheelhouse}\n")


#: what `uv venv` or onboard itself puts in a venv: never seeded from another one
_OWN = {"pyvenv.cfg", MARKER, ".gitignore", "CACHEDIR.TAG", ".onboard-venv"}


def _seed_source(plan: VenvPlan) -> Optional[str]:
    """The venv the project uses now (its link's target), when it is a finished venv of another
    lock identity with the same interpreter: the new one starts as a copy of it."""
    try:
        current = os.readlink(plan.link)
    except OSError:
        return None
    if current == plan.venv or os.path.dirname(current) != os.path.dirname(plan.venv):
        return None
    if current.rsplit("-", 1)[-1] != plan.venv.rsplit("-", 1)[-1]:
        return None  # another Python
    return current if os.path.isfile(os.path.join(current, MARKER)) else None


def _seed(src: str, dst: str) -> bool:
    """Fill the fresh venv `dst` with what `src` has installed: files hard-linked (as uv links
    them from its cache; copied across file systems), no byte code, entry-point scripts
    rewritten to name `dst`'s Python. False (and `dst` as uv made it) when that fails."""
    import glob

    src_sites = glob.glob(os.path.join(src, "lib", "python3*", "site-packages"))
    dst_sites = glob.glob(os.path.join(dst, "lib", "python3*", "site-packages"))
    if len(src_sites) != 1 or len(dst_sites) != 1 or \
            os.path.basename(os.path.dirname(src_sites[0])) != os.path.basename(os.path.dirname(dst_sites[0])):
        return False
    made: list[str] = []
    try:
        for entry in sorted(os.listdir(src)):
            if entry in _OWN or entry in ("lib", "bin") or os.path.lexists(os.path.join(dst, entry)):
                continue  # uv venv's own (lib64, ...)
            _link_tree(os.path.join(src, entry), os.path.join(dst, entry), made)
        src_site, dst_site = src_sites[0], dst_sites[0]
        for entry in sorted(os.listdir(src_site)):
            if entry in (PTH, "_virtualenv.py", "_virtualenv.pth", "__pycache__") or \
                    os.path.lexists(os.path.join(dst_site, entry)):
                continue
            _link_tree(os.path.join(src_site, entry), os.path.join(dst_site, entry), made)
        _scripts(src, dst, made)
    except OSError:
        from onboard.core.engine.fsutil import remove_tree

        for path in reversed(made):
            try:
                remove_tree(path)
            except OSError:
                pass
        return False
    return True


def _link_tree(src: str, dst: str, made: list[str]) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        made.append(dst)
        return
    if not os.path.isdir(src):
        _link_file(src, dst)
        made.append(dst)
        return
    os.mkdir(dst)
    made.append(dst)
    for entry in sorted(os.listdir(src)):
        if entry != "__pycache__":
            _link_tree(os.path.join(src, entry), os.path.join(dst, entry), made)


def _link_file(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _scripts(src: str, dst: str, made: list[str]) -> None:
    """bin/: the packages' scripts, naming `dst`'s Python: in the `#!` line, or (a path too long
    for one) in the `exec` line of the `#!/bin/sh` trampoline an installer writes instead."""
    old, new = f"{src}/bin/".encode(), f"{dst}/bin/".encode()
    src_bin, dst_bin = os.path.join(src, "bin"), os.path.join(dst, "bin")
    for entry in sorted(os.listdir(src_bin)):
        s, d = os.path.join(src_bin, entry), os.path.join(dst_bin, entry)
        if os.path.lexists(d):
            continue  # uv venv's own (python, activate...)
        if os.path.islink(s):
            os.symlink(os.readlink(s), d)
        else:
            with open(s, "rb") as fh:
                data = fh.read()
            if data.startswith(b"#!"):
                head = data.split(b"\n", 3)  # the interpreter lines only, never the code below
                data = b"\n".join([line.replace(old, new) for line in head[:3]] + head[3:])
            with open(d, "wb") as fh:
                fh.write(data)
            shutil.copymode(s, d)
        made.append(d)


def _write_pth(plan: VenvPlan, python: str) -> None:
    import glob

    sites = glob.glob(os.path.join(plan.venv, "lib", "python3*", "site-packages"))
    if not sites:
        raise SyncError(f"the virtualenv {plan.venv} has no site-packages", "enter again")
    with open(os.path.join(sites[0], PTH), "w", encoding="utf-8") as fh:
        fh.write("".join(p + "\n" for p in plan.site.split(":") if p))


def _relink(plan: VenvPlan) -> None:
    link = plan.link
    if os.path.islink(link):
        if os.readlink(link) == plan.venv:
            return
    elif os.path.isdir(link):
        if not os.path.exists(os.path.join(link, ".onboard-venv")):
            raise SyncError(f"{link} is a directory onboard did not make",
                            "move it aside (onboard links the locked venv there), or set python.venv "
                            "to another name")
        shutil.rmtree(link)  # the venv an unlocked profile made there
    elif os.path.lexists(link):
        raise SyncError(f"{link} is a file, not the venv link", "move it aside")
    tmp = f"{link}.onboard-new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(plan.venv, tmp)
    os.replace(tmp, link)


def ensure(directory: str) -> None:
    """On entry: make the venv the cached environment names when its marker is missing, and
    point the link at it. Nothing to do for an environment without a locked Python."""
    plan = read_plan(directory)
    if plan is not None:
        sync(plan)
