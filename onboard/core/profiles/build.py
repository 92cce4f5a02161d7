"""Evaluate a profile's shell once and cache the environment (see cache.py for the layout
and the identity, docs/environments.md for the design).

`ensure_env` decides: the cached environment when its identity holds (stats first, then,
when an input's content changed, one render compared with the rendered digest), else a
rebuild under the build lock (`build_env`), else, when the rebuild fails, this project's
last good environment (`fallback`). Running Nix is nixrun.py; the environment's bash is
envsh.py; where a failure points in the profile is diagnose.py.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from onboard.core import project as projects
from onboard.core.events import ActionFailed, ActionFinished, ActionStarted, Emitter, discard
from onboard.core.profiles import cache
from onboard.core.profiles.envsh import render_bashrc, render_env_script, render_inputs_script
from onboard.core.profiles.facts import read_facts, write_facts
from onboard.core.profiles.nixrun import (EnvError, InputRoots, build_flake, build_nix_shell, choose_backend,
                                         nix_version_text)

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile

__all__ = ["EnvError", "EnvResult", "ensure_env", "build_env", "last_good", "key_of", "watched_paths",
           "fallback_allowed", "fallback", "location", "rendered_digest", "render_for_lorri", "mark_stale", "AUTO"]

AUTO = "<find the project root>"


@dataclass
class EnvResult:
    name: str
    directory: str
    env_sh: str
    manifest: cache.Manifest
    rebuilt: bool = False  # built now (else the cache was fresh)
    reason: str = ""  # why it was (re)built, or why the fallback was needed
    fallback: bool = False  # the rebuild failed: this is the last good environment
    error: Optional[EnvError] = None
    project: Optional[str] = None


def _lock(directory: str) -> int:
    import fcntl

    fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def key_of(m: cache.Manifest) -> str:
    """The identity: what the environment was built from (never the YAML bytes: the
    rendered files stand for them)."""
    import hashlib

    h = hashlib.sha256()
    for part in (m.format, m.name, m.project, m.profile, "\1".join(m.sources), m.rendered, m.version,
                 m.system, m.override, m.backend, m.nix_path, m.nixversion):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    return h.hexdigest()


def rendered_digest(files: dict[str, str]) -> str:
    import hashlib

    from onboard.core.profiles.render import is_executable

    h = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel].encode("utf-8", "surrogateescape")
        h.update(f"{rel}\0{int(is_executable(rel))}\0{len(data)}\0".encode("utf-8", "surrogateescape") + data)
    return h.hexdigest()


def location(profile_name: str, project: Optional[str], profile_file: str = "") -> str:
    """The cache directory of a project's environment of a profile."""
    return cache.env_dir(cache.owner_key(project, profile_file), profile_name)


def _resolve(project: Optional[str]) -> Optional[str]:
    return projects.find_root() if project == AUTO else project


def watched_paths(profile: Profile, directory: str, project: Optional[str] = None) -> list[str]:
    files = [os.path.realpath(f) for f in profile.watched_files()]
    lock = os.path.join(directory, cache.RENDERED, "flake.lock")
    if os.path.exists(lock):
        files.append(lock)
    team = projects.team_config_file(project) if project else None
    if team:
        files.append(os.path.realpath(team))
    seen: set[str] = set()
    return [f for f in files if not (f in seen or seen.add(f))]  # type: ignore[func-returns-value]


def _lookup(m: cache.Manifest, profile: Profile, project: Optional[str], dirs: Optional[list[str]]) -> None:
    """Record where the profile was looked up, so the warm path can tell whether the same
    lookup still finds the same file."""
    m.dirsenv = os.environ.get(cache.DIRS_VAR, "")
    m.dirs = list(dirs) if dirs is not None else projects.profile_dirs(project)
    m.absent = []
    if project and projects.team_config_file(project) is None:
        m.absent = [os.path.join(project, n) for n in projects.TEAM_CONFIGS]
    if not profile.path or cache.find_in(m.dirs, profile.name) != os.path.realpath(profile.path):
        m.dirs = []  # loaded by path, not by name: nothing to look up again


def fill_identity(m: cache.Manifest, profile: Profile, project: Optional[str], backend: str, prog: str,
              ident: tuple[str, int, int], known: Optional[cache.Manifest] = None) -> dict[str, str]:
    """Fill `m` with the identity `profile` has now (and its key), as a build records it;
    `known`'s Nix version is reused while the Nix binary's stat is the same. Returns the
    rendered files."""
    from onboard.core.profiles.render import render_profile

    m.name = profile.name
    m.profile = os.path.realpath(profile.path) if profile.path else ""
    m.project = project or ""
    m.sources = [os.path.realpath(s) for s in profile.sources]
    files = render_profile(profile)
    m.rendered = rendered_digest(files)
    m.version = cache.onboard_version()
    m.system = cache.system_id()
    m.override = os.environ.get(cache.OVERRIDE_VAR, "")
    m.backend, m.nix_prog = backend, prog
    m.nix_path, m.nix_mtime_ns, m.nix_size = ident
    if known is not None and (known.nix_path, known.nix_mtime_ns, known.nix_size) == ident and known.nixversion:
        m.nixversion = known.nixversion  # the same file: its version is re-read only after a change
    else:
        m.nixversion = nix_version_text(ident[0])
    m.key = key_of(m)
    return files


def _same_identity(profile: Profile, project: Optional[str], m: cache.Manifest, directory: str,
                   dirs: Optional[list[str]]) -> bool:
    """The slow check: render, compare the identity; when it holds, record the inputs' new
    stats and contents (no Nix ran). Raises EnvError when Nix cannot even be found."""
    if cache.entry_reason(m, directory):
        return False
    wanted = os.environ.get(cache.BACKEND_VAR, "")
    if wanted and wanted != m.backend:
        return False
    prog = m.nix_prog or "nix"
    ident = cache.program_identity(prog)
    if ident is None:
        return False
    now = cache.Manifest()
    try:
        files = fill_identity(now, profile, project, m.backend, prog, ident, known=m)
    except OSError:
        return False
    if now.key != m.key:
        return False
    from onboard.core.profiles.render import write_rendered

    try:
        write_rendered(profile, Path(directory, cache.RENDERED))  # unchanged files keep their mtime
        _write_lorri_nix(directory, now.override)
        inputs = [cache.Input.of(p) for p in watched_paths(profile, directory, project)]
        known = read_facts(directory, m.rendered) or {}  # the same build: the same package set
        write_facts(directory, profile, project, files, now.rendered, now.override,
                    override_digest=str(known.get("override_hash", "")))
    except OSError:
        return False
    m.inputs = inputs
    m.nix_mtime_ns, m.nix_size = ident[1], ident[2]
    _lookup(m, profile, project, dirs)
    cache.refresh_manifest(m, directory)
    cache.write_atomic(os.path.join(directory, cache.INPUTS_SH),
                       _inputs_script(m))
    return True


def build_env(profile: Profile, emit: Emitter = discard, reason: str = "", project: Optional[str] = AUTO,
              dirs: Optional[list[str]] = None, python_venv: bool = True) -> EnvResult:
    """Render, evaluate and build the profile's shell; write the cache. Raises EnvError."""
    name = profile.name
    if not cache.valid_name(name):
        raise EnvError(f"profile name {name!r} cannot name a cache directory", "rename the profile")
    root = _resolve(project)
    directory = location(name, root, profile.path)
    if len(os.path.basename(os.path.dirname(directory))) > 250:
        raise EnvError(f"the project path {root} is too long to keep a cache for it", "use a shorter path")
    os.makedirs(directory, exist_ok=True)
    fd = _lock(directory)
    try:
        if reason != "forced":
            # another process may have built it while this one waited for the lock
            m = cache.read_manifest(directory)
            if m is not None and not cache.stale_reason(m, directory, profile_file=profile.path or None):
                return EnvResult(name=name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                                 manifest=m, project=root)
        return _build_locked(profile, directory, root, dirs, emit, reason, python_venv)
    finally:
        os.close(fd)


def _write_lorri_nix(directory: str, override: str) -> None:
    """What lorri mode evaluates: the rendered shell.nix with the same package set as
    onboard's own builds (ONBOARD_NIXPKGS_OVERRIDE applied)."""
    from onboard.core.profiles.render import nix_string

    args = "{ }" if not override else "{ nixpkgs = /. + " + nix_string(os.path.abspath(override)) + "; }"
    text = ("# onboard: what lorri evaluates for this profile (generated; do not edit)\n"
            f"import ./{cache.RENDERED}/shell.nix {args}\n")
    path = os.path.join(directory, cache.LORRI_NIX)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                return  # unchanged: lorri sees no change
    except OSError:
        pass
    cache.write_atomic(path, text)


def _build_locked(profile: Profile, directory: str, root: Optional[str], dirs: Optional[list[str]],
                  emit: Emitter, reason: str, python_venv: bool = True) -> EnvResult:
    from onboard.core.profiles.render import write_rendered

    name = profile.name
    action_id = f"env:{name}"
    emit(ActionStarted(index=0, total=1, action_id=action_id,
                       description=f"evaluate and build the shell of profile {name}"
                       + (f" ({reason})" if reason else "")))
    started = time.time()
    background: list[InputRoots] = []  # work of the build that runs beside the venv's sync
    try:
        backend, prog = choose_backend()
        ident = cache.program_identity(prog)
        if ident is None:
            raise EnvError(f"`{prog}` is not on PATH", "install Nix: onboard install")
        override = os.environ.get(cache.OVERRIDE_VAR, "")
        if override and not os.path.isdir(override):
            raise EnvError(f"{cache.OVERRIDE_VAR}={override} is not a directory",
                           "point it at a nixpkgs checkout, or unset it")
        # snapshot the inputs before Nix reads them: an edit during the build then
        # shows up as a change on the next entry
        try:
            write_rendered(profile, Path(directory, cache.RENDERED))
        except OSError as exc:
            raise EnvError(f"cannot render the profile: {exc.filename or ''}: {exc.strerror or exc}",
                           "restore the file or fix the profile")
        _write_lorri_nix(directory, override)
        snapshot_ns = time.time_ns()
        inputs = []
        for path in watched_paths(profile, directory, root):
            try:
                inputs.append(cache.Input.of(path))
            except OSError as exc:
                raise EnvError(f"cannot read {path}: {exc.strerror}", "restore the file or fix the profile")
        m = cache.Manifest()
        files = fill_identity(m, profile, root, backend, prog, ident)
        if backend == "flake":
            model, store_paths = build_flake(name, directory, cache.which("nix") or "nix", override,
                                             emit, action_id, background)
        else:
            model, store_paths = build_nix_shell(name, directory, override, emit, action_id)
        from onboard.core.python.envhook import after_build

        # a locked Python: its venv, synced exactly (not for --hermetic, which uses the store's)
        after_build(profile, model, directory, root, sync=python_venv)
        m.bash = os.path.realpath(cache.which("bash") or "/bin/bash")
        m.inputs = inputs
        _lookup(m, profile, root, dirs)
        m.store_paths = store_paths
        m.built = time.time()
        env_sh = os.path.join(directory, cache.ENV_SH)
        cache.write_atomic(env_sh, render_env_script(model, name))
        cache.write_atomic(os.path.join(directory, cache.INPUTS_SH), _inputs_script(m))
        cache.write_atomic(os.path.join(directory, cache.BASHRC), render_bashrc(name, env_sh))
        for job in background:
            job.join()  # the inputs' GC roots: the next evaluation works offline
        digest = next((j.override_hash for j in background if j.override_hash), None)
        write_facts(directory, profile, root, files, m.rendered, override, override_digest=digest)
        # env.sh dates from the input snapshot, not the end of the build: the direnv loader's
        # `input -nt env.sh` then sees an edit made while Nix was building
        os.utime(env_sh, ns=(snapshot_ns, snapshot_ns))
        cache.write_atomic(os.path.join(directory, cache.MANIFEST), m.dumps())  # the commit point
        _clear_stale(directory)
    except EnvError as exc:
        for job in background:
            job.join()
        from onboard.core.python.envhook import explain

        explain(profile, exc)  # a wrong hash in the lock: said as the package's
        if not exc.where:
            from onboard.core.profiles.diagnose import locate

            exc.where = locate(profile, exc.message + "\n" + "\n".join(exc.log))
        emit(ActionFailed(action_id=action_id, error=exc.message, hint=exc.hint))
        raise
    emit(ActionFinished(action_id=action_id, status="done",
                        message=f"built in {time.time() - started:.1f} s"))
    return EnvResult(name=name, directory=directory, env_sh=env_sh, manifest=m, rebuilt=True, reason=reason,
                     project=root)


def _inputs_script(m: cache.Manifest) -> str:
    import onboard

    return render_inputs_script([i.path for i in m.inputs] + [m.nix_path], m.override,
                                (os.path.realpath(onboard.__file__),))


def _restamp(directory: str, m: cache.Manifest) -> None:
    """env.sh newer than every file the direnv loader compares it with (a fresh
    environment whose tools were only touched would otherwise send every load here)."""
    import onboard

    env_sh = os.path.join(directory, cache.ENV_SH)
    try:
        newest = max(os.stat(p).st_mtime_ns for p in [i.path for i in m.inputs] + [os.path.realpath(onboard.__file__)])
        if os.stat(env_sh).st_mtime_ns > newest:
            return
        stamp = max(time.time_ns(), newest + 1)
        for name in (cache.ENV_SH, cache.INPUTS_SH):
            os.utime(os.path.join(directory, name), ns=(stamp, stamp))
    except (OSError, ValueError):
        pass


LORRI_STAMP = "lorri.stamp"


def render_for_lorri(profile: Profile, project: Optional[str] = AUTO, dirs: Optional[list[str]] = None) -> str:
    """Render what lorri mode evaluates (no Nix runs): the profile's files and lorri.nix in
    the project's cache directory, the inputs the loader watches, and a stamp newer than
    them. Returns lorri.nix's path. Raises OSError when the profile's files cannot be read."""
    from onboard.core.profiles.render import write_rendered

    root = _resolve(project)
    directory = location(profile.name, root, profile.path)
    os.makedirs(directory, exist_ok=True)
    fd = _lock(directory)
    try:
        write_rendered(profile, Path(directory, cache.RENDERED))
        override = os.environ.get(cache.OVERRIDE_VAR, "")
        _write_lorri_nix(directory, override)
        stamp_ns = time.time_ns()  # after the rendered files, before the inputs are read
        m = cache.Manifest()
        m.override = override
        m.nix_path = os.path.realpath(cache.which("nix") or cache.which("nix-shell") or "/nonexistent")
        m.inputs = [cache.Input.of(p) for p in watched_paths(profile, directory, root)]
        cache.write_atomic(os.path.join(directory, cache.INPUTS_SH), _inputs_script(m))
        with open(os.path.join(directory, LORRI_STAMP), "w", encoding="utf-8") as fh:
            fh.write(f"{stamp_ns}\n")
        os.utime(os.path.join(directory, LORRI_STAMP), ns=(stamp_ns, stamp_ns))
        _clear_stale(directory)
    finally:
        os.close(fd)
    return os.path.join(directory, cache.LORRI_NIX)


def mark_stale(directory: str, why: str) -> None:
    try:
        cache.write_atomic(os.path.join(directory, cache.STALE), why.replace("\n", " ") + "\n")
    except OSError:
        pass


def _clear_stale(directory: str) -> None:
    try:
        os.unlink(os.path.join(directory, cache.STALE))
    except OSError:
        pass


def last_good(directory: str) -> Optional[cache.Manifest]:
    """The manifest of the environment in `directory` if it can still be entered (env.sh
    present, every store path it needs still in the store)."""
    m = cache.read_manifest(directory)
    if m is None or not os.path.isfile(os.path.join(directory, cache.ENV_SH)):
        return None
    if not m.store_paths or not all(os.path.exists(p) for p in m.store_paths):
        return None
    return m


def fallback_allowed(no_fallback: bool = False) -> bool:
    """--no-fallback, or ONBOARD_NO_FALLBACK=1 (the default when CI is set), turns the
    fallback to the last good environment into an error."""
    if no_fallback:
        return False
    value = os.environ.get("ONBOARD_NO_FALLBACK")
    if value is None:
        return not os.environ.get("CI")
    return value.strip().lower() in ("", "0", "no", "false", "off")


def fallback(directory: str, name: str, why: str, project: Optional[str] = None,
             error: Optional[EnvError] = None) -> Optional[EnvResult]:
    """This project's last good environment of `name` (the cache directory is the
    project's own: never another project's), marked stale with `why`; None without one."""
    good = last_good(directory)
    if good is None:
        return None
    mark_stale(directory, why)
    return EnvResult(name=name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                     manifest=good, reason=why, fallback=True, error=error, project=project)


def ensure_env(profile: Profile, emit: Emitter = discard, force: bool = False,
               project: Union[str, None] = AUTO, dirs: Optional[list[str]] = None,
               allow_fallback: Optional[bool] = None, python_venv: bool = True) -> EnvResult:
    """A fresh environment for `profile` in `project` (default: the root found from the
    current directory): the cache when its identity holds, else a rebuild. When the rebuild
    fails and fallback is allowed (fallback_allowed()) and this project has a last good
    environment, that one is returned with fallback=True; otherwise EnvError."""
    root = _resolve(project)
    directory = location(profile.name, root, profile.path)
    m = cache.read_manifest(directory)
    if force:
        reason = "forced"
    elif m is None:
        reason = "not built yet"
    else:
        reason = cache.stale_reason(m, directory, profile_file=profile.path or None)
        if reason and _same_identity(profile, root, m, directory, dirs):
            reason = ""
    if m is not None and not reason:
        from onboard.core.python.envhook import on_entry

        if python_venv:
            on_entry(directory)  # a locked Python whose venv is missing: made again from the store
        _clear_stale(directory)
        _restamp(directory, m)
        return EnvResult(name=profile.name, directory=directory,
                         env_sh=os.path.join(directory, cache.ENV_SH), manifest=m, project=root)
    try:
        return build_env(profile, emit, reason, project=root, dirs=dirs, python_venv=python_venv)
    except EnvError as exc:
        if not (fallback_allowed() if allow_fallback is None else allow_fallback):
            raise
        why = f"{exc.where}: {exc.message}" if exc.where else exc.message
        got = fallback(directory, profile.name, why, root, exc)
        if got is None:
            raise
        return got
