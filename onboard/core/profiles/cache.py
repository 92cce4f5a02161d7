"""The environment cache: where each project's environments live, what identifies one,
whether it is fresh. The design is in docs/environments.md.

Layout (a contract: the direnv loader reads it in pure bash):

    $ONBOARD_CACHE_DIR or $XDG_CACHE_HOME/onboard
      env/<owner>/<profile-name>/    owner: the project root with "_" as "_u", then
                                     "/" as "_s" (bash: k=${ROOT//_/_u}; ${k//\\//_s}: no
                                     "%", which Nix's path: URLs refuse); without a
                                     project, "nop" and the profile file's directory
        env.sh       the environment, to source from bash (exports, functions, shellHook)
        inputs.sh    ONBOARD_INPUTS=( '/abs/file' ... ): every file whose change must be checked
        gcroot       GC root (a symlink into /nix/store) keeping the environment alive
        manifest     what the environment was built from (its identity, below)
        bashrc       rcfile of the interactive `onboard shell`
        facts.json   the profile after `extends` and the rendered files' hashes (onboard verify)
        flake/       the rendered flake.nix, flake.lock, shell.nix (+ bin/, python/)
        lorri.nix    what lorri mode evaluates (the rendered shell.nix, override applied)
        stale        present while this is a fallback: why the rebuild failed

Two projects never share a directory, so neither can read the other's environment.

Identity (the manifest's `key`, see build.key_of): the project, the profile chain, the
rendered files, Nix's path and version, the system, onboard's version, the override and the
backend. The warm check here compares stats only; a file whose stat changed is hashed, and
only a changed sha256 sends the entry to the slow path, which renders and compares the
rendered digest: a comment-only edit costs one render and no Nix.

This module is on the warm path of `onboard shell`: it imports only os and sys at the
top (hashlib only when a file's stat changed), and uses no pathlib, dataclasses or json.
"""

from __future__ import annotations

import os
import sys

FORMAT_VERSION = "2"
MAGIC = "onboard-env-cache"
OVERRIDE_VAR = "ONBOARD_NIXPKGS_OVERRIDE"
BACKEND_VAR = "ONBOARD_NIX_BACKEND"
DIRS_VAR = "ONBOARD_PROFILES_DIR"

ENV_SH = "env.sh"
INPUTS_SH = "inputs.sh"
GCROOT = "gcroot"
MANIFEST = "manifest"
BASHRC = "bashrc"
RENDERED = "flake"
LORRI_NIX = "lorri.nix"
STALE = "stale"


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

def project_key(project: str) -> str:
    """The absolute project path with every "/" replaced by "%" (bash: ${PWD//\\//%})."""
    return os.path.abspath(project).replace("/", "%")


def path_key(path: str) -> str:
    """An absolute path as one file name usable in a Nix path: URL ("_" -> "_u", then
    "/" -> "_s": one-to-one)."""
    return os.path.abspath(path).replace("_", "_u").replace("/", "_s")


def owner_key(project: str | None, profile_file: str = "") -> str:
    """The cache directory of a project's environments: its root's key; without a project,
    "nop" and the key of the profile file's directory."""
    if project:
        return path_key(project)
    return "nop" + path_key(os.path.dirname(os.path.realpath(profile_file)) if profile_file else "/")


def env_dir(owner: str, name: str) -> str:
    return os.path.join(envs_root(), owner, name)


def env_dirs(legacy: bool = False) -> list[tuple[str, str, str]]:
    """(owner, name, directory) of every environment in the cache; with `legacy`, ("",
    name, directory) of the per-name directories an older onboard left instead."""
    out = []
    try:
        owners = sorted(os.listdir(envs_root()))
    except OSError:
        return []
    for owner in owners:
        if not owner.startswith(("_s", "nop")):
            if legacy and os.path.isdir(os.path.join(envs_root(), owner)):
                out.append(("", owner, os.path.join(envs_root(), owner)))
            continue
        if legacy:
            continue
        try:
            names = sorted(os.listdir(os.path.join(envs_root(), owner)))
        except OSError:
            continue
        for name in names:
            d = env_dir(owner, name)
            if os.path.isdir(d):
                out.append((owner, name, d))
    return out


def valid_name(name: str) -> bool:
    """A profile name usable as a directory name (the loader enforces stricter rules)."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\0\n")


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


_TEXT = ("name", "profile", "project", "version", "system", "override", "backend", "bash", "key",
         "rendered", "nixversion", "dirsenv")


class Manifest:
    """What an environment was built from. Text, one `key value` per line; paths last."""

    __slots__ = ("name", "profile", "project", "format", "version", "system", "override", "backend",
                 "nix_prog", "nix_path", "nix_mtime_ns", "nix_size", "bash", "key", "built", "store_paths",
                 "inputs", "rendered", "nixversion", "dirsenv", "dirs", "absent", "sources")

    def __init__(self) -> None:
        self.name, self.key, self.built = "", "", 0.0
        self.profile = ""  # the profile's YAML file (real path)
        self.project = ""  # the project root ("" without a project)
        self.format = FORMAT_VERSION
        self.version = ""
        self.system = ""
        self.override = ""
        self.backend = ""  # flake | nix-shell
        self.nix_prog = ""  # the program the backend runs: nix | nix-shell
        self.nix_path = ""
        self.nix_mtime_ns = 0
        self.nix_size = 0
        self.nixversion = ""  # what `nix --version` said
        self.bash = ""
        self.rendered = ""  # sha256 over the rendered files
        self.dirsenv = ""  # $ONBOARD_PROFILES_DIR when the profile was looked up
        self.dirs: list[str] = []  # where the profile was looked up, in order
        self.store_paths: list[str] = []
        self.inputs: list[Input] = []
        self.absent: list[str] = []  # files whose appearance changes the lookup (a team config)
        self.sources: list[str] = []  # the profile's extends chain, child first

    def dumps(self) -> str:
        lines = [f"{MAGIC} {self.format}"]
        lines += [f"{k} {getattr(self, k)}" for k in _TEXT]
        lines += [f"nixprog {self.nix_prog}", f"nix {self.nix_mtime_ns} {self.nix_size} {self.nix_path}",
                  f"built {self.built:.3f}"]
        lines += [f"dir {d}" for d in self.dirs]
        lines += [f"source {s}" for s in self.sources]
        lines += [f"absent {a}" for a in self.absent]
        lines += [f"store {p}" for p in self.store_paths]
        lines += [i.line() for i in self.inputs]
        return "\n".join(lines) + "\n"

    @classmethod
    def loads(cls, text: str) -> "Manifest | None":
        lines = text.split("\n")
        if not lines or lines[0] != f"{MAGIC} {FORMAT_VERSION}":
            return None
        m = cls()
        lists = {"store": m.store_paths, "dir": m.dirs, "source": m.sources, "absent": m.absent}
        try:
            for line in lines[1:]:
                if not line:
                    continue
                k, _, v = line.partition(" ")
                if k == "input":
                    mt, size, sha, path = v.split(" ", 3)
                    m.inputs.append(Input(path, int(mt), int(size), sha))
                elif k in lists:
                    lists[k].append(v)
                elif k == "nix":
                    mt, size, path = v.split(" ", 2)
                    m.nix_mtime_ns, m.nix_size, m.nix_path = int(mt), int(size), path
                elif k == "built":
                    m.built = float(v)
                elif k == "nixprog":
                    m.nix_prog = v
                elif k in _TEXT:
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


def gcroot_alive(directory: str, name: str = GCROOT) -> bool:
    """The GC root exists and resolves to an existing store path."""
    return os.path.islink(os.path.join(directory, name)) and os.path.exists(os.path.join(directory, name))


def find_in(dirs: list[str], name: str) -> str | None:
    for d in dirs:
        for suffix in PROFILE_SUFFIXES:
            cand = os.path.join(d, name + suffix)
            if os.path.isfile(cand):
                return os.path.realpath(cand)
    return None


def lookup_reason(m: Manifest) -> str:
    """Why looking the profile up again could give another file ("" when it cannot)."""
    if os.environ.get(DIRS_VAR, "") != m.dirsenv:
        return f"{DIRS_VAR} changed"
    for a in m.absent:
        if os.path.exists(a):
            return f"{a} appeared"
    found = find_in(m.dirs, m.name)
    if found != m.profile:
        return f"the profile is now {found} (was {m.profile})" if found else f"{m.profile} is gone"
    return ""


def inputs_reason(inputs: list[Input]) -> tuple[str, bool]:
    """(why an input changed or "", whether a stat changed with the same content: the
    Input objects then carry the new stat)."""
    touched = False
    for inp in inputs:
        try:
            st = os.stat(inp.path)
        except OSError:
            return f"{inp.path} is gone", touched
        if st.st_mtime_ns == inp.mtime_ns and st.st_size == inp.size:
            continue
        if st.st_size != inp.size:
            return f"{inp.path} changed", touched
        try:
            digest = sha256_file(inp.path)
        except OSError:
            return f"{inp.path} cannot be read", touched
        if digest != inp.sha256:
            return f"{inp.path} changed", touched
        inp.mtime_ns = st.st_mtime_ns
        touched = True
    return "", touched


def tool_reason(m: Manifest, directory: str) -> str:
    """Every cheap part of the identity but the inputs: "" when they all hold."""
    if m.format != FORMAT_VERSION:
        return "the cache format changed"
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
    return entry_reason(m, directory)


def entry_reason(m: Manifest, directory: str, root: str = GCROOT) -> str:
    """Why the environment in `directory` cannot be entered as it is ("" when it can)."""
    if not gcroot_alive(directory, root):
        return "the GC root is gone"
    if m.bash and not os.access(m.bash, os.X_OK):
        return f"{m.bash} is gone (bash was upgraded or removed)"
    if not os.path.isfile(os.path.join(directory, ENV_SH)):
        return "env.sh is missing"
    return ""


def stale_reason(m: Manifest, directory: str, profile_file: str | None = None,
                 refresh: bool = True) -> str:
    """Why the environment described by `m` cannot be entered without looking at the
    profile again ("" when it is fresh). Stats only; a file whose stat changed is hashed,
    and the same content is fresh (with `refresh` its new stat is recorded and env.sh
    touched, so loaders comparing mtimes agree)."""
    why = tool_reason(m, directory)
    if why:
        return why
    if profile_file is not None and os.path.realpath(profile_file) != m.profile:
        return f"the profile is now {profile_file} (was {m.profile})"
    if m.dirs:
        why = lookup_reason(m)
        if why:
            return why
    why, touched = inputs_reason(m.inputs)
    if why:
        return why
    if touched and refresh:
        refresh_manifest(m, directory)
    return ""


def refresh_manifest(m: Manifest, directory: str) -> None:
    """Record new stats of an environment whose identity did not change: under the build
    lock, and only if no build replaced the manifest meanwhile (a warm entry holding the
    old one must not write it over the new one)."""
    import fcntl
    import time

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
    """The loader's search order without a project: $ONBOARD_PROFILES_DIR entries, then the
    first `profiles/` directory in `start` (default: cwd) or one of its parents."""
    dirs: list[str] = []
    for part in os.environ.get(DIRS_VAR, "").split(os.pathsep):
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


# -- the project state the direnv loader reads (see generations.py) ----------------------

def state_root() -> str:
    override = os.environ.get("ONBOARD_STATE_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and xdg.startswith("/"):
        return os.path.join(xdg, "onboard")
    return os.path.join(os.path.expanduser("~"), ".local", "state", "onboard")


def project_dir(project: str) -> str:
    return os.path.join(state_root(), "projects", project_key(project))


def _first_line(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().strip()
    except OSError:
        return ""

def active_name(project: str) -> str:
    """The profile `onboard switch` made active in `project` ("" when none)."""
    return _first_line(os.path.join(project_dir(project), "active"))


def hold_of(project: str) -> tuple[int, str] | None:
    """(generation, profile name) the project is held at by `onboard rollback`, or None."""
    words = _first_line(os.path.join(project_dir(project), "hold")).split(" ", 1)
    if len(words) != 2 or not words[0].isdigit():
        return None
    return int(words[0]), words[1]


def generation_dir(project: str, number: int) -> str:
    return os.path.join(project_dir(project), "generations", str(number))


def active_profile(start: str | None = None) -> tuple[str, str] | None:
    """(project root, active profile name) of the project containing `start` (default:
    cwd), or None."""
    from onboard.core import project as projects

    root = projects.find_root(start)
    if root is None:
        return None
    name = active_name(root)
    return (root, name) if name else None
