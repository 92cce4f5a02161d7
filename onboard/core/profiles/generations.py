"""Per-project profile generations: `onboard switch`, `onboard rollback`, and their history.

State of a project (a contract: the direnv loader reads `active` and `hold` in pure bash):

    $XDG_STATE_HOME/onboard/projects/<key>/      key = the project root's absolute path
                                                 with every "/" replaced by "%"
      active              the active profile's name (one line), rewritten on every switch
                          and rollback; absent when no generation is current
      hold                "N NAME" while `onboard rollback` holds the project at generation
                          N; removed by `onboard switch`
      generations.json    the history: number, profile, time, store paths, key, current
      generations/<N>/    generation N's environment exactly as it was built: env.sh,
                          manifest, inputs.sh, facts.json, bashrc, python-venv (the plan of its locked
                          Python's venv), and GC roots (root, root-2, ...) holding its
                          closure (the wheelhouse too), so rollback is instant and offline

Every switch that changes the environment is a new generation; rollback makes an older
one current again and holds the project there: `onboard shell`, direnv and lorri load
that generation's env.sh, never evaluating, until the next `onboard switch`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Optional

from onboard.core.events import Emitter, Notice, discard
from onboard.core.profiles import cache
from onboard.core.profiles.facts import FACTS

if TYPE_CHECKING:
    from onboard.core.profiles.model import Profile

FORMAT = 1
GENERATIONS_JSON = "generations.json"
ACTIVE = "active"
HOLD = "hold"
ROOTS = "generations"
ENV_FILES = (cache.ENV_SH, cache.MANIFEST, cache.INPUTS_SH, FACTS)


class GenerationError(Exception):
    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass
class Generation:
    number: int
    profile: str
    time: float
    project: str = ""
    profile_file: str = ""
    store_paths: list[str] = field(default_factory=list)
    key: str = ""
    packages: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    current: bool = False
    held: bool = False  # current and held there by `onboard rollback`
    fallback: bool = False  # the profile could not be rebuilt: the last good env was used
    venv: str = ""  # the locked Python's venv its environment had (kept by gc while recorded)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["when"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.time))
        return d

    def roots_dir(self) -> str:
        return os.path.join(cache.project_dir(self.project), ROOTS, str(self.number))

    def alive(self) -> bool:
        """Every store path of this generation is still in the store."""
        return bool(self.store_paths) and all(os.path.exists(p) for p in self.store_paths)

    def enterable(self) -> bool:
        """Its recorded environment can be loaded as it was (env.sh kept, closure alive)."""
        return self.alive() and os.path.isfile(os.path.join(self.roots_dir(), cache.ENV_SH)) \
            and cache.read_manifest(self.roots_dir()) is not None

    def __str__(self) -> str:
        mark = "*" if self.current else " "
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.time))
        return f"{mark} {self.number:>3}  {when}  {self.profile}"


# -- files ----------------------------------------------------------------------------------

def projects_root() -> str:
    return os.path.join(cache.state_root(), "projects")


def _check_project(project: str) -> str:
    project = os.path.abspath(project)
    if not os.path.isdir(project):
        raise GenerationError(f"{project} is not a directory", "give the project directory: --project DIR")
    if len(cache.project_key(project)) > 255:
        raise GenerationError(f"the path {project} is too long to keep state for it",
                              "use a shorter project path")
    return project


def _load(project: str) -> tuple[list[Generation], int]:
    """(generations, current number or 0) of a project; ([], 0) without state."""
    path = os.path.join(cache.project_dir(project), GENERATIONS_JSON)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return [], 0
    gens = []
    names = set(Generation.__dataclass_fields__)
    for g in doc.get("generations", []):
        if isinstance(g, dict) and "number" in g and "profile" in g:
            g = {k: v for k, v in g.items() if k in names}
            g["project"] = doc.get("project", project)
            gens.append(Generation(**g))
    current = int(doc.get("current", 0) or 0)
    hold = cache.hold_of(project)
    for g in gens:
        g.current = g.number == current
        g.held = g.current and hold is not None and hold[0] == g.number
    return sorted(gens, key=lambda g: g.number), current


def _save(project: str, gens: list[Generation], current: int, hold: Optional[bool] = None) -> None:
    d = cache.project_dir(project)
    os.makedirs(d, exist_ok=True)
    items = []
    for g in sorted(gens, key=lambda g: g.number):
        item = asdict(g)
        item.pop("current", None)
        item.pop("held", None)
        item.pop("project", None)
        items.append(item)
    doc = {"format": FORMAT, "project": project, "current": current, "generations": items}
    cache.write_atomic(os.path.join(d, GENERATIONS_JSON), json.dumps(doc, indent=2) + "\n")
    active = os.path.join(d, ACTIVE)
    cur = next((g for g in gens if g.number == current), None)
    if cur is not None:
        cache.write_atomic(active, cur.profile + "\n")
    else:
        hold = False
        try:
            os.unlink(active)
        except FileNotFoundError:
            pass
    if hold and cur is not None:
        cache.write_atomic(os.path.join(d, HOLD), f"{cur.number} {cur.profile}\n")
    elif hold is False:
        try:
            os.unlink(os.path.join(d, HOLD))
        except FileNotFoundError:
            pass


class _Locked:
    """An exclusive lock on a project's state while it changes."""

    def __init__(self, project: str) -> None:
        self.dir = cache.project_dir(project)

    def __enter__(self) -> "_Locked":
        import fcntl

        os.makedirs(self.dir, exist_ok=True)
        self.fd = os.open(os.path.join(self.dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def add_roots(directory: str, paths: list[str]) -> None:
    """GC roots in `directory` (root, root-2, ...) for `paths` (which must exist)."""
    os.makedirs(directory, exist_ok=True)
    r = subprocess.run(["nix-store", "--realise", "--add-root", os.path.join(directory, "root"), *paths],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise GenerationError(f"could not add GC roots for the generation: {r.stderr.strip()}",
                              "check that Nix works: onboard doctor")


def drop_roots(directory: str) -> None:
    """Remove a directory of GC roots and the registrations Nix keeps for them."""
    forget_auto_roots([directory])
    shutil.rmtree(directory, ignore_errors=True)


def forget_auto_roots(prefixes: list[str]) -> int:
    """Remove Nix's indirect-root links (gcroots/auto/*) that point under `prefixes`.
    Nix would drop them once dangling; removing them now leaves nothing behind. Needs
    write access to the gcroots dir (single-user Nix, or root); otherwise left to Nix."""
    auto = os.path.join(os.environ.get("NIX_STATE_DIR", "/nix/var/nix"), "gcroots", "auto")
    prefixes = [os.path.abspath(p).rstrip("/") + "/" for p in prefixes]
    removed = 0
    try:
        entries = os.listdir(auto)
    except OSError:
        return 0
    for e in entries:
        link = os.path.join(auto, e)
        try:
            target = os.readlink(link)
        except OSError:
            continue
        if any((target + "/").startswith(p) or target.startswith(p) for p in prefixes):
            try:
                os.unlink(link)
                removed += 1
            except OSError:
                pass
    return removed


# -- operations -----------------------------------------------------------------------------

def list_generations(project: str) -> list[Generation]:
    return _load(os.path.abspath(project))[0]


def current_generation(project: str) -> Optional[Generation]:
    gens, cur = _load(os.path.abspath(project))
    return next((g for g in gens if g.number == cur), None)


def projects() -> list[str]:
    """Every project with state, by path."""
    out = []
    try:
        entries = sorted(os.listdir(projects_root()))
    except OSError:
        return []
    for e in entries:
        path = os.path.join(projects_root(), e, GENERATIONS_JSON)
        try:
            with open(path, encoding="utf-8") as fh:
                out.append(str(json.load(fh).get("project") or e.replace("%", "/")))
        except (OSError, ValueError):
            if os.path.isdir(os.path.join(projects_root(), e)):
                out.append(e.replace("%", "/"))
    return out


def list_all() -> list[Generation]:
    """The generations of every project (for `onboard profiles`)."""
    out: list[Generation] = []
    for p in projects():
        out.extend(list_generations(p))
    return out


def format_listing(entries: list[Generation]) -> list[str]:
    lines: list[str] = []
    last = None
    for g in sorted(entries, key=lambda g: (g.project, g.number)):
        if g.project != last:
            lines.append(f"{g.project}:")
            last = g.project
        notes = [] if g.alive() else ["store paths gone"]
        if g.held:
            notes.append("held: loaded as it was until `onboard switch`")
        elif g.current:
            notes.append("loaded")
        lines.append("  " + str(g) + "".join(f"  ({n})" for n in notes))
    return lines


def diff(old: Optional[Generation], new: Generation) -> list[str]:
    """What switching from `old` to `new` changes: packages and environment variables."""
    if old is None:
        return [f"+ profile {new.profile}"] + [f"+ {p}" for p in new.packages]
    lines = []
    if old.profile != new.profile:
        lines.append(f"profile {old.profile} -> {new.profile}")
    for p in sorted(set(old.packages) - set(new.packages)):
        lines.append(f"- {p}")
    for p in sorted(set(new.packages) - set(old.packages)):
        lines.append(f"+ {p}")
    for k in sorted(set(old.env) | set(new.env)):
        if old.env.get(k) != new.env.get(k):
            if k not in new.env:
                lines.append(f"- ${k}")
            elif k not in old.env:
                lines.append(f"+ ${k}={new.env[k]}")
            else:
                lines.append(f"~ ${k}: {old.env[k]} -> {new.env[k]}")
    if not lines and old.store_paths != new.store_paths:
        lines.append("the environment was rebuilt (same packages and variables)")
    return lines


def held(project: str) -> Optional[int]:
    """The generation `project` is held at by `onboard rollback`, or None."""
    h = cache.hold_of(os.path.abspath(project))
    return h[0] if h else None


def _record_env(gen: Generation, directory: str, store_paths: list[str]) -> None:
    """Copy the environment as built into the generation's own directory, with GC roots
    for its closure: what rollback loads, whatever happens to the cache later."""
    from onboard.core.profiles.envsh import render_bashrc

    roots = gen.roots_dir()
    if os.path.isdir(roots):
        drop_roots(roots)
    add_roots(roots, store_paths)
    for name in ENV_FILES:
        src = os.path.join(directory, name)
        if os.path.isfile(src):
            shutil.copy2(src, os.path.join(roots, name))
    env_sh = os.path.join(roots, cache.ENV_SH)
    cache.write_atomic(os.path.join(roots, cache.BASHRC), render_bashrc(gen.profile, env_sh))
    from onboard.core.python import venv as pyvenv

    plan = pyvenv.read_plan(directory)
    pyvenv.write_plan(roots, plan)  # the venv this generation's environment had
    gen.venv = plan.venv if plan is not None else ""


def restore_venv(gen: Generation) -> None:
    """Point the project's venv link back at the venv `gen` recorded, making it again offline
    from the generation's wheelhouse (in its closure) when it was deleted. Raises
    GenerationError when uv cannot make it."""
    from onboard.core.python import venv as pyvenv

    plan = pyvenv.read_plan(gen.roots_dir())
    if plan is None:
        return
    try:
        pyvenv.sync(plan)
    except pyvenv.SyncError as exc:
        raise GenerationError(f"the virtualenv of generation {gen.number} cannot be made again: {exc.message}",
                              exc.hint) from None


def switch(project: str, profile: Profile, emit: Emitter = discard,
           dirs: Optional[list[str]] = None) -> tuple[Generation, bool]:
    """Make `profile` the active one of `project`: build its environment if needed, then
    record a generation holding its own copy of that environment and its GC roots. Ends a
    hold. Returns (generation, created): not created when that exact environment is
    already current (and not held)."""
    from onboard.core.profiles.build import ensure_env

    project = _check_project(project)
    result = ensure_env(profile, emit=emit, project=project, dirs=dirs)
    store_paths = list(result.manifest.store_paths)
    with _Locked(project):
        gens, cur = _load(project)
        current = next((g for g in gens if g.number == cur), None)
        if current is not None and current.profile == profile.name and current.store_paths == store_paths \
                and current.key == result.manifest.key and current.enterable() and held(project) is None:
            return current, False
        number = max((g.number for g in gens), default=0) + 1
        gen = Generation(number=number, profile=profile.name, time=time.time(), project=project,
                         profile_file=result.manifest.profile, store_paths=store_paths,
                         key=result.manifest.key, packages=list(profile.packages), env=dict(profile.env),
                         current=True, fallback=result.fallback)
        _record_env(gen, result.directory, store_paths)
        for g in gens:
            g.current = False
        gens.append(gen)
        _save(project, gens, number, hold=False)
    return gen, True


def rollback(project: str, to: Optional[int] = None, emit: Emitter = discard) -> tuple[Generation, Generation]:
    """Make the previous generation (or number `to`) current again and hold the project
    there: no Nix evaluation, no network; its environment and closure are its own.
    Returns (from, to)."""
    project = os.path.abspath(project)
    with _Locked(project):
        gens, cur = _load(project)
        if not gens:
            raise GenerationError(f"{project} has no generations", "make a profile active first: onboard switch NAME")
        current = next((g for g in gens if g.number == cur), None)
        if to is None:
            older = [g for g in gens if g.number < cur]
            if not older:
                raise GenerationError(f"generation {cur} is the oldest of {project}: nothing to roll back to",
                                      "see them with `onboard profiles`")
            target = older[-1]
        else:
            found = next((g for g in gens if g.number == to), None)
            if found is None:
                raise GenerationError(f"{project} has no generation {to}",
                                      "numbers: " + ", ".join(str(g.number) for g in gens))
            target = found
        keep = target.enterable()
        if not keep:
            why = "its store paths are gone (garbage-collected outside onboard)" if not target.alive() \
                else "it has no recorded environment (made by an older onboard)"
            emit(Notice(level="warn", message=f"generation {target.number} cannot be loaded as it was: {why}; "
                                              f"entering builds profile {target.profile} as it is now"))
        _save(project, gens, target.number, hold=keep)
        target.current = True
        if current is not None:
            current.current = False
        if keep:
            try:
                restore_venv(target)  # ROOT/.venv is the generation's own venv again
            except GenerationError as exc:
                emit(Notice(level="warn", message=f"{exc.message}; {exc.hint}"))
    return (current or target), target


def delete_generations(project: str, numbers: list[int]) -> list[Generation]:
    """Drop the given generations (never the current one) and their GC roots."""
    project = os.path.abspath(project)
    with _Locked(project):
        gens, cur = _load(project)
        drop = [g for g in gens if g.number in numbers and g.number != cur]
        for g in drop:
            drop_roots(g.roots_dir())
        keep = [g for g in gens if g not in drop]
        _save(project, keep, cur)
    return drop


def forget_project(project: str) -> None:
    """Remove all of a project's state: generations, their GC roots, `active`."""
    d = cache.project_dir(project)
    forget_auto_roots([d])
    shutil.rmtree(d, ignore_errors=True)
