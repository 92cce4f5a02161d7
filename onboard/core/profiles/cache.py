"""The per-profile environment cache: where it lives, what it records, whether it is fresh.

Layout (a contract: the direnv loader reads it in pure bash):

    $ONBOARD_CACHE_DIR or $XDG_CACHE_HOME/onboard
      env/<profile-name>/
        env.sh       the environment, to source from bash (exports, functions, shellHook)
        inputs.sh    ONBOARD_INPUTS=( '/abs/file' ... ): every file whose change must rebuild
        gcroot       GC root (a symlink into /nix/store) keeping the environment alive
        manifest     what the environment was built from (the staleness key, below)
        bashrc       rcfile of the interactive `onboard shell`
        flake/       the rendered flake.nix, flake.lock and shell.nix

The staleness key: every watched file (mtime_ns + size recorded; when they change the
file is hashed again and only a changed sha256 makes the cache stale), the Nix binary's
real path + mtime + size (a Nix upgrade rebuilds), the system (machine + platform),
the cache format version, onboard's version, the ONBOARD_NIXPKGS_OVERRIDE value, and
the GC root (missing or dangling: stale).

This module is on the warm path of `onboard shell`: it imports only os and sys at the
top (hashlib only when a file's stat changed), and uses no pathlib, dataclasses or json.
"""

from __future__ import annotations

import os
import sys

FORMAT_VERSION = "1"
MAGIC = "onboard-env-cache"
OVERRIDE_VAR = "ONBOARD_NIXPKGS_OVERRIDE"
BACKEND_VAR = "ONBOARD_NIX_BACKEND"

ENV_SH = "env.sh"
INPUTS_SH = "inputs.sh"
GCROOT = "gcroot"
MANIFEST = "manifest"
BASHRC = "bashrc"
RENDERED = "flake"


# cache_root() and state_root() mirror onboard.core.paths.cache_dir()/state_dir() (same rules)
# in plain strings: this module is on the warm path, which does not import pathlib.
def cache_root() -> str:
    override = os.environ.get("ONBOARD_CACHE_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and xdg.startswith("/"):
        return os.path.join(xdg, "onboard")
    return os.path.join(os.path.expanduser("~"), ".cache", "onboard")


def envs_root() -> str:
    return os.path.join(cache_root(), "env")


def env_dir(name: str) -> str:
    return os.path.join(envs_root(), name)


def valid_name(name: str) -> bool:
    """A profile name usable as a directory name (the loader enforces stricter rules)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name \
        and "\n" not in name


def system_id() -> str:
    return f"{os.uname().machine} {sys.platform}"


def onboard_version() -> str:
    from onboard import __version__

    return __version__


def which(prog: str, path: str | None = None) -> str | None:
    """First executable `prog` on PATH (shutil.which without importing shutil)."""
    for d in (os.environ.get("PATH", "") if path is None else path).split(os.pathsep):
        if not d:
            continue
        cand = os.path.join(d, prog)
        if os.access(cand, os.X_OK) and not os.path.isdir(cand):
            return cand
    return None


def program_identity(prog: str) -> tuple[str, int, int] | None:
    """(real path, mtime_ns, size) of `prog` found on PATH, or None."""
    found = which(prog)
    if not found:
        return None
    real = os.path.realpath(found)
    try:
        st = os.stat(real)
    except OSError:
        return None
    return real, st.st_mtime_ns, st.st_size


def sha256_file(path: str) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


class Input:
    """A watched file as recorded when the environment was built."""

    __slots__ = ("path", "mtime_ns", "size", "sha256")

    def __init__(self, path: str, mtime_ns: int, size: int, sha256: str) -> None:
        self.path, self.mtime_ns, self.size, self.sha256 = path, mtime_ns, size, sha256

    @classmethod
    def of(cls, path: str) -> "Input":
        st = os.stat(path)
        return cls(path, st.st_mtime_ns, st.st_size, sha256_file(path))

    def line(self) -> str:
        return f"input {self.mtime_ns} {self.size} {self.sha256} {self.path}"


class Manifest:
    """What an environment was built from. Text, one `key value` per line; paths last."""

    __slots__ = ("name", "profile", "format", "version", "system", "override", "backend", "nix_prog",
                 "nix_path", "nix_mtime_ns", "nix_size", "bash", "key", "built", "store_paths", "inputs")

    def __init__(self) -> None:
        self.name = ""
        self.profile = ""  # the profile's YAML file
        self.format = FORMAT_VERSION
        self.version = ""
        self.system = ""
        self.override = ""
        self.backend = ""  # flake | nix-shell
        self.nix_prog = ""  # the program the backend runs: nix | nix-shell
        self.nix_path = ""
        self.nix_mtime_ns = 0
        self.nix_size = 0
        self.bash = ""
        self.key = ""
        self.built = 0.0
        self.store_paths: list[str] = []
        self.inputs: list[Input] = []

    # -- text --------------------------------------------------------------------------
    def dumps(self) -> str:
        lines = [f"{MAGIC} {self.format}", f"name {self.name}", f"profile {self.profile}",
                 f"version {self.version}", f"system {self.system}", f"override {self.override}",
                 f"backend {self.backend}", f"nixprog {self.nix_prog}",
                 f"nix {self.nix_mtime_ns} {self.nix_size} {self.nix_path}", f"bash {self.bash}",
                 f"key {self.key}", f"built {self.built:.3f}"]
        lines += [f"store {p}" for p in self.store_paths]
        lines += [i.line() for i in self.inputs]
        return "\n".join(lines) + "\n"

    @classmethod
    def loads(cls, text: str) -> "Manifest | None":
        lines = text.split("\n")
        if not lines or lines[0] != f"{MAGIC} {FORMAT_VERSION}":
            return None
        m = cls()
        try:
            for line in lines[1:]:
                if not line:
                    continue
                k, _, v = line.partition(" ")
                if k == "input":
                    mt, size, sha, path = v.split(" ", 3)
                    m.inputs.append(Input(path, int(mt), int(size), sha))
                elif k == "store":
                    m.store_paths.append(v)
                elif k == "nix":
                    mt, size, path = v.split(" ", 2)
                    m.nix_mtime_ns, m.nix_size, m.nix_path = int(mt), int(size), path
                elif k == "built":
                    m.built = float(v)
                elif k == "nixprog":
                    m.nix_prog = v
                elif k in ("name", "profile", "version", "system", "override", "backend", "bash", "key"):
                    setattr(m, k, v)
        except ValueError:
            return None
        return m


def read_manifest(directory: str) -> Manifest | None:
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8", errors="surrogateescape") as fh:
            return Manifest.loads(fh.read())
    except OSError:
        return None


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` atomically (never on the warm path: only when (re)building)."""
    from onboard.core.engine.fsutil import atomic_write

    atomic_write(path, text.encode("utf-8", "surrogateescape"), mode=mode)


def gcroot_alive(directory: str) -> bool:
    """The GC root exists and resolves to an existing store path."""
    root = os.path.join(directory, GCROOT)
    return os.path.islink(root) and os.path.exists(root)


def stale_reason(m: Manifest, directory: str, profile_file: str | None = None,
                 refresh: bool = True) -> str:
    """Why the cached environment described by `m` must be rebuilt; "" when it is fresh.

    A watched file whose stat changed is hashed again: same content means fresh (and,
    with `refresh`, its new stat is recorded and env.sh is touched so that loaders
    comparing mtimes agree). Cheap: a handful of stats when nothing changed.
    """
    if m.format != FORMAT_VERSION:
        return "the cache format changed"
    if profile_file is not None and os.path.realpath(profile_file) != m.profile:
        return f"the profile is now {profile_file} (was {m.profile})"
    if m.version != onboard_version():
        return f"onboard was upgraded ({m.version} -> {onboard_version()})"
    if m.system != system_id():
        return f"the system changed ({m.system} -> {system_id()})"
    if m.override != os.environ.get(OVERRIDE_VAR, ""):
        return f"{OVERRIDE_VAR} changed"
    wanted_backend = os.environ.get(BACKEND_VAR, "")
    if wanted_backend and wanted_backend != m.backend:
        return f"{BACKEND_VAR} asks for {wanted_backend} (built with {m.backend})"
    ident = program_identity(m.nix_prog or "nix")
    if ident is None:
        return f"{m.nix_prog or 'nix'} is no longer on PATH"
    if ident != (m.nix_path, m.nix_mtime_ns, m.nix_size):
        return f"Nix changed ({m.nix_path} -> {ident[0]})"
    if not gcroot_alive(directory):
        return "the GC root is gone"
    if m.bash and not os.access(m.bash, os.X_OK):
        return f"{m.bash} is gone (bash was upgraded or removed)"
    if not os.path.isfile(os.path.join(directory, ENV_SH)):
        return "env.sh is missing"
    changed = False
    for inp in m.inputs:
        try:
            st = os.stat(inp.path)
        except OSError:
            return f"{inp.path} is gone"
        if st.st_mtime_ns == inp.mtime_ns and st.st_size == inp.size:
            continue
        if st.st_size != inp.size:
            return f"{inp.path} changed"
        try:
            digest = sha256_file(inp.path)
        except OSError:
            return f"{inp.path} cannot be read"
        if digest != inp.sha256:
            return f"{inp.path} changed"
        inp.mtime_ns = st.st_mtime_ns
        changed = True
    if changed and refresh:
        _refresh(m, directory)
    return ""


def _refresh(m: Manifest, directory: str) -> None:
    """Record the new stats of inputs that were touched but not changed. Only under the build
    lock and only if no build replaced the manifest meanwhile (else a warm entry holding the
    old manifest would write it over the new one)."""
    import fcntl

    try:
        fd = os.open(os.path.join(directory, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a build is running: it writes a fresh manifest itself
        now = read_manifest(directory)
        if now is None or now.key != m.key or now.built != m.built:
            return
        try:
            write_atomic(os.path.join(directory, MANIFEST), m.dumps())
            # newer than every input, even one touched with a time in the future
            import time

            stamp = max([time.time_ns()] + [i.mtime_ns + 1 for i in m.inputs])
            for name in (ENV_SH, INPUTS_SH):
                os.utime(os.path.join(directory, name), ns=(stamp, stamp))
        except OSError:
            pass
    finally:
        os.close(fd)


# -- finding a profile without loading YAML (the warm path) -----------------------------

PROFILE_SUFFIXES = (".yaml", ".yml")


def profile_search_dirs(start: str | None = None) -> list[str]:
    """The loader's search order: $ONBOARD_PROFILES_DIR entries, then the first
    `profiles/` directory in `start` (default: cwd) or one of its parents."""
    dirs: list[str] = []
    for part in os.environ.get("ONBOARD_PROFILES_DIR", "").split(os.pathsep):
        part = part.strip()
        if part:
            d = os.path.abspath(os.path.expanduser(part))
            if d not in dirs:
                dirs.append(d)
    here = os.path.abspath(start or os.getcwd())
    while True:
        cand = os.path.join(here, "profiles")
        if os.path.isdir(cand):
            if cand not in dirs:
                dirs.append(cand)
            break
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    return dirs


def find_profile_file(name: str, start: str | None = None) -> str | None:
    for d in profile_search_dirs(start):
        for suffix in PROFILE_SUFFIXES:
            cand = os.path.join(d, name + suffix)
            if os.path.isfile(cand):
                return os.path.abspath(cand)
    return None


def project_of_profile(profile_file: str, start: str | None = None) -> str | None:
    """The project a profile belongs to when it was found in a `profiles/` directory at
    the root of a directory containing `start` (default: cwd): that root."""
    d = os.path.dirname(profile_file)
    if os.path.basename(d) != "profiles":
        return None
    root = os.path.dirname(d)
    here = os.path.abspath(start or os.getcwd())
    return root if here == root or here.startswith(root.rstrip("/") + "/") else None


# -- the project state the direnv loader reads (see generations.py) ----------------------

def state_root() -> str:
    override = os.environ.get("ONBOARD_STATE_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and xdg.startswith("/"):
        return os.path.join(xdg, "onboard")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "onboard")


def project_key(project: str) -> str:
    """The absolute project path with every "/" replaced by "%" (bash: ${PWD//\\//%})."""
    return os.path.abspath(project).replace("/", "%")


def project_dir(project: str) -> str:
    return os.path.join(state_root(), "projects", project_key(project))


def active_profile(start: str | None = None) -> tuple[str, str] | None:
    """(project dir, active profile name) of the project containing `start` (default:
    cwd): the nearest directory, going up, that has an active profile."""
    here = os.path.abspath(start or os.getcwd())
    root = os.path.join(state_root(), "projects")
    while True:
        try:
            with open(os.path.join(root, here.replace("/", "%"), "active"), encoding="utf-8") as fh:
                name = fh.read().strip()
            if name:
                return here, name
        except OSError:
            pass
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent
