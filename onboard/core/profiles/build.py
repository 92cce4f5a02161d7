"""Evaluate a profile's shell once and cache the environment (see cache.py for the layout).

`ensure_env` decides: the cached environment when it is fresh, else a rebuild under the
build lock (`build_env`), else, when the rebuild fails, the last good environment, said
out loud. Running Nix is nixrun.py; the environment's bash is envsh.py.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from onboard.core.events import ActionFailed, ActionFinished, ActionStarted, Emitter, Notice, discard
from onboard.core.profiles import cache
from onboard.core.profiles.envsh import render_bashrc, render_env_script, render_inputs_script
from onboard.core.profiles.nixrun import EnvError, build_flake, build_nix_shell, choose_backend

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile

__all__ = ["EnvError", "EnvResult", "ensure_env", "build_env", "last_good", "key_of", "watched_paths"]


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



def _lock(directory: str) -> int:
    import fcntl

    fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _unlock(fd: int) -> None:
    os.close(fd)


def key_of(m: cache.Manifest) -> str:
    import hashlib

    h = hashlib.sha256()
    for part in (m.format, m.name, m.profile, m.version, m.system, m.override, m.backend, m.nix_path,
                 str(m.nix_mtime_ns), str(m.nix_size)):
        h.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for i in m.inputs:
        h.update(f"{i.path}\0{i.sha256}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def watched_paths(profile: Profile, directory: str) -> list[str]:
    files = [os.path.realpath(f) for f in profile.watched_files()]
    lock = os.path.join(directory, cache.RENDERED, "flake.lock")
    if os.path.exists(lock):
        files.append(lock)
    seen: set[str] = set()
    return [f for f in files if not (f in seen or seen.add(f))]


def build_env(profile: Profile, emit: Emitter = discard, reason: str = "") -> EnvResult:
    """Render, evaluate and build the profile's shell; write the cache. Raises EnvError."""
    name = profile.name
    if not cache.valid_name(name):
        raise EnvError(f"profile name {name!r} cannot name a cache directory", "rename the profile")
    directory = cache.env_dir(name)
    action_id = f"env:{name}"
    os.makedirs(directory, exist_ok=True)
    fd = _lock(directory)
    try:
        if reason != "forced":
            # another process may have built it while this one waited for the lock
            m = cache.read_manifest(directory)
            if m is not None and not cache.stale_reason(m, directory, profile_file=profile.path or None):
                return EnvResult(name=name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                                 manifest=m)
        return _build_locked(profile, directory, action_id, emit, reason)
    finally:
        _unlock(fd)


def _build_locked(profile: Profile, directory: str, action_id: str, emit: Emitter, reason: str) -> EnvResult:
    from onboard.core.profiles.render import write_rendered

    name = profile.name
    emit(ActionStarted(index=0, total=1, action_id=action_id,
                       description=f"evaluate and build the shell of profile {name}"
                       + (f" ({reason})" if reason else "")))
    started = time.time()
    try:
        backend, prog = choose_backend()
        ident = cache.program_identity(prog)
        if ident is None:
            raise EnvError(f"`{prog}` is not on PATH", "install Nix: onboard install")
        # snapshot the inputs before Nix reads them: an edit during the build then
        # shows up as a change on the next entry
        write_rendered(profile, os.path.join(directory, cache.RENDERED))
        snapshot_ns = time.time_ns()
        inputs = []
        for path in watched_paths(profile, directory):
            try:
                inputs.append(cache.Input.of(path))
            except OSError as exc:
                raise EnvError(f"cannot read {path}: {exc.strerror}", "restore the file or fix the profile")
        override = os.environ.get(cache.OVERRIDE_VAR, "")
        if override and not os.path.isdir(override):
            raise EnvError(f"{cache.OVERRIDE_VAR}={override} is not a directory",
                           "point it at a nixpkgs checkout, or unset it")
        if backend == "flake":
            model, store_paths = build_flake(name, directory, cache.which("nix") or "nix", override,
                                             emit, action_id)
        else:
            model, store_paths = build_nix_shell(name, directory, override, emit, action_id)

        m = cache.Manifest()
        m.name = name
        m.profile = os.path.realpath(profile.path) if profile.path else ""
        m.version = cache.onboard_version()
        m.system = cache.system_id()
        m.override = override
        m.backend, m.nix_prog = backend, prog
        m.nix_path, m.nix_mtime_ns, m.nix_size = ident
        m.bash = os.path.realpath(cache.which("bash") or "/bin/bash")
        m.inputs = inputs
        m.store_paths = store_paths
        m.built = time.time()
        m.key = key_of(m)
        env_sh = os.path.join(directory, cache.ENV_SH)
        cache.write_atomic(env_sh, render_env_script(model, name))
        cache.write_atomic(os.path.join(directory, cache.INPUTS_SH),
                           render_inputs_script([i.path for i in inputs] + [m.nix_path]))
        cache.write_atomic(os.path.join(directory, cache.BASHRC), render_bashrc(name, env_sh))
        # env.sh dates from the input snapshot, not the end of the build: the direnv loader's
        # `input -nt env.sh` then sees an edit made while Nix was building
        os.utime(env_sh, ns=(snapshot_ns, snapshot_ns))
        cache.write_atomic(os.path.join(directory, cache.MANIFEST), m.dumps())  # the commit point
    except EnvError as exc:
        emit(ActionFailed(action_id=action_id, error=exc.message, hint=exc.hint))
        raise
    emit(ActionFinished(action_id=action_id, status="done",
                        message=f"built in {time.time() - started:.1f} s"))
    return EnvResult(name=name, directory=directory, env_sh=env_sh, manifest=m, rebuilt=True, reason=reason)


def last_good(directory: str) -> Optional[cache.Manifest]:
    """The manifest of the environment in `directory` if it can still be entered (env.sh
    present, every store path it needs still in the store)."""
    m = cache.read_manifest(directory)
    if m is None or not os.path.isfile(os.path.join(directory, cache.ENV_SH)):
        return None
    if not m.store_paths or not all(os.path.exists(p) for p in m.store_paths):
        return None
    return m


def ensure_env(profile: Profile, emit: Emitter = discard, force: bool = False) -> EnvResult:
    """A fresh environment for `profile`: the cache when it is fresh, else a rebuild. When
    the rebuild fails and a last good environment exists, that one is returned with
    fallback=True and a Notice says so; otherwise EnvError."""
    directory = cache.env_dir(profile.name)
    m = cache.read_manifest(directory)
    reason = "forced" if force else ("not built yet" if m is None else
                                     cache.stale_reason(m, directory, profile_file=profile.path or None))
    if m is not None and not reason:
        return EnvResult(name=profile.name, directory=directory,
                         env_sh=os.path.join(directory, cache.ENV_SH), manifest=m)
    try:
        return build_env(profile, emit, reason)
    except EnvError as exc:
        good = last_good(directory)
        if good is None:
            raise
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(good.built))
        emit(Notice(level="warn", action_id=f"env:{profile.name}",
                    message=f"could not rebuild profile {profile.name}: {exc.message}. "
                            f"Using the last good environment, built {when}, which is out of date "
                            f"({reason})."))
        return EnvResult(name=profile.name, directory=directory, env_sh=os.path.join(directory, cache.ENV_SH),
                         manifest=good, reason=reason, fallback=True, error=exc)
